"""A shared encoder with one decoder head per task."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from torch import Tensor

from s4t_mm.registry import MODELS
from s4t_mm.structures import (RELATION_OUTPUTS, RELATION_SPACES,
                               MultiTaskDataSample, RelationConsistency,
                               RelationViews, stack_ground_truth)
from ..necks import DeferredConcat
from .fusion import resolve_fusion
from .task_order import align_task_order, store_task_order

MEMORY_FORMATS = ('contiguous', 'channels_last')


@MODELS.register_module()
class MultiTaskEncoderDecoder(BaseModel):
    """Multi-task dense predictor: backbone -> neck -> one head per task.

    Keeps mmseg's ``EncoderDecoder`` contract (``loss`` / ``predict`` /
    ``tensor`` modes, a data preprocessor, results packed in data samples), so
    runners, hooks and metrics need no special case.

    The optional ``relation_predictor`` (S4T's task-relation model) reads the
    same features as the heads; in training it adds, per task, the loss of its
    auxiliary and relation outputs weighted by ``relation_loss_weight``
    (lambda):  ``L_t = L(main_t) + lambda * (L(aux_t) + L(rel_t))``. The
    per-task sums are combined by ``loss_combiner`` (fixed task weights by
    default, or learned uncertainty weighting).

    Test-time adapters and the relation metric read the model through
    :meth:`relation_consistency`, :meth:`relation_views`,
    :meth:`task_outputs`, :meth:`task_weight` and
    :meth:`self_supervised_loss`, never through its layers, so the
    internals can change behind them. The task order (that of ``heads``)
    travels with the checkpoint and is checked on load (task_order.py).

    Args:
        backbone: any registered backbone, e.g. ``dict(type='mmseg.ResNet')``.
        heads: task name -> head config (see :mod:`s4t_mm.models.heads`).
        neck: optional neck, e.g. :class:`MultiLevelConcat`.
        relation_predictor: optional :class:`TaskRelationPredictor` config;
            its ``task_channels`` are filled in from the heads.
        self_supervised: optional name -> config of self-supervised
            branches trained jointly on the source domain (e.g. masked image
            reconstruction for TTT-MAE). Each has ``loss(model, inputs)``
            returning a scalar, added as ``loss_<name>``.
        loss_combiner: how per-task losses add up; default
            ``TaskWeightCombiner`` with all weights 1.
        relation_loss_weight: lambda of the auxiliary and relation terms.
        fusion: how consumers read a multi-level neck's fused map, one of
            :data:`~.fusion.FUSIONS` (default ``'auto'``); parameters are
            the same either way, so checkpoints load into both.
        memory_format: ``'channels_last'`` converts the input batch (values
            unchanged up to float rounding; not faster on a CPU with the
            per-level fusion); ``'contiguous'`` (default) leaves it.
        data_preprocessor: defaults to ``MultiTaskDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 heads: Dict[str, dict],
                 neck: Optional[dict] = None,
                 relation_predictor: Optional[dict] = None,
                 self_supervised: Optional[Dict[str, dict]] = None,
                 loss_combiner: Optional[dict] = None,
                 relation_loss_weight: float = 0.01,
                 fusion: str = 'auto',
                 memory_format: str = 'contiguous',
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='MultiTaskDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not heads:
            raise ValueError('heads must map at least one task name to a '
                             'head config, e.g. heads=dict(semseg=dict('
                             "type='SemSegHead', num_classes=7, ...))")
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.heads = torch.nn.ModuleDict()
        for task, head_cfg in heads.items():
            head = MODELS.build(head_cfg)
            if getattr(head, 'task', None) not in (None, task):
                raise ValueError(
                    f'heads[{task!r}] is a {type(head).__name__}, which '
                    f'predicts {head.task!r}; use it under the key '
                    f'{head.task!r} or set its task={task!r}')
            head.task = task
            self.heads[task] = head
        self.relation_predictor = None
        if relation_predictor is not None:
            relation_predictor = dict(relation_predictor)
            relation_predictor.setdefault('task_channels', {
                t: h.out_channels for t, h in self.heads.items()})
            self.relation_predictor = MODELS.build(relation_predictor)
        clash = set(self_supervised or {}) & set(self.tasks)
        if clash:
            raise ValueError(f'self_supervised branch names {sorted(clash)} '
                             'are also task names; rename them')
        self.self_supervised = torch.nn.ModuleDict({
            name: MODELS.build(branch)
            for name, branch in (self_supervised or {}).items()
        })
        self.relation_loss_weight = relation_loss_weight
        if loss_combiner is None:
            loss_combiner = dict(type='TaskWeightCombiner')
        loss_combiner = dict(loss_combiner)
        if loss_combiner['type'] in ('UncertaintyWeightCombiner',
                                     's4t_mm.UncertaintyWeightCombiner'):
            loss_combiner.setdefault('tasks', self.tasks)
        self.loss_combiner = MODELS.build(loss_combiner)
        unknown = set(getattr(self.loss_combiner, 'weights', {})) - set(
            self.tasks)
        if unknown:
            raise ValueError(f'loss_combiner weights name unknown task(s) '
                             f'{sorted(unknown)}; the model has heads for '
                             f'{self.tasks}')
        if memory_format not in MEMORY_FORMATS:
            raise ValueError(f'unknown memory_format {memory_format!r}; '
                             f'valid: {", ".join(MEMORY_FORMATS)}')
        self.memory_format = memory_format
        self.fusion = resolve_fusion(fusion, self.neck, self.heads,
                                     self.self_supervised)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        # the task order travels with the checkpoint (task_order.py)
        self.register_state_dict_post_hook(store_task_order)
        self.register_load_state_dict_pre_hook(align_task_order)

    @property
    def tasks(self) -> List[str]:
        return list(self.heads.keys())

    @property
    def task_channels(self) -> Dict[str, int]:
        """Each task's raw output channels, in the task order."""
        return {task: head.out_channels for task, head in self.heads.items()}

    def task_ordered_modules(self) -> Dict[str, torch.nn.Module]:
        """The submodules whose tensors follow the task order (each has
        ``reorder_tasks(state_dict, prefix, saved_order)``), by name."""
        ordered = dict(relation_predictor=self.relation_predictor)
        if getattr(self.loss_combiner, 'tasks', None) == self.tasks:
            ordered['loss_combiner'] = self.loss_combiner
        return {k: m for k, m in ordered.items() if m is not None}

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """The neck's (or backbone's) features. With ``fusion='per_level'``
        the fused map is a :class:`DeferredConcat`, which the heads and the
        relation predictor read level by level."""
        if self.memory_format == 'channels_last':
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck.defer(feats) if self.fusion == 'per_level' \
                else self.neck(feats)
        return tuple(feats)

    def head_outputs(self, feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Raw output of every task head at the feature resolution.

        On a :class:`DeferredConcat` all heads (1x1 convolutions) run as one
        convolution over their stacked weights.
        """
        if self.fusion == 'per_level':
            fused = [feats[head.in_index] for head in self.heads.values()]
            if all(isinstance(x, DeferredConcat) and x is fused[0]
                   for x in fused):
                convs = [head.pointwise_conv for head in self.heads.values()]
                out = fused[0].conv1x1(torch.cat([c.weight for c in convs]),
                                       torch.cat([c.bias for c in convs]))
                return dict(zip(self.tasks, out.split(
                    [c.out_channels for c in convs], dim=1)))
        return {task: head(feats) for task, head in self.heads.items()}

    def relation_outputs(self, feats: Sequence[Tensor],
                         **kwargs) -> Dict[str, Dict[str, Tensor]]:
        """``dict(aux={task: raw}, rel={task: raw})`` of the relation
        predictor; keyword arguments go to its ``forward``."""
        return self._relation_predictor()(feats, **kwargs)

    def task_outputs(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Raw output of every task head at the feature resolution (what
        entropy-style objectives read; ``mode='tensor'`` resizes them)."""
        return self.head_outputs(self.extract_feat(inputs))

    def activated_outputs(self, raw: Dict[str, Tensor]
                          ) -> Dict[str, Tensor]:
        """Raw task outputs as soft predictions, each through its head's
        ``activate_soft`` at its own resolution (class probabilities, depth,
        unit normals, edge probabilities): what consistency objectives on
        the regression tasks compare."""
        unknown = sorted(set(raw) - set(self.heads))
        if unknown:
            raise KeyError(f'unknown tasks {unknown}; registered task heads: '
                           f'{", ".join(self.tasks)}')
        return {task: self.heads[task].activate_soft(x)
                for task, x in raw.items()}

    def task_weight(self, task: str) -> float:
        """The source weight of ``task`` in the loss combiner (for learned
        uncertainty weighting its current ``0.5 / s_t^2``)."""
        if task not in self.heads:
            raise KeyError(f'unknown task {task!r}; registered task heads: '
                           f'{", ".join(self.tasks)}')
        return float(self.loss_combiner.weight(task))

    def self_supervised_loss(self, branch: str, inputs: Tensor, *,
                             generator: Optional[torch.Generator] = None
                             ) -> Tensor:
        """The scalar loss of the self-supervised ``branch`` on ``inputs``
        (what TTT-MAE-style adapters minimise); ``generator`` draws its
        masks."""
        if branch not in self.self_supervised:
            raise KeyError(f'unknown self-supervised branch {branch!r}; the '
                           f'model has {sorted(self.self_supervised)}')
        return self.self_supervised[branch].loss(self, inputs,
                                                 generator=generator)

    def relation_consistency(self, inputs: Tensor, *, space: str = 'raw',
                             generator: Optional[torch.Generator] = None,
                             mask_ratio: Optional[float] = None,
                             outputs: Sequence[str] = ('reconstructed', )
                             ) -> RelationConsistency:
        """The main heads' outputs (detached: the target) beside the
        relation predictor's ``outputs`` on one pass over the features, all
        resized to the input size and mapped to ``space``.

        Args:
            inputs: (N, 3, H, W) preprocessed images.
            space: ``'raw'`` (logits, unnormalised normals, ...) or
                ``'activated'`` (``head.activate_soft``: class
                probabilities, unit normals, edge probabilities, depth).
            generator: draws the autoencoder's patch mask (default: the
                global generator).
            mask_ratio: of the reconstruction; default the predictor's.
            outputs: any of ``'reconstructed'`` (every task reconstructed
                from a masked view of all tasks' compressed features) and
                ``'aux'`` (the per-task auxiliary heads). Only what is asked
                for runs, so no random number is drawn without
                ``'reconstructed'``.
        """
        unknown = sorted(set(outputs) - set(RELATION_OUTPUTS))
        if unknown:
            raise ValueError(f'unknown relation output(s) {unknown}; valid: '
                             f'{", ".join(RELATION_OUTPUTS)}')
        main, compressed = self._main_and_compressed(inputs, space)
        predictor, size = self.relation_predictor, inputs.shape[2:]
        result = RelationConsistency(main=main)
        if 'reconstructed' in outputs:
            result = result._replace(reconstructed=self._in_space(
                predictor.reconstruct(compressed, mask_ratio, generator),
                size, space))
        if 'aux' in outputs:
            result = result._replace(aux=self._in_space(
                predictor.aux_outputs(compressed), size, space))
        return result

    def relation_views(self, inputs: Tensor, views: Sequence[Sequence[str]],
                       *, space: str = 'raw', mask_ratio: float = 0.0,
                       seed: int = 0) -> RelationViews:
        """The main heads' outputs (detached) and, for each view (a set of
        visible tasks; the others' compressed channels are zeros), every
        task reconstructed from that view alone: the probes of the task
        relations. The features are computed once; every view draws its
        mask from a generator seeded with ``seed``, so all see the same
        patches (default ``mask_ratio=0.0``: every patch). Outputs are at
        the input size, in ``space`` (see :meth:`relation_consistency`);
        all views' reconstructions are held at once.
        """
        main, compressed = self._main_and_compressed(inputs, space)
        predictor, size = self.relation_predictor, inputs.shape[2:]
        reconstructed = {}
        for view in views:
            generator = torch.Generator(
                device=inputs.device).manual_seed(seed)
            reconstructed[tuple(view)] = self._in_space(
                predictor.reconstruct(compressed, mask_ratio, generator,
                                      visible_tasks=view), size, space)
        return RelationViews(main, reconstructed)

    def _relation_predictor(self):
        if self.relation_predictor is None:
            raise RuntimeError('this model has no relation_predictor; add '
                               "one with relation_predictor=dict(type="
                               "'TaskRelationPredictor', ...)")
        return self.relation_predictor

    def _main_and_compressed(self, inputs: Tensor, space: str
                             ) -> Tuple[Dict[str, Tensor], Tensor]:
        """One pass over the features: the main heads' outputs (no
        gradient) at the input size in ``space``, and the relation
        predictor's compressed task features."""
        predictor = self._relation_predictor()
        if space not in RELATION_SPACES:
            raise ValueError(f'unknown space {space!r}; valid: '
                             f'{", ".join(RELATION_SPACES)}')
        feats = self.extract_feat(inputs)
        with torch.no_grad():
            main = self._in_space(self.head_outputs(feats), inputs.shape[2:],
                                  space)
        return main, predictor.compress(feats)

    def _in_space(self, raw: Dict[str, Tensor], size,
                  space: str) -> Dict[str, Tensor]:
        """Every task's raw output resized to ``size`` and, in the
        ``'activated'`` space, passed through ``head.activate_soft``."""
        out = {}
        for task, x in raw.items():
            head = self.heads[task]
            x = head.resize(x, size)
            out[task] = head.activate_soft(x) if space == 'activated' else x
        return out

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs)
        raise RuntimeError(f'invalid mode {mode!r}; valid: loss, predict, '
                           'tensor')

    def _forward(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Raw outputs of every head resized to the input size."""
        size = inputs.shape[2:]
        return {task: self.heads[task].resize(raw, size)
                for task, raw in self.task_outputs(inputs).items()}

    def loss(self, inputs: Tensor,
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        feats = self.extract_feat(inputs)
        targets = stack_ground_truth(data_samples, self.tasks,
                                     inputs.shape[2:])
        main = self.head_outputs(feats)
        side = self.relation_outputs(feats) \
            if self.relation_predictor is not None else {}
        task_losses, log_vars = {}, {}
        for task, head in self.heads.items():
            target = targets[task]
            task_loss = head.loss(main[task], target)
            log_vars[f'{task}.main'] = task_loss.detach()
            for kind, outputs in side.items():
                side_loss = head.loss(outputs[task], target)
                log_vars[f'{task}.{kind}'] = side_loss.detach()
                task_loss = task_loss + self.relation_loss_weight * side_loss
            task_losses[task] = task_loss
        losses = {f'loss_{task}': term
                  for task, term in self.loss_combiner(task_losses).items()}
        for name in self.self_supervised:
            losses[f'loss_{name}'] = self.self_supervised_loss(name, inputs)
        losses.update(log_vars)
        return losses

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        """One prediction per task and sample (:meth:`pack_predictions`)."""
        return self.pack_predictions(self._forward(inputs), data_samples)

    def pack_predictions(self, raw: Dict[str, Tensor],
                         data_samples: Optional[
                             List[MultiTaskDataSample]] = None
                         ) -> List[MultiTaskDataSample]:
        """Set each task's raw output of ``raw`` ((N, C_t, H, W) at the
        batched input size) as the samples' prediction (``head.activate``),
        cropped to the unpadded image and resized to ``ori_shape`` when the
        sample records one; new samples when ``data_samples`` is None."""
        n, _, *size = next(iter(raw.values())).shape
        if data_samples is None:
            data_samples = [MultiTaskDataSample(metainfo=dict(
                img_shape=tuple(size))) for _ in range(n)]
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', size)[:2]
            out_size = sample.metainfo.get('ori_shape', (h, w))[:2]
            for task, task_raw in raw.items():
                head = self.heads[task]
                task_raw = head.resize(task_raw[i:i + 1, :, :h, :w],
                                       tuple(out_size))
                sample.set_pred(task, head.activate(task_raw)[0])
        return data_samples
