"""Read the per-layer normalisation diagnosis out of a stored comparison:
each domain's shift score and target weight per BatchNorm layer, as a
scoring policy (the gated or the shift-response one) measured them on the
domain's adaptation batch."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from s4t_mm.visualization import plot_norm_shift
from .relation_analysis import select_domains
from .sync_analysis import method_parts

LayerValues = Dict[str, Dict[str, float]]


def stored_norm_diagnosis(work_dir: str, method: str, seed: int = 0,
                          domains: Optional[list] = None
                          ) -> Tuple[LayerValues, LayerValues]:
    """``(scores, weights)``: per domain ``{layer: z}`` and ``{layer: a}``
    from the results a comparison or benchmark stored under
    ``work_dir/parts/methods/<method>/seed<seed>/`` (the order of
    ``domains``, default the files' order)."""
    folder = method_parts(work_dir, method, f'seed{seed}')
    if not osp.isdir(folder):
        raise FileNotFoundError(
            f'{folder} does not exist: no stored results of method '
            f'{method!r} with seed {seed} under {work_dir} (run '
            'tools/benchmark_methods.py or tools/compare_methods.py there '
            'first)')
    records = {}
    for file in sorted(f for f in os.listdir(folder)
                       if f.endswith('.json')):
        with open(osp.join(folder, file)) as f:
            record = json.load(f)
        records[record['key']['domain']] = record['result']
    names = list(records) if domains is None else list(domains)
    missing = [d for d in names if d not in records]
    if missing:
        raise KeyError(f'no stored result of {missing} in {folder}; stored: '
                       f'{sorted(records)}')
    scores = {d: records[d].get('norm_scores', {}) for d in names}
    if not any(scores.values()):
        raise ValueError(
            f'the results of {method!r} in {folder} hold no shift scores: '
            "its norm_policy must report them: dict(type='gated', ...) or "
            "dict(type='shift_response', ...)")
    weights = {d: records[d].get('norm_weights', {}) for d in names}
    return scores, weights


def plot_stored_norm_diagnosis(work_dir: str, method: str, out_file: str,
                               seed: int = 0,
                               threshold: Optional[float] = None,
                               domains: Optional[list] = None) -> str:
    """Draw :func:`stored_norm_diagnosis` into the PNG ``out_file``."""
    scores, weights = stored_norm_diagnosis(work_dir, method, seed, domains)
    return plot_norm_shift(scores, out_file, threshold, weights,
                           title=f'{method}, seed {seed}')


def stored_domain_names(work_dir: str, method: str, key: str,
                        only: Optional[Sequence[str]] = None) -> List[str]:
    """The names of the domain list ``key`` (e.g. ``benchmark_domains``)
    in the config the benchmark stored for ``method``
    (``work_dir/configs/<method>.py``), or of those in ``only``."""
    path = osp.join(work_dir, 'configs', f'{method}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist: {work_dir} holds no config of method '
            f'{method!r}, which the domain list {key!r} is read from (a '
            'tools/benchmark_methods.py work dir has one per method)')
    return [d['name'] for d in select_domains(Config.fromfile(path), key,
                                              only, source=False)]
