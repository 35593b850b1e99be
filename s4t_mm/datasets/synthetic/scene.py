"""Procedural indoor scenes and an analytic ray caster, in plain numpy.

World frame: metres, z up. The room is the axis-aligned box
``[0, sx] x [0, sy] x [0, sz]`` with the floor at ``z = 0``. The camera frame
follows OpenCV (x right, y down, z forward), so a surface facing the camera
has a normal with z < 0, as the task-map conventions require.

Rays are cast for all pixels at once; only the objects are looped over. Ray
directions are scaled so that their camera-z component is 1, which makes the
ray parameter ``t`` of a hit its z-buffer depth (not the ray length).

Geometry presets (:data:`GEOMETRIES`) are the structural counterpart of the
appearance styles: each is a :class:`SceneDistribution` that changes what is
in the picture (camera, layout, content) the way real datasets differ, not
how it looks. ``'source'`` is the distribution the source model trains on;
the others are target shifts (see each entry's comment), and
``'narrow_fov_high'`` is kept for choosing hyper-parameters only.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

CLASS_NAMES = ('floor', 'wall', 'ceiling', 'box', 'sphere', 'cylinder')
FLOOR, WALL, CEILING, BOX, SPHERE, CYLINDER = range(len(CLASS_NAMES))
OBJECT_CLASSES = {'box': BOX, 'sphere': SPHERE, 'cylinder': CYLINDER}

# Hits closer than this along a ray are ignored, so that shadow rays leaving
# a surface do not hit the surface they start on.
_T_MIN = 1e-6


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with square pixels and no roll.

    Args:
        position: (3,) world position in metres.
        yaw: heading about the world z axis in radians; 0 looks along +x.
        pitch: elevation in radians; positive looks up.
        fov_x: horizontal field of view in radians.
    """
    position: np.ndarray
    yaw: float
    pitch: float
    fov_x: float

    def rotation(self) -> np.ndarray:
        """(3, 3) camera-to-world rotation; columns are the camera's x (right),
        y (down) and z (forward) axes in world coordinates."""
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        forward = np.array([cp * cy, cp * sy, sp])
        right = np.array([sy, -cy, 0.0])
        down = np.cross(forward, right)
        return np.stack([right, down, forward], axis=1)

    def focal_length(self, width: int) -> float:
        """Focal length in pixels for an image ``width`` pixels wide."""
        return 0.5 * width / np.tan(0.5 * self.fov_x)

    def intrinsics(self, height: int, width: int) -> np.ndarray:
        """(3, 3) pinhole matrix of an ``height`` x ``width`` image, pixel
        centres at integer coordinates (OpenCV's convention): the rays of
        :func:`camera_rays` pass through ``K^-1 (column, row, 1)``."""
        f = self.focal_length(width)
        return np.array([[f, 0.0, 0.5 * width - 0.5],
                         [0.0, f, 0.5 * height - 0.5],
                         [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class SceneObject:
    """A primitive resting in the room, rotated about the vertical axis.

    Args:
        kind: 'box', 'sphere' or 'cylinder' (vertical axis, capped).
        center: (3,) world position of the centre.
        half_size: (3,) half extents along the object's own axes: box
            (hx, hy, hz); sphere (r, r, r); cylinder (r, r, half height).
        yaw: rotation about the world z axis in radians (also turns the
            texture of spheres and cylinders).
    """
    kind: str
    center: np.ndarray
    half_size: np.ndarray
    yaw: float = 0.0

    def __post_init__(self):
        if self.kind not in OBJECT_CLASSES:
            raise ValueError(f'unknown object kind {self.kind!r}; valid '
                             f'kinds: {", ".join(OBJECT_CLASSES)}')

    @property
    def class_id(self) -> int:
        return OBJECT_CLASSES[self.kind]

    def to_local(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate world vectors (..., 3) into the object's frame."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        x, y = vectors[..., 0], vectors[..., 1]
        return np.stack([c * x + s * y, -s * x + c * y, vectors[..., 2]], -1)

    def to_world(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate vectors (..., 3) from the object's frame into the world."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        x, y = vectors[..., 0], vectors[..., 1]
        return np.stack([c * x - s * y, s * x + c * y, vectors[..., 2]], -1)


@dataclass(frozen=True)
class Scene:
    """Room size (3,), the objects in it and the camera looking at them."""
    room_size: np.ndarray
    objects: Tuple[SceneObject, ...]
    camera: Camera


@dataclass(frozen=True)
class SceneDistribution:
    """Ranges the scene sampler draws from (metres and radians).

    Objects are placed mostly inside the camera's horizontal field of view,
    so that every image shows several of them. ``room_y`` (the room's extent
    along y, default: drawn from ``room_xy`` like x) makes rooms elongated;
    ``object_weights`` (relative frequency per object kind, default: all
    kinds equally likely) shifts the class frequencies. Both defaults draw
    from the generator exactly as the source distribution always did, so the
    source scenes stay bit-identical.
    """
    room_xy: Tuple[float, float] = (4.0, 8.0)
    room_height: Tuple[float, float] = (2.6, 3.4)
    num_objects: Tuple[int, int] = (3, 8)
    camera_height: Tuple[float, float] = (1.0, 1.8)
    camera_pitch: Tuple[float, float] = (np.deg2rad(-25.0), np.deg2rad(8.0))
    fov_x: Tuple[float, float] = (np.deg2rad(55.0), np.deg2rad(75.0))
    min_view_distance: float = 2.5
    object_distance: Tuple[float, float] = (1.2, 5.0)
    on_floor_prob: float = 0.75
    half_sizes: Dict[str, Tuple[Tuple[float, float], ...]] = field(
        default_factory=lambda: dict(
            box=((0.15, 0.6), (0.15, 0.6), (0.15, 0.6)),
            sphere=((0.15, 0.5), ),
            cylinder=((0.1, 0.4), (0.2, 0.8))))
    room_y: Optional[Tuple[float, float]] = None
    object_weights: Optional[Dict[str, float]] = None

    def __post_init__(self):
        weights = self.object_weights
        if weights is None:
            return
        unknown = sorted(set(weights) - set(OBJECT_CLASSES))
        if unknown or min(weights.values()) < 0 or not sum(weights.values()):
            raise ValueError(f'bad object_weights {weights!r}; map kinds '
                             f'of {", ".join(OBJECT_CLASSES)} to weights '
                             f'>= 0 with a positive sum')

    def kind_probabilities(self) -> np.ndarray:
        """Probability of each kind of :data:`OBJECT_CLASSES`, in order."""
        weights = self.object_weights or dict.fromkeys(OBJECT_CLASSES, 1.0)
        p = np.array([weights.get(kind, 0.0) for kind in OBJECT_CLASSES])
        return p / p.sum()


def _scaled_sizes(scale: float) -> Dict[str, Tuple[Tuple[float, float], ...]]:
    """The source's object half-size ranges times ``scale``."""
    return {
        kind: tuple((lo * scale, hi * scale) for lo, hi in ranges)
        for kind, ranges in SceneDistribution().half_sizes.items()
    }


# Each preset imitates one real cross-dataset shift; all but 'source' are
# target geometries, 'narrow_fov_high' is for hyper-parameter selection only.
GEOMETRIES: Dict[str, SceneDistribution] = dict(
    # the rooms the source model is trained on: 4-8 m rooms, 3-8 pieces of
    # furniture, a 55-75 deg lens at eye level (an RGB-D sensor carried
    # through homes and offices, as in NYUD-v2)
    source=SceneDistribution(),
    # another camera: a 95-115 deg wide-angle lens 0.4-0.8 m above the
    # floor tilted level or up (a robot or action camera instead of a
    # handheld Kinect): more of the room in view, objects smaller and seen
    # from below, more ceiling
    wide_fov_low=SceneDistribution(
        camera_height=(0.4, 0.8),
        camera_pitch=(np.deg2rad(-8.0), np.deg2rad(18.0)),
        fov_x=(np.deg2rad(95.0), np.deg2rad(115.0))),
    # other content density and scale: 12-20 objects of half the source's
    # size (cluttered kitchens and bedrooms full of small items instead of
    # a few pieces of furniture)
    cluttered_small=SceneDistribution(
        num_objects=(12, 20),
        object_distance=(0.8, 4.0),
        half_sizes=_scaled_sizes(0.5)),
    # another layout: long narrow corridors (8-14 m x 1.8-2.6 m, low
    # ceilings) with a few small objects along them, as in the office
    # buildings of Taskonomy; the view runs down the corridor, so depth
    # spans far and walls fill the sides
    corridor=SceneDistribution(
        room_xy=(8.0, 14.0),
        room_y=(1.8, 2.6),
        room_height=(2.4, 2.8),
        num_objects=(2, 5),
        object_distance=(1.2, 9.0),
        min_view_distance=5.0,
        half_sizes=_scaled_sizes(0.6)),
    # another layout and scale: large halls (12-20 m square, 4.5-6.5 m
    # high) with 6-12 large objects spread far out (lobbies, atria,
    # warehouses); depths about twice those of the source
    hall=SceneDistribution(
        room_xy=(12.0, 20.0),
        room_height=(4.5, 6.5),
        num_objects=(6, 12),
        min_view_distance=6.0,
        object_distance=(3.0, 14.0),
        on_floor_prob=0.9,
        half_sizes=_scaled_sizes(1.5)),
    # other class frequencies: the same rooms furnished mostly with round
    # things (lamps, stools, pillars, plants) and few boxes, as when a
    # dataset's dominant classes are rare in another
    round_objects=SceneDistribution(
        object_weights=dict(box=0.1, sphere=0.45, cylinder=0.45)),
    # validation only: a wall-mounted camera with a normal 35-50 deg lens
    # 2.0-2.5 m up looking down 25-50 deg (surveillance / overhead views):
    # mostly floor and object tops, few walls, no ceiling
    narrow_fov_high=SceneDistribution(
        camera_height=(2.0, 2.5),
        camera_pitch=(np.deg2rad(-50.0), np.deg2rad(-25.0)),
        fov_x=(np.deg2rad(35.0), np.deg2rad(50.0))),
)


def get_geometry(name: str) -> SceneDistribution:
    """The scene distribution of geometry preset ``name``."""
    if name not in GEOMETRIES:
        raise ValueError(f'unknown geometry {name!r}; valid geometries: '
                         f'{", ".join(GEOMETRIES)}')
    return GEOMETRIES[name]


def _sample_object_size(rng, kind, dist):
    ranges = dist.half_sizes[kind]
    values = [rng.uniform(lo, hi) for lo, hi in ranges]
    if kind == 'box':
        return np.array(values)
    if kind == 'sphere':
        return np.array(values * 3)
    return np.array([values[0], values[0], values[1]])


def sample_scene(rng: np.random.Generator,
                 dist: SceneDistribution = SceneDistribution()) -> Scene:
    """Draw a room, a camera inside it and objects in front of it (3-8 for
    the default distribution).

    The camera is kept out of every object (0.3 m clearance) and looks
    towards the room's interior (at least ``min_view_distance`` to the wall
    straight ahead), so no image is just a wall.
    """
    room = np.array([rng.uniform(*dist.room_xy),
                     rng.uniform(*(dist.room_y or dist.room_xy)),
                     rng.uniform(*dist.room_height)])
    while True:
        cam_xy = rng.uniform(0.5, room[:2] - 0.5)
        yaw = rng.uniform(0.0, 2.0 * np.pi)
        heading = np.array([np.cos(yaw), np.sin(yaw)])
        ahead = _distance_to_box_wall(cam_xy, heading, room[:2])
        if ahead >= dist.min_view_distance:
            break
    camera = Camera(
        position=np.array([*cam_xy, rng.uniform(*dist.camera_height)]),
        yaw=yaw,
        pitch=rng.uniform(*dist.camera_pitch),
        fov_x=rng.uniform(*dist.fov_x))

    kinds = tuple(OBJECT_CLASSES)
    kind_p = (None if dist.object_weights is None else
              dist.kind_probabilities())
    objects = []
    num = rng.integers(dist.num_objects[0], dist.num_objects[1] + 1)
    for _ in range(num):
        # the uniform draw stays an integer draw, as the source scenes were
        # made with it
        kind = kinds[rng.integers(len(kinds)) if kind_p is None else
                     rng.choice(len(kinds), p=kind_p)]
        half = _sample_object_size(rng, kind, dist)
        radius_xy = np.hypot(half[0], half[1]) if kind == 'box' else half[0]
        lo = radius_xy + 0.05
        hi = room[:2] - radius_xy - 0.05
        for _ in range(20):
            angle = yaw + rng.uniform(-0.6, 0.6) * camera.fov_x
            far = min(dist.object_distance[1], ahead - 0.3)
            r = rng.uniform(dist.object_distance[0], max(far, 1.3))
            xy = np.clip(cam_xy + r * np.array([np.cos(angle),
                                                np.sin(angle)]), lo, hi)
            if np.hypot(*(xy - cam_xy)) > radius_xy + 0.3:
                break
        else:
            continue
        if rng.uniform() < dist.on_floor_prob:
            z = half[2]
        else:
            z = rng.uniform(half[2] + 0.2, max(room[2] - half[2] - 0.2,
                                               half[2] + 0.2))
        objects.append(SceneObject(kind, np.array([*xy, z]), half,
                                   rng.uniform(0.0, 2.0 * np.pi)))
    return Scene(room, tuple(objects), camera)


def _distance_to_box_wall(point, direction, size):
    """Distance from ``point`` inside ``[0, size]`` to the boundary along
    ``direction`` (any dimension)."""
    with np.errstate(divide='ignore'):
        t = np.where(direction > 0, (size - point) / direction,
                     np.where(direction < 0, -point / direction, np.inf))
    return float(t.min())


def _safe(d):
    """Ray direction components with exact zeros nudged, so slab tests never
    divide 0 by 0."""
    return np.where(np.abs(d) < 1e-12, 1e-12, d)


def _room_hits(origins, dirs, room_size):
    """Distance to the room's inner faces, the class of the face and its
    inward world normal. origins (3,) or (N, 3), dirs (N, 3)."""
    d = _safe(dirs)
    t = np.full(len(d), np.inf)
    axis = np.zeros(len(d), dtype=np.int64)
    for i in range(3):
        t_i = (np.where(d[:, i] > 0, room_size[i], 0.0) -
               origins[..., i]) / d[:, i]
        closer = t_i < t
        t = np.where(closer, t_i, t)
        axis[closer] = i
    rows = np.arange(len(d))
    towards = d[rows, axis]
    cls = np.where(axis < 2, WALL, np.where(towards < 0, FLOOR, CEILING))
    normals = np.zeros_like(d)
    normals[rows, axis] = -np.sign(towards)
    return t, cls, normals


def _box_t(obj, origins, dirs):
    o = obj.to_local(origins - obj.center)
    d = _safe(obj.to_local(dirs))
    t_near = np.full(len(d), -np.inf)
    t_far = np.full(len(d), np.inf)
    for i in range(3):
        t1 = (-obj.half_size[i] - o[..., i]) / d[:, i]
        t2 = (obj.half_size[i] - o[..., i]) / d[:, i]
        t_near = np.maximum(t_near, np.minimum(t1, t2))
        t_far = np.minimum(t_far, np.maximum(t1, t2))
    hit = (t_near <= t_far) & (t_near > _T_MIN)
    return np.where(hit, t_near, np.inf)


def _sphere_t(obj, origins, dirs):
    oc = origins - obj.center
    a = np.einsum('...i,...i->...', dirs, dirs)
    b = np.einsum('...i,...i->...', oc, dirs)
    c = np.einsum('...i,...i->...', oc, oc) - obj.half_size[0]**2
    disc = b * b - a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    return np.where((disc >= 0) & (t > _T_MIN), t, np.inf)


def _cylinder_t(obj, origins, dirs):
    o = np.broadcast_to(origins - obj.center, dirs.shape)
    radius, half_height = obj.half_size[0], obj.half_size[2]
    a = dirs[:, 0]**2 + dirs[:, 1]**2
    b = o[:, 0] * dirs[:, 0] + o[:, 1] * dirs[:, 1]
    c = o[:, 0]**2 + o[:, 1]**2 - radius**2
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    with np.errstate(divide='ignore', invalid='ignore'):
        side_near = np.where(a > 1e-12, (-b - root) / a,
                             np.where(c < 0, -np.inf, np.inf))
        side_far = np.where(a > 1e-12, (-b + root) / a,
                            np.where(c < 0, np.inf, -np.inf))
    dz = _safe(dirs[:, 2])
    z1 = (-half_height - o[:, 2]) / dz
    z2 = (half_height - o[:, 2]) / dz
    t_near = np.maximum(side_near, np.minimum(z1, z2))
    t_far = np.minimum(side_far, np.maximum(z1, z2))
    hit = (disc >= 0) & (t_near <= t_far) & (t_near > _T_MIN)
    return np.where(hit, t_near, np.inf)


_HIT_DISTANCE = {'box': _box_t, 'sphere': _sphere_t, 'cylinder': _cylinder_t}


def object_hit_distance(obj: SceneObject, origins: np.ndarray,
                        dirs: np.ndarray) -> np.ndarray:
    """Ray parameter t (N,) of the first hit of ``obj``, inf where missed.

    ``origins`` is (3,) or (N, 3), ``dirs`` (N, 3) need not be unit length.
    """
    return _HIT_DISTANCE[obj.kind](obj, origins, dirs)


def object_normals(obj: SceneObject, points: np.ndarray) -> np.ndarray:
    """Outward unit world normals (N, 3) at surface points (N, 3)."""
    local = obj.to_local(points - obj.center)
    if obj.kind == 'sphere':
        n = local
    elif obj.kind == 'box':
        # the face is the axis on which the point lies farthest out
        axis = np.abs(local / obj.half_size).argmax(axis=-1)
        n = np.zeros_like(local)
        rows = np.arange(len(local))
        n[rows, axis] = np.sign(local[rows, axis])
    else:
        radial = np.hypot(local[:, 0], local[:, 1]) / obj.half_size[0]
        on_cap = np.abs(local[:, 2]) / obj.half_size[2] > radial
        n = np.where(on_cap[:, None],
                     np.stack([0 * local[:, 0], 0 * local[:, 1],
                               np.sign(local[:, 2])], -1),
                     np.stack([local[:, 0], local[:, 1], 0 * local[:, 2]],
                              -1))
    n = obj.to_world(n)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def occluded(objects, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """(N,) bool: does a ray from ``origins`` along ``dirs`` hit any object
    (the room is ignored: it encloses the light)."""
    blocked = np.zeros(len(dirs), dtype=bool)
    for obj in objects:
        blocked |= np.isfinite(object_hit_distance(obj, origins, dirs))
    return blocked


@dataclass
class GeometryBuffers:
    """Per-pixel results of casting the camera rays (H, W image).

    depth (H, W) camera-z in metres; normals (H, W, 3) unit, camera frame;
    world_normals, points (H, W, 3) world frame; semseg (H, W) class ids of
    :data:`CLASS_NAMES`; instance (H, W): 0 for the room, k + 1 for
    ``scene.objects[k]``.
    """
    depth: np.ndarray
    normals: np.ndarray
    world_normals: np.ndarray
    points: np.ndarray
    semseg: np.ndarray
    instance: np.ndarray


def camera_rays(camera: Camera, height: int, width: int) -> np.ndarray:
    """World ray directions (H * W, 3) through the pixel centres, scaled so
    that their camera-z component is 1 (ray parameter = depth)."""
    f = camera.focal_length(width)
    u = (np.arange(width) + 0.5 - 0.5 * width) / f
    v = (np.arange(height) + 0.5 - 0.5 * height) / f
    cam = np.stack([np.broadcast_to(u[None, :], (height, width)),
                    np.broadcast_to(v[:, None], (height, width)),
                    np.ones((height, width))], -1).reshape(-1, 3)
    return cam @ camera.rotation().T


def cast_camera_rays(scene: Scene, height: int,
                     width: int) -> GeometryBuffers:
    """Render the exact geometry of ``scene`` at ``height`` x ``width``."""
    origin = np.asarray(scene.camera.position, dtype=np.float64)
    dirs = camera_rays(scene.camera, height, width)
    t, semseg, normals = _room_hits(origin, dirs, scene.room_size)
    instance = np.zeros(len(dirs), dtype=np.int16)
    for k, obj in enumerate(scene.objects):
        t_obj = object_hit_distance(obj, origin, dirs)
        closer = t_obj < t
        t = np.where(closer, t_obj, t)
        instance[closer] = k + 1
    points = origin + t[:, None] * dirs
    for k, obj in enumerate(scene.objects):
        mask = instance == k + 1
        semseg[mask] = obj.class_id
        normals[mask] = object_normals(obj, points[mask])
    rotation = scene.camera.rotation()
    shape = (height, width)
    return GeometryBuffers(
        depth=t.reshape(shape).astype(np.float32),
        normals=(normals @ rotation).reshape(*shape, 3).astype(np.float32),
        world_normals=normals.reshape(*shape, 3),
        points=points.reshape(*shape, 3),
        semseg=semseg.reshape(shape).astype(np.uint8),
        instance=instance.reshape(shape))


def occlusion_edges(depth: np.ndarray, instance: np.ndarray,
                    rel_threshold: float = 0.1) -> np.ndarray:
    """(H, W) bool occlusion boundaries, one pixel thick.

    A pair of 4-neighbours is a boundary where they see different surfaces
    and their depths differ by more than ``rel_threshold`` of the nearer
    one; only the nearer (occluding) pixel is marked. Requiring different
    surfaces keeps grazing floors and walls, whose depth changes quickly
    from pixel to pixel, free of spurious edges.
    """
    edges = np.zeros(depth.shape, dtype=bool)
    for axis in (0, 1):
        a = np.moveaxis(depth, axis, 0)
        ia = np.moveaxis(instance, axis, 0)
        e = np.moveaxis(edges, axis, 0)
        near, far = a[:-1], a[1:]
        jump = (ia[:-1] != ia[1:]) & (
            np.abs(near - far) > rel_threshold * np.minimum(near, far))
        e[:-1] |= jump & (near < far)
        e[1:] |= jump & (far < near)
    return edges
