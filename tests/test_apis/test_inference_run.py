"""The images of a call as the dataset a protocol draws from, the call's
records and where its pictures go."""
import numpy as np
from torch.utils.data import DataLoader

from s4t_mm.apis.inference_io import collect_inputs
from s4t_mm.apis.inference_run import (InferenceRun, PipelinedImages,
                                       picture_file)


def test_pipelined_images_are_the_readable_ones_in_order():
    good = np.zeros((4, 6, 3), np.uint8)
    stream = collect_inputs([good, np.zeros((4, 6, 5)), good + 1, good + 2])
    calls = []

    def transform(item):
        calls.append(item.index)
        return item.index, int(item.image[0, 0, 0])

    images = PipelinedImages(stream, transform)
    assert len(images) == 4  # an upper bound: the unreadable one counts
    assert list(images) == [(0, 0), (2, 1), (3, 2)]
    # a protocol taking the first batch transforms no more than it needs
    calls.clear()
    first = next(iter(DataLoader(images, batch_size=2,
                                 collate_fn=lambda batch: batch)))
    assert first == [(0, 0), (2, 1)] and calls == [0, 2]


def test_timed_adds_up_and_pictures_have_one_place():
    run = InferenceRun()
    for _ in range(2):
        with run.timed('write_s'):
            pass
    assert run.times['write_s'] > 0 and run.times['adapt_s'] == 0
    assert picture_file('depth', 'cat') == 'vis/depth/cat.png'
    assert picture_file('panel', 'cat') == 'panels/cat.png'
