"""What one call of :class:`~s4t_mm.apis.MultiTaskInferencer` carries
besides the model: each image's result, the call's records (skipped files,
losses, times), the images as a dataset a protocol draws from, and where
the pictures go."""
import os.path as osp
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import numpy as np
from mmengine.structures import BaseDataElement
from torch.utils.data import IterableDataset

from s4t_mm.tta.session import AdaptationSession
from .inference_io import ImageItem, InputStream


class ImagePrediction(NamedTuple):
    """:meth:`MultiTaskInferencer.forward`'s result for one image: the
    image, its predicted sample (``pred_<task>`` at the image's size) and,
    when comparing, the source-only one."""
    item: ImageItem
    sample: BaseDataElement
    source: Optional[BaseDataElement] = None


@dataclass
class InferenceRun:
    """One call so far: batches predicted, files skipped, the adapter's
    losses after each batch it stepped on, and seconds spent adapting,
    predicting and drawing/writing."""

    batches: int = 0
    skipped: List[dict] = field(default_factory=list)
    losses: List[dict] = field(default_factory=list)
    steps_seen: int = 0
    times: Dict[str, float] = field(default_factory=lambda: dict(
        adapt_s=0.0, predict_s=0.0, write_s=0.0))

    @contextmanager
    def timed(self, key: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times[key] += time.perf_counter() - start

    def record_losses(self, session: AdaptationSession, where: str) -> None:
        """The adapter's last losses, when the session's domain has more
        steps than when last asked."""
        steps = session.report().steps
        if steps > self.steps_seen:
            self.losses.append(dict(
                after=where, steps=steps - self.steps_seen,
                losses=dict(session.adapter.last_losses)))
            self.steps_seen = steps


class PipelinedImages(IterableDataset):
    """The readable images of a stream through ``transform``, in order:
    the target domain as a protocol may draw from it. ``len()`` counts
    every input, readable or not (an upper bound)."""

    def __init__(self, stream: InputStream, transform):
        self.stream, self.transform = stream, transform

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[dict]:
        return (self.transform(item) for item in self.stream
                if item.error is None)


def picture_file(key: str, name: str) -> str:
    """Where a picture goes under the output folder: a task's
    ``vis/<task>/<name>.png`` or the ``panels/<name>.png``."""
    return osp.join('panels' if key == 'panel' else osp.join('vis', key),
                    name + '.png')


def prediction_arrays(sample, tasks: Sequence[str]) -> Dict[str, np.ndarray]:
    """``{task: (H, W) or (H, W, C) array}`` of a predicted sample."""
    arrays = {}
    for task in tasks:
        data = sample.pred(task).cpu().numpy()
        arrays[task] = data[0] if data.shape[0] == 1 else \
            data.transpose(1, 2, 0)
    return arrays
