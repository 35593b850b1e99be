"""Matplotlib figures sent through a Visualizer's vis backends."""
from typing import Optional

import cv2
import numpy as np
from mmengine.fileio import get_file_backend
from mmengine.visualization import Visualizer


def figure_to_rgb(fig) -> np.ndarray:
    """The figure rendered (Agg) to an ``(H, W, 3)`` uint8 RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) \
        else FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


def add_figure(fig, name: str, visualizer: Optional[Visualizer] = None,
               out_file: Optional[str] = None, step: int = 0) -> np.ndarray:
    """Render ``fig`` and publish it (:func:`publish_image`).

    Returns:
        The ``(H, W, 3)`` uint8 RGB image.
    """
    return publish_image(figure_to_rgb(fig), name, visualizer, out_file,
                         step)


def publish_image(image: np.ndarray, name: str,
                  visualizer: Optional[Visualizer] = None,
                  out_file: Optional[str] = None,
                  step: int = 0) -> np.ndarray:
    """Record the ``(H, W, 3)`` uint8 RGB ``image`` as image ``name`` at
    ``step`` in every vis backend of ``visualizer`` (``LocalVisBackend``
    writes ``<save_dir>/vis_image/<name>_<step>.png``; TensorBoard and
    WandB receive it too) and, with ``out_file``, also as a PNG there,
    written atomically (a stable path for tools and docs). Returns
    ``image``."""
    if out_file is not None:
        ok, png = cv2.imencode('.png', np.ascontiguousarray(image[..., ::-1]))
        if not ok:
            raise IOError(f'could not encode image {name!r} as PNG')
        # atomic: s4t_mm.fileio's 'atomic_local' backend
        get_file_backend(out_file, backend_args=dict(
            backend='atomic_local')).put(png.tobytes(), out_file)
    if visualizer is not None:
        visualizer.add_image(name, image, step)
    return image
