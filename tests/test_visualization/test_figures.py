"""Figures recorded through a Visualizer's backends and a stable file."""
import cv2
import numpy as np
from matplotlib.figure import Figure
from mmengine.visualization import Visualizer

from s4t_mm.visualization import add_figure, figure_to_rgb


def _figure():
    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0], color='red')
    return fig


def test_figure_renders_to_rgb():
    image = figure_to_rgb(_figure())
    assert image.shape == (50, 100, 3) and image.dtype == np.uint8
    # a white background and some red of the line
    assert image[0, 0].tolist() == [255, 255, 255]
    assert ((image[..., 0] > 200) & (image[..., 1] < 80)).any()


def test_figure_goes_to_every_backend_and_to_the_file(tmp_path):
    vis = Visualizer(name='figures_test',
                     vis_backends=[dict(type='LocalVisBackend')],
                     save_dir=str(tmp_path / 'log'))
    out = tmp_path / 'plots' / 'curve.png'
    image = add_figure(_figure(), 'curve', vis, out_file=str(out), step=3)
    in_backend = tmp_path / 'log' / 'vis_data' / 'vis_image' / 'curve_3.png'
    for path in (out, in_backend):
        saved = cv2.imread(str(path))[..., ::-1]
        assert np.array_equal(saved, image)
    # no temporary file is left beside the target
    assert [p.name for p in (tmp_path / 'plots').iterdir()] == ['curve.png']
    add_figure(_figure(), 'alone')  # neither: only rendered
