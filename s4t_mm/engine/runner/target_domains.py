"""Target domains: named variants of a config's test dataloader.

A domain is a dict: ``name``, optional ``dataset`` (keys merged into the
test dataset config) and optional ``corruption`` (``dict(corruption=...,
severity=...)``, an ``ImageCorruption`` transform inserted just before the
packing transform), e.g. ``dict(name='fog-3', dataset=dict(style='source'),
corruption=dict(corruption='fog', severity=3))``. Configs list them under a
key such as ``target_domains``.
"""
import copy
from typing import List, Mapping, Sequence

from mmengine.config import ConfigDict
from mmengine.dataset import DefaultSampler
from mmseg.datasets.transforms import PackSegInputs

from s4t_mm.datasets.transforms import PackMultiTaskInputs
from s4t_mm.registry import DATA_SAMPLERS, TRANSFORMS
from s4t_mm.utils import registered_class

#: The transforms that pack a sample, s4t_mm's and mmseg's: a domain's
#: corruption goes just before them.
PACKING_TRANSFORMS = (PackMultiTaskInputs, PackSegInputs)


def domain_list(domains: Sequence[dict], key: str) -> List[dict]:
    """``domains`` (the list a config holds under ``key``), checked: not
    empty, every domain with a unique name."""
    if not domains:
        raise ValueError(f'the config defines no {key}; add e.g. {key}='
                         "[dict(name='target_warm', "
                         "dataset=dict(style='target_warm'))]")
    names = [d.get('name') for d in domains]
    if None in names or len(set(names)) != len(names):
        raise ValueError(f'every target domain needs a unique name, got '
                         f'{names}')
    return [dict(d) for d in domains]


def check_domains(cfg: Mapping, key: str = 'target_domains') -> List[dict]:
    """The domain list ``cfg[key]``, checked (:func:`domain_list`)."""
    return domain_list(cfg.get(key), key)


def _is_packing(transform: dict) -> bool:
    cls = registered_class(TRANSFORMS, transform.get('type'))
    return cls is not None and issubclass(cls, PACKING_TRANSFORMS)


def domain_dataloader(test_dataloader: dict, domain: dict) -> ConfigDict:
    """The dataloader config of one target domain: a copy of
    ``test_dataloader`` (a config's test dataloader) with the domain's
    ``dataset`` keys and ``corruption`` applied."""
    loader = ConfigDict(copy.deepcopy(test_dataloader))
    loader.dataset.update(domain.get('dataset', {}))
    corruption = domain.get('corruption')
    if corruption is not None:
        pipeline = list(loader.dataset.pipeline)
        pack = next((i for i, t in enumerate(pipeline) if _is_packing(t)),
                    len(pipeline))
        pipeline.insert(pack, dict(type='ImageCorruption', **corruption))
        loader.dataset.pipeline = pipeline
    return loader


def whole_batches_per_rank(loader: dict) -> ConfigDict:
    """``loader`` with mmengine's ``DefaultSampler`` replaced by
    :class:`~s4t_mm.datasets.BatchShardSampler` (same order and shuffle):
    with several processes each rank then gets whole one-process batches,
    so adaptation on test batches, and the results, do not depend on the
    number of processes. Other samplers are kept."""
    sampler = dict(loader.get('sampler') or {})
    cls = registered_class(DATA_SAMPLERS, sampler.get('type'))
    loader = ConfigDict(copy.deepcopy(loader))
    if cls is not DefaultSampler:
        return loader
    loader.sampler = dict(
        type='s4t_mm.BatchShardSampler', batch_size=loader.batch_size,
        shuffle=sampler.get('shuffle', True), seed=sampler.get('seed'))
    return loader
