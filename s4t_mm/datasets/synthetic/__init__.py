"""Procedural indoor scenes rendered analytically, with exact dense labels."""
from .scene import (CLASS_NAMES, GEOMETRIES, Camera, GeometryBuffers, Scene,
                    SceneDistribution, SceneObject, cast_camera_rays,
                    get_geometry, occlusion_edges, sample_scene)
from .styles import STYLES, Style, Texture, get_style, shade

__all__ = [
    'CLASS_NAMES', 'GEOMETRIES', 'Camera', 'GeometryBuffers', 'Scene',
    'SceneDistribution', 'SceneObject', 'cast_camera_rays', 'get_geometry',
    'occlusion_edges', 'sample_scene',
    'STYLES', 'Style', 'Texture', 'get_style', 'shade'
]
