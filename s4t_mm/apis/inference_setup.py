"""What running a model on a user's images takes from its config: the
pipeline that prepares a decoded image and the scale it is predicted at,
the dataset's classes, and the adapter and protocol a user names
(``tools/adapt_images.py --method s4t --protocol paper``)."""
import copy
from typing import List, Optional, Tuple

from mmengine.config import Config

from s4t_mm.registry import ADAPTERS, DATASETS
from s4t_mm.tta.protocols import protocol_config
from .adaptation_config import tta_hook_cfg

#: "adapt on the first images": the paper protocol takes them in input
#: order unless the protocol config says otherwise
PROTOCOL_DEFAULTS = dict(paper=dict(shuffle=False))
#: ``method`` names -> registered adapter type.
METHOD_ADAPTERS = dict(s4t='S4TAdapter', tent='TentAdapter',
                       bn='NormStatsAdapter')
#: the protocols that walk a user's images (no labels, one stream).
IMAGE_PROTOCOLS = ('paper', 'episodic', 'online')


def image_pipeline(cfg, resize: Optional[Tuple[int, int]] = None
                   ) -> Tuple[List[dict], dict]:
    """The transforms that turn a decoded image into a model input, and
    the scale it is predicted at (:func:`input_scale`).

    They are the config's test pipeline without its loading transforms
    (images arrive decoded), with a packing transform at the end and, where
    :func:`input_scale` fixes a scale, a keep-ratio resize before packing.
    Every image, adapted on or predicted, goes through them: a transform
    that resamples the image for the model (a canonical camera, say) goes
    here, before packing, and its parameters travel in the sample's
    metainfo to map the outputs back.
    """
    pipeline = cfg.get('test_pipeline') or \
        cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'pipeline') or [dict(type='PackMultiTaskInputs')]
    pipeline = [copy.deepcopy(t) for t in pipeline
                if not transform_name(t).startswith('Load')]
    pack = next((i for i, t in enumerate(pipeline)
                 if transform_name(t).startswith('Pack')), None)
    if pack is None:
        pipeline.append(dict(type='PackMultiTaskInputs'))
        pack = len(pipeline) - 1
    scale = input_scale(cfg, pipeline, resize)
    if scale['scale'] is not None:
        pipeline.insert(pack, dict(type='MultiTaskResize',
                                   scale=tuple(scale['scale']),
                                   keep_ratio=True))
    return pipeline, scale


def training_scale(cfg) -> Optional[Tuple[int, int]]:
    """The ``(w, h)`` scale the config trains at: a crop's size or a
    resize's single scale in the training pipeline, else the training
    dataset's ``img_size`` (an int: square); None where none fixes one."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    pipeline = cfg.get('train_pipeline') or dataset.get('pipeline') or []
    for kind, key in (('Crop', 'crop_size'), ('Resize', 'scale')):
        for transform in pipeline:
            size = transform.get(key)
            if kind not in transform_name(transform) or size is None:
                continue
            if isinstance(size, int):
                return size, size
            if len(size) == 2 and all(isinstance(v, int) for v in size):
                # crops are (h, w) as in mmseg, resize scales (w, h)
                return (size[1], size[0]) if kind == 'Crop' else tuple(size)
    img_size = dataset.get('img_size')
    return (img_size, img_size) if isinstance(img_size, int) else None


def input_scale(cfg, pipeline: List[dict],
                resize: Optional[Tuple[int, int]]) -> dict:
    """The scale images are predicted at (``scale``: a keep-ratio resize
    bound to add, or None) and why (``source``: ``resize``,
    ``test_pipeline``, ``training_scale`` or ``image_size``)."""
    if resize is not None:
        return dict(source='resize', scale=list(resize))
    if any('Resize' in transform_name(t) for t in pipeline):
        return dict(source='test_pipeline', scale=None)
    scale = training_scale(cfg)
    if scale is not None:
        return dict(source='training_scale', scale=list(scale))
    return dict(source='image_size', scale=None)


def transform_name(transform: dict) -> str:
    return str(transform.get('type', '')).split('.')[-1]


def config_dataset_meta(cfg) -> dict:
    """Classes and palette of the config's test dataset class, for
    checkpoints saved without ``dataset_meta``."""
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    dataset_cls = DATASETS.get(dataset.get('type', '')) if dataset else None
    return dict(getattr(dataset_cls, 'METAINFO', {}) or {})


def adaptation_cfgs(cfg: Config, method: Optional[str] = None,
                    protocol: Optional[str] = None,
                    steps: Optional[int] = None,
                    adapt_images: Optional[int] = None,
                    batch_size: int = 4) -> Tuple[Optional[dict], dict]:
    """The adapter config (None: no adaptation) and protocol config of an
    inference run, from names and the config's ``TestTimeAdaptHook``.

    Args:
        cfg: the model's config.
        method: a key of :data:`METHOD_ADAPTERS` or ``'none'``; None: the
            config's adapter, else none. A named adapter takes the config's
            settings (its learning rate) when the config uses the same one,
            else the adapter's defaults.
        protocol: one of :data:`IMAGE_PROTOCOLS`; None: the config's, else
            ``'paper'``.
        steps: adaptation steps per adapted batch; None: the config's
            protocol's when it is the one chosen, else the protocol's
            default.
        adapt_images: ``paper`` only: adapt on this many first images (one
            batch); None: ``batch_size``.
        batch_size: images per batch of the run.
    """
    methods = (*METHOD_ADAPTERS, 'none')
    if method is not None and method not in methods:
        raise ValueError(f'unknown method {method!r}; valid: '
                         f'{", ".join(methods)}')
    hook = tta_hook_cfg(cfg) or {}
    configured = dict(hook.get('adapter', {}))
    if method == 'none' or (method is None and not configured):
        adapter = None
    elif method is None:
        adapter = configured
    else:
        adapter = dict(type=METHOD_ADAPTERS[method])
        if configured and ADAPTERS.get(configured.get('type')) is \
                ADAPTERS.get(adapter['type']):
            adapter = configured
    config_protocol = protocol_config(hook.get('protocol', 'paper'))
    name = protocol or config_protocol['type']
    if name not in IMAGE_PROTOCOLS:
        raise ValueError(f'the protocol {name!r} is not one that runs on '
                         f'images; valid: {", ".join(IMAGE_PROTOCOLS)}')
    if steps is None and name == config_protocol['type']:
        steps = config_protocol.get('steps')
    chosen = dict(type=name)
    if steps is not None:
        chosen['steps'] = steps
    if name == 'paper':
        chosen.update(num_batches=1, shuffle=False,
                      batch_size=adapt_images or batch_size)
    elif adapt_images is not None:
        raise ValueError('adapt_images only applies to the paper protocol')
    return adapter, chosen
