"""Task relations read off S4T's relation predictor, without labels.

The relation predictor reconstructs every task's output from the stacked
per-task compressed features. Hiding all tasks but one shows how much that
one task's features say about each other task: the task-relation matrix

    R[i, j] = (err_none_j - err_i_j) / (err_none_j - err_all_j)

where ``err_V_j`` is the mean absolute difference between the relation
predictor's reconstruction of task j, seeing only the tasks in V (the other
tasks' compressed channels set to zero, no patch masking), and the main
head's prediction of task j on the same images. ``all`` is every task,
``none`` no task, ``i`` task i alone. The main heads are the reference, so no
ground truth is read anywhere: samples are stripped of ``gt_*`` fields before
preprocessing.

Reading R: row i is "what task i's features tell", column j is "what task j
is told". 1 means task i alone reconstructs j as well as all tasks together,
0 no better than seeing nothing (the value of every entry of the row with no
task visible: the documented worst case), negative worse than nothing,
above 1 better than all tasks together. The diagonal R[j, j] is how much of
task j its own features carry. Nothing is clipped. A column whose
denominator is zero (the relation predictor ignores its inputs for that
task) is NaN. The denominator's share of the blind error, the all-task
gain ``1 - err_all_j / err_none_j``, says how far column j can be trusted:
near zero the column amplifies noise, below zero (seeing every task is worse
than seeing none, as under a strong shift) its sign is flipped. So
:func:`relation_record` keeps the gains and raw errors beside R, and the
heat maps (:mod:`s4t_mm.visualization.relation_plots`) print the gain
under each task.

The relation predictor is trained on views with every task's channels and
most patches hidden, never on views with whole tasks hidden, so these probes
are off its training distribution: R measures what the trained predictor
does with one task's features, not an intrinsic task affinity.

What is compared: the model's ``relation_views`` in the ``'activated'``
space, i.e. both outputs resized to the input size and passed through
``head.activate_soft``: softmax probabilities for categorical tasks (their
logits' scale is not fixed by the cross-entropy the relation predictor was
trained with, and the argmax of the evaluated prediction has no useful
distance), the evaluated prediction for the others (metres, unit normals,
edge probabilities). Padding is excluded (each sample's ``img_shape``). The
errors are pixel-weighted means over all given batches.
"""
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from s4t_mm.structures import without_ground_truth

View = Tuple[str, ...]


def first_batches_loader(dataloader: DataLoader,
                         num_batches: int) -> DataLoader:
    """A loader of the first ``num_batches`` batches of the dataloader's
    dataset in dataset order, with the same dataset, batch size and collate
    function (what a test loop walks to handle exactly the batches R is
    computed on)."""
    if num_batches < 1:
        raise ValueError(f'num_batches must be >= 1, got {num_batches}')
    size = min(len(dataloader.dataset), num_batches * dataloader.batch_size)
    return DataLoader(dataloader.dataset, batch_size=dataloader.batch_size,
                      sampler=range(size), collate_fn=dataloader.collate_fn,
                      num_workers=0)


def first_batches(dataloader: DataLoader, num_batches: int) -> List[dict]:
    """The batches of :func:`first_batches_loader`, so R always sees the
    same images."""
    return list(first_batches_loader(dataloader, num_batches))


def _valid_mask(samples, n: int, size, device) -> torch.Tensor:
    """(N, 1, H, W) ones on each sample's unpadded area."""
    mask = torch.zeros(n, 1, *size, device=device)
    for k in range(n):
        h, w = size
        if samples is not None:
            h, w = samples[k].metainfo.get('img_shape', size)[:2]
        mask[k, :, :h, :w] = 1
    return mask


def _views(tasks: Sequence[str], views: Optional[Iterable[Sequence[str]]]
           ) -> List[View]:
    if views is None:
        return [(t, ) for t in tasks]
    views = [set(v) for v in views]
    unknown = sorted(set().union(*views) - set(tasks)) if views else []
    if unknown:
        raise ValueError(f'views name unknown task(s) {unknown}; the model '
                         f'has {list(tasks)}')
    return [tuple(t for t in tasks if t in v) for v in views]


@torch.no_grad()
def relation_errors(model, batches: Iterable[dict],
                    views: Optional[Iterable[Sequence[str]]] = None,
                    seed: int = 0) -> Dict[str, object]:
    """Reconstruction errors behind R (see the module docstring).

    Args:
        model: a multi-task model with a relation predictor (not a wrapper).
        batches: data batches as a dataloader yields them
            (``inputs``, ``data_samples``); ground truth is stripped.
        views: visible task sets, one per row of ``rows``; default one row
            per task with that task alone visible.
        seed: of the generator of the autoencoder's token shuffle (every
            view uses the same; with no masking it does not change the
            result beyond float rounding).

    Returns:
        ``dict(tasks, views, rows=(K, T), all=(T,), none=(T,),
        num_images)`` with numpy arrays of mean absolute errors.
    """
    if getattr(model, 'relation_predictor', None) is None:
        raise ValueError(f'{type(model).__name__} has no relation_predictor; '
                         'task relations need a TaskRelationPredictor')
    tasks = list(model.tasks)
    row_views = _views(tasks, views)
    unique = list(dict.fromkeys(row_views + [tuple(tasks), ()]))
    sums = {v: torch.zeros(len(tasks), dtype=torch.float64) for v in unique}
    count = torch.zeros(len(tasks), dtype=torch.float64)
    num_images = 0
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        for batch in batches:
            batch = dict(batch)
            samples = batch.get('data_samples')
            if samples is not None:
                batch['data_samples'] = [without_ground_truth(s)
                                         for s in samples]
            data = model.data_preprocessor(batch, training=False)
            inputs = data['inputs']
            n, size = inputs.shape[0], tuple(inputs.shape[2:])
            num_images += n
            mask = _valid_mask(data.get('data_samples'), n, size,
                               inputs.device)
            probes = model.relation_views(inputs, unique, space='activated',
                                          seed=seed)
            for j, t in enumerate(tasks):
                count[j] += float(mask.sum()) * probes.main[t].shape[1]
            for view, rel in probes.reconstructed.items():
                for j, t in enumerate(tasks):
                    sums[view][j] += float(
                        ((rel[t] - probes.main[t]).abs() * mask).sum())
    finally:
        for module, training in modes.items():
            module.training = training
    if num_images == 0:
        raise ValueError('no batches given; task relations need at least '
                         'one batch of images')
    err = {v: (s / count).numpy() for v, s in sums.items()}
    return dict(tasks=tasks, views=row_views,
                rows=np.stack([err[v] for v in row_views]),
                all=err[tuple(tasks)], none=err[()], num_images=num_images)


def relations_from_errors(errors: Dict[str, object]) -> np.ndarray:
    """(K, T) normalised relations of :func:`relation_errors`' rows."""
    span = errors['none'] - errors['all']
    with np.errstate(divide='ignore', invalid='ignore'):
        scores = (errors['none'][None] - errors['rows']) / span[None]
    scores[:, span == 0] = np.nan
    return scores


def task_relation_matrix(model, batches: Iterable[dict], seed: int = 0,
                         views: Optional[Iterable[Sequence[str]]] = None
                         ) -> Tuple[np.ndarray, List[str]]:
    """The (T, T) task-relation matrix R and its task order (rows: the
    visible task, columns: the reconstructed task); see the module
    docstring. ``views`` replaces the rows by other visible sets, e.g.
    ``[()]`` for the worst case (all zeros) or ``[model.tasks]`` (all ones).
    """
    errors = relation_errors(model, batches, views=views, seed=seed)
    return relations_from_errors(errors), errors['tasks']


def relation_record(model, batches: Sequence[dict], seed: int = 0
                    ) -> Tuple[np.ndarray, Dict[str, object]]:
    """R and a JSON-ready record of it with the errors behind it."""
    errors = relation_errors(model, batches, seed=seed)
    matrix = relations_from_errors(errors)
    return matrix, dict(
        tasks=errors['tasks'],
        matrix=json_matrix(matrix),
        err_single=errors['rows'].tolist(),
        err_all=errors['all'].tolist(),
        err_none=errors['none'].tolist(),
        all_task_gain=(1 - errors['all'] / errors['none']).tolist(),
        num_batches=len(batches),
        num_images=errors['num_images'],
        seed=seed,
        definition='R[i][j] = (err_none[j] - err_single[i][j]) / '
        '(err_none[j] - err_all[j]); rows: visible task, columns: '
        'reconstructed task; all_task_gain[j] = 1 - err_all[j] / '
        'err_none[j]')


def json_matrix(matrix: np.ndarray) -> List[List[Optional[float]]]:
    """Nested lists with None for NaN (strict JSON has no NaN)."""
    return [[None if np.isnan(v) else float(v) for v in row]
            for row in matrix]


def relation_items(matrix: np.ndarray, tasks: Sequence[str]
                   ) -> Iterator[Tuple[str, float]]:
    """``('semseg->depth', R[semseg, depth])`` for every entry."""
    for i, src in enumerate(tasks):
        for j, dst in enumerate(tasks):
            yield f'{src}->{dst}', float(matrix[i, j])
