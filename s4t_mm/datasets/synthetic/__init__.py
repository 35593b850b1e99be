"""Procedural indoor scenes rendered analytically, with exact dense labels."""
from .scene import (CLASS_NAMES, Camera, GeometryBuffers, Scene,
                    SceneDistribution, SceneObject, cast_camera_rays,
                    occlusion_edges, sample_scene)
from .styles import STYLES, Style, Texture, get_style, shade

__all__ = [
    'CLASS_NAMES', 'Camera', 'GeometryBuffers', 'Scene', 'SceneDistribution',
    'SceneObject', 'cast_camera_rays', 'occlusion_edges', 'sample_scene',
    'STYLES', 'Style', 'Texture', 'get_style', 'shade'
]
