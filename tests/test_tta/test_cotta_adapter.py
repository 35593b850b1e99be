"""CoTTA: its teacher average, its stochastic restore, its reset and its
losses, on a tiny classifier and on the tiny multi-task model."""
import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from s4t_mm.registry import ADAPTERS, MODELS
from ..test_models.utils import synthetic_batch, tiny_model_cfg
from .test_sar_adapter import adapt_tiny_multi_task_model


class TinySegmentor(nn.Module):
    """1x1 conv - BN - ReLU - 1x1 conv to 8-class logits (1,672 adapted
    elements), the ``tensor`` mode of a segmentor."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 128, 1, bias=False)
        self.bn = nn.BatchNorm2d(128)
        self.conv2 = nn.Conv2d(128, 8, 1)

    def forward(self, inputs, mode='tensor'):
        return self.conv2(self.bn(self.conv1(inputs)).relu())


def _inputs(seed=0):
    return torch.randn(4, 3, 6, 6,
                       generator=torch.Generator().manual_seed(seed))


def _adapter(model, **kwargs):
    cfg = dict(type='CottaAdapter', confidence_threshold=0.0,
               optimizer=dict(type='Adam', lr=1.0))
    cfg.update(kwargs)
    return ADAPTERS.build(cfg).bind(model)


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_stochastic_restore_rate():
    source = _params(TinySegmentor())
    graded = {}

    def stepped(restore_prob):
        model = TinySegmentor()
        adapter = _adapter(model, restore_prob=restore_prob)
        adapter.optimizer.register_step_pre_hook(lambda *args: graded.update(
            {n: p.grad != 0 for n, p in model.named_parameters()}))
        adapter.adapt(_inputs(), steps=1, seed=3)
        return _params(model)

    # p = 0: Adam's first step moves exactly the elements with a gradient
    # (each by ~lr), nothing is restored
    moved = {n: p != source[n] for n, p in stepped(0.0).items()}
    assert all(torch.equal(moved[n], graded[n]) for n in source)
    total = sum(int(m.sum()) for m in moved.values())
    assert total > 0.99 * sum(p.numel() for p in source.values())
    for p in (0.01, 0.3, 1.0):
        after = stepped(p)
        restored = sum(int(((after[n] == source[n]) & moved[n]).sum())
                       for n in source)
        # within 5 standard deviations of the binomial count
        assert abs(restored - p * total) <= 5 * math.sqrt(
            total * p * (1 - p)) + 1e-9
    # p = 1: everything is restored, bitwise
    assert all(torch.equal(after[n], source[n]) for n in source)


def test_teacher_is_the_moving_average_of_the_student():
    model = TinySegmentor()
    source = _params(model)
    adapter = _adapter(model, teacher_momentum=0.9, restore_prob=0.0)
    teacher = dict(zip(adapter.teacher_names, adapter.teacher))
    assert all(torch.equal(teacher[n], source[n]) for n in source)
    expected = dict(source)
    for _ in range(2):
        adapter.adapt(_inputs(), steps=1)
        student = _params(model)
        expected = {n: 0.9 * expected[n] + 0.1 * student[n] for n in source}
        for n in source:
            torch.testing.assert_close(teacher[n], expected[n])
    assert not torch.allclose(teacher['conv2.weight'],
                              source['conv2.weight'])


def test_teacher_sees_the_step_before_the_restore():
    source = _params(TinySegmentor())
    students, teachers = [], []
    for restore_prob in (0.0, 1.0):
        model = TinySegmentor()
        adapter = _adapter(model, teacher_momentum=0.5,
                           restore_prob=restore_prob)
        adapter.adapt(_inputs(), steps=1)
        students.append(_params(model))
        teachers.append(dict(zip(adapter.teacher_names, adapter.teacher)))
    stepped, restored = students
    for n in source:
        assert torch.equal(restored[n], source[n])  # everything restored
        assert not torch.equal(stepped[n], source[n])
        # the teacher averaged the stepped student, not the restored one
        torch.testing.assert_close(teachers[1][n],
                                   0.5 * source[n] + 0.5 * stepped[n])


def test_reset_restores_student_and_teacher_bitwise():
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg(relation=True))
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    state = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = ADAPTERS.build(dict(
        type='CottaAdapter', num_augmentations=2, confidence_threshold=1.0,
        teacher_momentum=0.5, optimizer=dict(type='Adam', lr=0.1))
    ).bind(model)
    teacher = [t.detach().clone() for t in adapter.teacher]
    adapter.adapt(inputs, steps=3, seed=0)
    moved = [not torch.equal(a, b) for a, b in zip(teacher, adapter.teacher)]
    assert any(moved)
    adapter.reset()
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    for a, b in zip(teacher, adapter.teacher):
        assert torch.equal(a, b)
    assert not adapter.optimizer.state


def test_losses_of_a_multi_task_model_by_hand():
    """Every task's term with a teacher that differs from the student,
    computed by hand from the two models' outputs, with its loss weight:
    the semseg cross entropy between the teacher's softmax and the
    student's log-softmax; for depth, normals and edges the L1 distance of
    the activated predictions (depth clamped at the head's minimum, unit
    normals, edge probabilities)."""
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg())
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    weights = dict(semseg=0.5, depth=2.0, normals=3.0, edge=0.25)
    adapter = ADAPTERS.build(dict(
        type='CottaAdapter', confidence_threshold=0.0,
        loss_weights=weights)).bind(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # a teacher some steps away from the student
        for tensor in adapter.teacher:
            tensor.add_(0.1 * torch.randn(tensor.shape, generator=g))
    teacher_model = copy.deepcopy(model)
    teacher_params = dict(zip(adapter.teacher_names, adapter.teacher))
    with torch.no_grad():
        for name, param in teacher_model.named_parameters():
            param.copy_(teacher_params[name])
    model.train()
    teacher_model.train()
    terms = adapter.objective(model, inputs)
    with torch.no_grad():
        s = model(inputs, mode='tensor')
        t = teacher_model(inputs, mode='tensor')
    min_depth = model.heads['depth'].min_depth
    expected = {
        'semseg.cotta': -(t['semseg'].softmax(1) *
                          s['semseg'].log_softmax(1)).sum(1).mean(),
        'depth.cotta': (s['depth'].clamp(min=min_depth) -
                        t['depth'].clamp(min=min_depth)).abs().mean(),
        'normals.cotta': (F.normalize(s['normals'], dim=1) -
                          F.normalize(t['normals'], dim=1)).abs().mean(),
        'edge.cotta': (s['edge'].sigmoid() -
                       t['edge'].sigmoid()).abs().mean(),
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        task = name.split('.')[0]
        assert float(value) > 1e-3, name  # teacher != student
        torch.testing.assert_close(terms[name].detach(),
                                   weights[task] * value)
    # a task left out of loss_weights does not enter the loss
    adapter = ADAPTERS.build(dict(
        type='CottaAdapter', confidence_threshold=0.0,
        loss_weights=dict(semseg=1.0, normals=1.0))).bind(model)
    assert set(adapter.objective(model, inputs)) == {'semseg.cotta',
                                                     'normals.cotta'}
    with pytest.raises(ValueError, match=r"loss_weights name unknown "
                       r"task\(s\) \['nromals'\]; the model has \['semseg', "
                       r"'depth', 'normals', 'edge'\]"):
        ADAPTERS.build(dict(type='CottaAdapter',
                            loss_weights=dict(nromals=1.0))).bind(model)


def test_augmentations_stay_in_the_pixel_range():
    torch.manual_seed(42)
    model = MODELS.build(tiny_model_cfg())
    inputs = model.data_preprocessor(synthetic_batch())['inputs']
    adapter = ADAPTERS.build(dict(type='CottaAdapter')).bind(model)
    adapter.generator = torch.Generator().manual_seed(0)
    first = adapter.augment(model, inputs)
    adapter.generator = torch.Generator().manual_seed(0)
    assert torch.equal(adapter.augment(model, inputs), first)
    assert (first - inputs).abs().mean() > 0.05
    low, high = (0 - 128.0) / 64.0, (255 - 128.0) / 64.0
    assert first.min() >= low - 1e-5 and first.max() <= high + 1e-5


@pytest.mark.parametrize('norm_policy', ['batch_stats', 'source_stats'])
def test_adapts_every_task_of_the_tiny_multi_task_model(norm_policy):
    adapter, model, changes, moved = adapt_tiny_multi_task_model(dict(
        type='CottaAdapter', num_augmentations=2, confidence_threshold=1.0,
        norm_policy=norm_policy, adapt_modules=('backbone', 'neck', 'heads'),
        optimizer=dict(type='Adam', lr=1e-2)))
    assert adapter.stats['augmented_targets'] == 3
    assert 0.0 < adapter.last_confidence < 1.0
    tasks = {'semseg', 'depth', 'normals', 'edge'}
    assert set(adapter.last_losses) == {f'{t}.cotta' for t in tasks}
    assert set(changes) == tasks
    assert all(change > 1e-4 for change in changes.values()), changes
    assert bool(moved) == (norm_policy == 'batch_stats')
    # only the student's forward updates running statistics: once a step
    counts = {int(b) for k, b in model.named_buffers()
              if k.endswith('num_batches_tracked')}
    assert counts == ({3} if norm_policy == 'batch_stats' else {0})
