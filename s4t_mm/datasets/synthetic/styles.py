"""Appearance styles: how a rendered scene geometry becomes an image.

A style fixes the palette, the procedural texture of every class (pattern,
frequency, contrast), the lighting (a directional light with optional cast
shadows plus ambient light) and the camera response (exposure, gamma, blur,
sensor noise, vignetting). Geometry never depends on the style, so the same
sample index gives the same scene, labels and camera in every style: the
domains differ only in appearance, the way two real indoor datasets differ
in their homes, offices, lamps and sensors.

Styles:
    source: neutral studio; saturated primaries, medium-frequency textures,
        white light from above with soft shadows.
    target_warm: lamp-lit homes; warm browns and oranges, low-frequency
        wood-like textures, dim low orange light, strong ambient, soft
        optics and vignetting.
    target_cool: fluorescent offices; desaturated blue-greys, fine tiles and
        stripes, harsh bluish light from high above with hard shadows, noisy
        high-contrast sensor.
    val_overcast: a held-out shift for choosing hyper-parameters only (never
        report results on it): earthy greens and pinks, flat diffuse light.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import cv2
import numpy as np

from .scene import CLASS_NAMES, GeometryBuffers, Scene, occluded

RGB = Tuple[float, float, float]
PATTERNS = ('plain', 'checker', 'stripes', 'noise')


@dataclass(frozen=True)
class Texture:
    """A procedural albedo pattern in the surface's own 3-D coordinates.

    Args:
        pattern: one of :data:`PATTERNS`.
        frequency: cycles per metre.
        contrast: relative albedo modulation, 0 (plain) to 1.
    """
    pattern: str = 'plain'
    frequency: float = 1.0
    contrast: float = 0.0

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ValueError(f'unknown texture pattern {self.pattern!r}; '
                             f'valid patterns: {", ".join(PATTERNS)}')


@dataclass(frozen=True)
class Style:
    """Everything that decides appearance; see the module docstring.

    Args:
        name: the style's name, also the sample's ``domain``.
        room_colours: base RGB in [0, 1] of 'floor', 'wall' and 'ceiling'.
        object_palette: RGB colours objects draw theirs from.
        textures: :class:`Texture` per class name of :data:`CLASS_NAMES`.
        colour_jitter: std of the per-surface multiplicative colour jitter.
        light_colour, light_strength: the directional light.
        light_elevation: (min, max) elevation of the light in degrees; its
            azimuth is uniform.
        ambient_colour, ambient: the ambient light.
        shadow: fraction of the direct light an object's shadow blocks.
        exposure, gamma: camera response, ``(exposure * radiance)**(1/gamma)``.
        blur_sigma: Gaussian optical blur in pixels at 128 px image width
            (scaled with the width).
        noise_std: sensor noise std in 8-bit grey levels.
        vignette: relative darkening at the image corners.
    """
    name: str
    room_colours: Dict[str, RGB]
    object_palette: Tuple[RGB, ...]
    textures: Dict[str, Texture]
    colour_jitter: float
    light_colour: RGB
    light_strength: float
    light_elevation: Tuple[float, float]
    ambient_colour: RGB
    ambient: float
    shadow: float
    exposure: float
    gamma: float
    blur_sigma: float
    noise_std: float
    vignette: float


STYLES: Dict[str, Style] = {
    style.name: style
    for style in (
        Style(
            name='source',
            room_colours=dict(
                floor=(0.55, 0.45, 0.35), wall=(0.75, 0.75, 0.70),
                ceiling=(0.85, 0.85, 0.85)),
            object_palette=((0.80, 0.20, 0.20), (0.20, 0.70, 0.30),
                            (0.20, 0.35, 0.80), (0.85, 0.75, 0.20),
                            (0.60, 0.30, 0.70), (0.20, 0.70, 0.75)),
            textures=dict(
                floor=Texture('checker', 1.0, 0.35),
                wall=Texture('noise', 0.8, 0.12),
                ceiling=Texture('plain'),
                box=Texture('checker', 3.0, 0.30),
                sphere=Texture('stripes', 3.5, 0.30),
                cylinder=Texture('noise', 3.0, 0.30)),
            colour_jitter=0.08,
            light_colour=(1.0, 1.0, 1.0), light_strength=0.75,
            light_elevation=(40.0, 70.0),
            ambient_colour=(1.0, 1.0, 1.0), ambient=0.35,
            shadow=0.6, exposure=1.0, gamma=1.0,
            blur_sigma=0.0, noise_std=2.0, vignette=0.0),
        Style(
            name='target_warm',
            room_colours=dict(
                floor=(0.55, 0.33, 0.18), wall=(0.85, 0.70, 0.50),
                ceiling=(0.90, 0.82, 0.68)),
            object_palette=((0.75, 0.35, 0.20), (0.80, 0.60, 0.20),
                            (0.50, 0.50, 0.20), (0.55, 0.15, 0.20),
                            (0.80, 0.60, 0.45), (0.45, 0.28, 0.15)),
            textures=dict(
                floor=Texture('stripes', 0.6, 0.30),
                wall=Texture('noise', 0.3, 0.15),
                ceiling=Texture('plain'),
                box=Texture('stripes', 1.0, 0.30),
                sphere=Texture('noise', 0.8, 0.30),
                cylinder=Texture('checker', 1.0, 0.25)),
            colour_jitter=0.10,
            light_colour=(1.0, 0.75, 0.45), light_strength=0.45,
            light_elevation=(20.0, 45.0),
            ambient_colour=(1.0, 0.85, 0.65), ambient=0.45,
            shadow=0.5, exposure=0.85, gamma=1.1,
            blur_sigma=0.7, noise_std=3.0, vignette=0.35),
        Style(
            name='target_cool',
            room_colours=dict(
                floor=(0.45, 0.50, 0.55), wall=(0.70, 0.74, 0.78),
                ceiling=(0.80, 0.83, 0.86)),
            object_palette=((0.40, 0.45, 0.55), (0.35, 0.50, 0.65),
                            (0.55, 0.55, 0.58), (0.35, 0.55, 0.55),
                            (0.80, 0.82, 0.85), (0.25, 0.27, 0.30)),
            textures=dict(
                floor=Texture('checker', 3.0, 0.40),
                wall=Texture('stripes', 5.0, 0.15),
                ceiling=Texture('checker', 2.0, 0.20),
                box=Texture('checker', 6.0, 0.45),
                sphere=Texture('stripes', 6.0, 0.40),
                cylinder=Texture('noise', 6.0, 0.40)),
            colour_jitter=0.05,
            light_colour=(0.85, 0.92, 1.0), light_strength=1.2,
            light_elevation=(35.0, 65.0),
            ambient_colour=(0.80, 0.88, 1.0), ambient=0.28,
            shadow=0.9, exposure=1.1, gamma=0.85,
            blur_sigma=0.0, noise_std=5.0, vignette=0.0),
        Style(
            name='val_overcast',
            room_colours=dict(
                floor=(0.45, 0.50, 0.35), wall=(0.78, 0.80, 0.70),
                ceiling=(0.88, 0.90, 0.85)),
            object_palette=((0.55, 0.65, 0.45), (0.40, 0.50, 0.30),
                            (0.80, 0.72, 0.55), (0.75, 0.55, 0.60),
                            (0.60, 0.58, 0.70), (0.75, 0.60, 0.30)),
            textures=dict(
                floor=Texture('noise', 2.0, 0.30),
                wall=Texture('checker', 1.5, 0.10),
                ceiling=Texture('plain'),
                box=Texture('noise', 5.0, 0.35),
                sphere=Texture('checker', 4.0, 0.30),
                cylinder=Texture('stripes', 5.0, 0.30)),
            colour_jitter=0.08,
            light_colour=(0.95, 1.0, 0.95), light_strength=0.25,
            light_elevation=(60.0, 90.0),
            ambient_colour=(0.92, 1.0, 0.92), ambient=0.65,
            shadow=0.3, exposure=1.0, gamma=1.0,
            blur_sigma=0.4, noise_std=2.0, vignette=0.1),
    )
}


def get_style(name: str) -> Style:
    """The predefined style ``name``; errors list the valid names."""
    if name not in STYLES:
        raise ValueError(f'unknown style {name!r}; valid styles: '
                         f'{", ".join(STYLES)}')
    return STYLES[name]


def _pattern(points, texture, rng):
    """Modulation in [-1, 1] (N,) of ``texture`` at surface points (N, 3).

    Random phases and directions differ per surface and sample, so the same
    style never repeats one exact texture.
    """
    f = texture.frequency
    if texture.pattern == 'checker':
        # the phase keeps planes at integer coordinates (floor z = 0, box
        # faces) off the cell borders, where rounding would flip cells
        cells = np.floor(2 * f * points + rng.uniform(0.1, 0.9, 3))
        return 1.0 - 2.0 * (cells.sum(axis=-1) % 2)
    if texture.pattern == 'stripes':
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        return np.sin(2 * np.pi * f * points @ axis +
                      rng.uniform(0, 2 * np.pi))
    # 'noise': a sum of four random plane waves, a cheap smooth noise
    waves = rng.normal(size=(3, 4))
    waves *= 2 * np.pi * f * rng.uniform(0.7, 1.4, 4) / np.linalg.norm(
        waves, axis=0)
    phase = rng.uniform(0, 2 * np.pi, 4)
    return np.clip(np.sin(points @ waves + phase).sum(axis=-1) / 2, -1, 1)


def _surface_colour(base, style, rng):
    jitter = 1.0 + style.colour_jitter * rng.normal(size=3)
    return np.clip(np.asarray(base) * jitter, 0.02, 1.0)


def _albedo(scene, geometry, style, rng, footprint):
    """(N, 3) per-pixel albedo of every surface, textured in its own frame.

    A pattern fades to its mean as its period approaches two pixels, a
    cheap stand-in for mip-mapping that keeps fine textures from aliasing.
    """
    semseg = geometry.semseg.reshape(-1)
    instance = geometry.instance.reshape(-1)
    points = geometry.points.reshape(-1, 3)
    albedo = np.empty((len(semseg), 3))
    surfaces = [(CLASS_NAMES[c], (instance == 0) & (semseg == c), None,
                 style.room_colours[CLASS_NAMES[c]]) for c in range(3)]
    for k, obj in enumerate(scene.objects):
        palette = style.object_palette
        surfaces.append((obj.kind, instance == k + 1, obj,
                         palette[rng.integers(len(palette))]))
    for name, mask, obj, base in surfaces:
        colour = _surface_colour(base, style, rng)
        texture = style.textures[name]
        if not mask.any():
            continue
        if texture.pattern == 'plain' or texture.contrast == 0:
            albedo[mask] = colour
            continue
        local = points[mask] if obj is None else obj.to_local(
            points[mask] - obj.center)
        fade = np.clip(1.0 - 2.0 * texture.frequency * footprint[mask], 0, 1)
        m = texture.contrast * fade * _pattern(local, texture, rng)
        albedo[mask] = colour * (1.0 + m[:, None])
    return albedo


def shade(scene: Scene, geometry: GeometryBuffers, style: Style,
          rng: np.random.Generator) -> np.ndarray:
    """Render the image of ``geometry`` in ``style``: (H, W, 3) uint8 RGB.

    ``rng`` supplies every random choice of the appearance (colours, texture
    phases, light direction, sensor noise); seed it per sample.
    """
    height, width = geometry.depth.shape
    depth = geometry.depth.reshape(-1).astype(np.float64)
    normals = geometry.world_normals.reshape(-1, 3)
    points = geometry.points.reshape(-1, 3)
    # metres covered by one pixel on the surface, for texture filtering
    facing = np.maximum(np.abs(geometry.normals[..., 2].reshape(-1)), 0.2)
    footprint = depth / (scene.camera.focal_length(width) * facing)
    albedo = _albedo(scene, geometry, style, rng, footprint)

    azimuth = rng.uniform(0, 2 * np.pi)
    elevation = np.deg2rad(rng.uniform(*style.light_elevation))
    light = np.array([np.cos(elevation) * np.cos(azimuth),
                      np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    lambert = np.clip(normals @ light, 0.0, None)
    lit = lambert > 0
    if style.shadow > 0 and lit.any():
        blocked = occluded(scene.objects, points[lit] + 1e-4 * normals[lit],
                           np.broadcast_to(light, (int(lit.sum()), 3)))
        lambert[np.flatnonzero(lit)[blocked]] *= 1.0 - style.shadow
    irradiance = (style.ambient * np.asarray(style.ambient_colour) +
                  style.light_strength * lambert[:, None] *
                  np.asarray(style.light_colour))
    image = (albedo * irradiance).reshape(height, width, 3)

    if style.vignette > 0:
        v = np.linspace(-1, 1, height)[:, None]
        u = np.linspace(-1, 1, width)[None, :]
        image = image * (1.0 - 0.5 * style.vignette * (u**2 + v**2))[...,
                                                                     None]
    image = np.clip(style.exposure * image, 0, 1)**(1.0 / style.gamma)
    if style.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0),
                                 style.blur_sigma * width / 128.0)
    image = image * 255.0 + rng.normal(0.0, style.noise_std, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
