"""s4t_mm against a local checkout of the S4T reference code
(github wooseong97/S4T-mtl), with one set of weights, in float64 on the CPU.

    python bench/check_reference_equivalence.py --reference PATH
        [--pair nyud_taskonomy] [--size 128] [--batch-size 2] [--steps 3]
        [--lr 2e-5] [--threads 1]

The reference is imported from PATH (its code is never copied here): its
``create_config`` reads its source-training and test-time configs of the
pair, its ``get_model`` builds both models (the ImageNet download of its
ResNet is skipped: the weights are the source model's random start),
``load_pretrained_ckpt`` renames the source weights into its test-time
model, as its ``main.py`` does, and ``get_criterion`` gives its test-time
objective. The source model's state, saved in the reference's checkpoint
layout, goes through ``tools/model_converters/s4t_ref2mm.py``'s conversion
into the s4t_mm model of ``configs/s4t/<pair>_r50.py`` (strict loading).

Compared, every row as the largest absolute difference and that relative
to the largest magnitude on the reference's side (the same patch mask on
both sides):

- outputs (evaluation mode): main heads, auxiliary heads (against the
  reference's source-order model and against its test-time model, which
  reads other tasks' blocks), relation outputs;
- the test-time objective (training mode), its gradients per part, the
  parameter updates over ``--steps`` SGD steps, the parameters, BatchNorm
  statistics and uncertainty scales after them, for both pairings:
  ``task_pairing='consistent'`` (s4t_mm's default) against the reference's
  objective on its source-order model, ``task_pairing='reference'``
  against its own test-time model;
- s4t_mm's objective under one pairing against the other.

The task orders read from the reference's configs must be
``REFERENCE_TASK_ORDERS``' (else exit status 2).

The reference's fused map has the fixed size ``TRAIN.SCALE / 4`` of its
config; ``TRAIN.SCALE`` is set to ``--size``, so both fuse at the input's
stride-4 size. The reference needs ``timm``, ``einops``, ``easydict``,
``opencv`` and ``pyyaml``; install the missing ones into a throwaway venv
(``python3 -m venv --system-site-packages``), not into this environment.
Exit status 2: the path is missing or not the reference, its code does not
import here, or its task orders are not the ones s4t_mm assumes.
"""
import argparse
import copy
import importlib
import importlib.util
import os.path as osp
import sys
import tempfile
import types

import numpy as np
import torch
from mmengine.config import Config

from s4t_mm.apis.reference_checkpoint import (REFERENCE_PAIRS,
                                              TASKONOMY_NAMES,
                                              convert_reference_checkpoint,
                                              convert_reference_state)
from s4t_mm.fileio import load_model_weights
from s4t_mm.registry import ADAPTERS, MODELS
from s4t_mm.tta.adapters.s4t_adapter import REFERENCE_TASK_ORDERS
from s4t_mm.utils import register_all_modules

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
REFERENCE_FILES = ('main.py', 'models/TTT_MT.py', 'utils/common_config.py',
                   'utils/config.py', 'losses/loss_schemes.py')
#: dataset of each side of a pair (the reference's database names)
DATASETS = dict(nyud_taskonomy=('NYUD', 'Taskonomy'),
                pascal_taskonomy=('PASCALContext', 'Taskonomy'),
                taskonomy_nyud=('Taskonomy', 'NYUD'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reference', required=True,
                   help='a checkout of wooseong97/S4T-mtl')
    p.add_argument('--pair', default='nyud_taskonomy',
                   choices=sorted(REFERENCE_PAIRS))
    p.add_argument('--size', type=int, default=128,
                   help='input side, a multiple of 32')
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--lr', type=float, default=2e-5)
    p.add_argument('--threads', type=int, default=1)
    return p.parse_args(argv)


def fail(message: str):
    print(message, file=sys.stderr)
    raise SystemExit(2)


def yml(reference: str, phase: str, pair: str) -> str:
    return osp.join(reference, 'configs', 'S4T', phase,
                    f'{pair}_resnet50_S4T.yml')


def check_reference(path: str, pair: str) -> str:
    path = osp.abspath(path)
    if not osp.isdir(path):
        fail(f'--reference {path}: no such directory; check out '
             'github wooseong97/S4T-mtl there (or give its path)')
    need = list(REFERENCE_FILES) + [
        osp.relpath(yml(path, phase, pair), path)
        for phase in ('pretrain', 'ttt')]
    missing = [f for f in need if not osp.isfile(osp.join(path, f))]
    if missing:
        fail(f'--reference {path} is not a checkout of the S4T reference '
             f'(wooseong97/S4T-mtl): missing {", ".join(missing)}')
    return path


def import_reference(path: str) -> dict:
    """The reference's modules this check calls, imported from ``path``."""
    sys.path.insert(0, path)
    if not hasattr(np, 'float'):
        # its Joint_MAE.get_1d_sincos_pos_embed uses np.float (removed
        # from numpy 1.24); the builtin is what that alias was
        np.float = float
        print('note: np.float set to float for the reference '
              '(numpy >= 1.24 removed the alias it uses)')
    import_timm_layers()
    try:
        from models.cnn import resnet_FPN
        from utils import common_config, config
    except ImportError as err:
        fail(f'the reference at {path} does not import here: {err}. '
             'Install what it needs (timm, einops, easydict, opencv, '
             'pyyaml) into a throwaway venv made with --system-site-'
             'packages and run this script from it')
    # no ImageNet download: both models start from one random state
    resnet_FPN.load_state_dict_from_url = lambda *args, **kwargs: {}
    return dict(common=common_config, config=config)


def import_timm_layers() -> None:
    """Make ``from timm.models.vision_transformer import PatchEmbed, Block``
    (the reference's import) work without torchvision.

    timm's package ``__init__`` files import torchvision (data transforms,
    model utilities), which does not import beside every torch. Where it
    fails, ``timm``, ``timm.models`` and ``timm.data`` are registered as
    bare packages (their ``__init__`` not run, ``timm.data`` holding only
    its constants), so timm's own ``vision_transformer.py`` and its layers
    load unchanged.
    """
    try:
        importlib.import_module('timm.models.vision_transformer')
        return
    except ImportError as err:
        if importlib.util.find_spec('timm') is None:
            fail(f'the reference needs timm ({err}); install it (no '
                 'dependencies: pip install --no-deps timm==0.5.4) into a '
                 'throwaway venv made with --system-site-packages')
        reason = err
    for name in [m for m in sys.modules if m == 'timm' or
                 m.startswith('timm.')]:
        del sys.modules[name]
    root = importlib.util.find_spec('timm').submodule_search_locations[0]
    for name, sub in (('timm', ''), ('timm.models', 'models'),
                      ('timm.data', 'data')):
        package = types.ModuleType(name)
        package.__path__ = [osp.join(root, sub)]
        sys.modules[name] = package
    sys.modules['timm'].__version__ = importlib.import_module(
        'timm.version').__version__
    constants = importlib.import_module('timm.data.constants')
    vars(sys.modules['timm.data']).update(
        {k: v for k, v in vars(constants).items() if k.isupper()})
    importlib.import_module('timm.models.vision_transformer')
    print(f'note: timm {sys.modules["timm"].__version__} loaded without its '
          f'package __init__ files ({reason})')


def reference_cfg(ref, path, phase, pair, size):
    p = ref['config'].create_config(yml(path, phase, pair),
                                    dict(run_mode='infer'))
    p.TRAIN.SCALE = p.TEST.SCALE = (size, size)
    return p


def reference_name(task: str, dataset: str) -> str:
    return TASKONOMY_NAMES[task] if dataset == 'Taskonomy' else task


def fake_labels(tasks, dataset, n, size, channels):
    """Labels the reference's criterion reads besides the objective (its
    supervised terms are computed, then replaced by the test-time one)."""
    g = torch.Generator().manual_seed(1)
    labels = {}
    for task in tasks:
        name = reference_name(task, dataset)
        if task == 'semseg':
            gt = torch.randint(channels[task], (n, 1, size, size),
                               generator=g).double()
        elif task == 'normals':
            gt = torch.randn(n, 3, size, size, generator=g)
        else:
            gt = torch.rand(n, 1, size, size, generator=g).round()
        labels[name] = gt[:, 0] if dataset == 'Taskonomy' and \
            task != 'normals' else gt
    return labels


class Report:
    def __init__(self):
        self.rows = []

    def add(self, what, ours, theirs):
        ours, theirs = torch.as_tensor(ours), torch.as_tensor(theirs)
        diff = float((ours - theirs).abs().max())
        scale = float(theirs.abs().max())
        self.rows.append((what, diff, diff / scale if scale else 0.0,
                          scale))

    def print(self):
        width = max(len(r[0]) for r in self.rows)
        print(f'{"quantity":<{width}}  {"max |diff|":>10}  '
              f'{"relative":>10}  {"max |ref|":>10}')
        for what, diff, relative, scale in self.rows:
            relative = f'{relative:10.1e}' if scale else f'{"-":>10}'
            print(f'{what:<{width}}  {diff:10.1e}  {relative}  '
                  f'{scale:10.3g}')


def main(argv=None):
    args = parse_args(argv)
    if args.size % 32:
        fail(f'--size {args.size} is not a multiple of 32')
    path = check_reference(args.reference, args.pair)
    ref = import_reference(path)
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    register_all_modules()
    pair = REFERENCE_PAIRS[args.pair]
    source_db, target_db = DATASETS[args.pair]

    p_src = reference_cfg(ref, path, 'pretrain', args.pair, args.size)
    p_ttt = reference_cfg(ref, path, 'ttt', args.pair, args.size)
    s4t_name = {v: k for k, v in TASKONOMY_NAMES.items()}
    orders = tuple(tuple(s4t_name.get(n, n) for n in p.TASKS.NAMES)
                   for p in (p_src, p_ttt))
    if orders != REFERENCE_TASK_ORDERS[args.pair]:
        fail(f'the reference configs at {path} order the tasks {orders}, '
             f'REFERENCE_TASK_ORDERS[{args.pair!r}] says '
             f'{REFERENCE_TASK_ORDERS[args.pair]}')
    torch.manual_seed(0)
    ref_src = ref['common'].get_model(p_src).double()
    state = ref_src.state_dict()
    ref['common'].dataset_config_TTT(p_ttt)
    ref_ttt = ref['common'].get_model(p_ttt).double()
    ref_ttt.load_state_dict(ref['common'].load_pretrained_ckpt(
        p_ttt, ref_ttt, copy.deepcopy(state)))

    cfg = Config.fromfile(osp.join(ROOT, pair.config))
    ours = MODELS.build(cfg.model).double()
    with tempfile.TemporaryDirectory() as tmp:
        src = osp.join(tmp, 'checkpoint_60000.pth.tar')
        torch.save(dict(model={f'module.{k}': v for k, v in state.items()},
                        optimizer={}, scheduler={}, epoch=0, iter_count=0),
                   src)
        convert_reference_checkpoint(src, osp.join(tmp, 'converted.pth'))
        load_model_weights(ours, osp.join(tmp, 'converted.pth'))
    tasks = ours.tasks
    src_name = {t: reference_name(t, source_db) for t in tasks}
    tgt_name = {t: reference_name(t, target_db) for t in tasks}
    x = torch.randn(args.batch_size, 3, args.size, args.size,
                    generator=torch.Generator().manual_seed(0))
    report = Report()
    print(f'pair {args.pair}: input {args.batch_size} x 3 x {args.size} x '
          f'{args.size}, float64, {args.steps} SGD steps at lr {args.lr}; '
          f'reference task orders: source {p_src.TASKS.NAMES}, test time '
          f'{p_ttt.TASKS.NAMES}')

    # outputs, evaluation mode, one mask
    for m in (ours, ref_src, ref_ttt):
        m.eval()
    with torch.no_grad():
        torch.manual_seed(7)
        out = ours.relation_consistency(x, outputs=('reconstructed', 'aux'))
        torch.manual_seed(7)
        r_main, r_rel, r_aux = ref_src(x)
        torch.manual_seed(7)
        t_main, _, t_aux = ref_ttt(x)
    channels = {t: v.shape[1] for t, v in out.main.items()}
    for t in tasks:
        report.add(f'main {t} (test-time model)', out.main[t],
                   t_main[tgt_name[t]])
        report.add(f'aux {t} (source-order model)', out.aux[t],
                   r_aux[src_name[t]])
        report.add(f'aux {t} (its test-time model)', out.aux[t],
                   t_aux[tgt_name[t]])
        report.add(f'relation {t}', out.reconstructed[t], r_rel[src_name[t]])

    pairings = [('consistent', ref_src, src_name),
                ('reference', ref_ttt, tgt_name)]
    adapter_cfg = dict(cfg.custom_hooks[0]['adapter'])
    adapter_cfg['optimizer'] = dict(adapter_cfg['optimizer'], lr=args.lr)
    objectives = [
        compare_adaptation(report, pairing, copy.deepcopy(ours),
                           copy.deepcopy(ref_model), names, adapter_cfg,
                           p_ttt, ref, x, channels, target_db, pair, args)
        for pairing, ref_model, names in pairings]
    report.add('objective, consistent vs reference pairing (s4t_mm)',
               *objectives)
    report.print()


def compare_adaptation(report, pairing, ours, ref_model, names, adapter_cfg,
                       p_ttt, ref, x, channels, target_db, pair, args):
    """Objective, gradients and ``args.steps`` SGD steps of s4t_mm's
    adapter (``task_pairing=pairing``) against the reference's test-time
    objective on ``ref_model`` (outputs renamed to the test-time tasks).
    Returns s4t_mm's objective before the steps."""
    cfg = dict(adapter_cfg)
    if pairing == 'reference':
        cfg.update(task_pairing='reference', reference_pair=pair.name)
    adapter = ADAPTERS.build(cfg).bind(ours)
    criterion = ref['common'].get_criterion(p_ttt)
    params = [{'params': ref_model.parameters()}]
    if hasattr(criterion, 'AWL'):
        params.append({'params': criterion.AWL.parameters()})
    optimizer = torch.optim.SGD(params, lr=args.lr,
                                **{k: v for k, v in p_ttt.optimizer_kwargs
                                   .items() if k != 'lr'})
    tasks = list(channels)
    labels = fake_labels(tasks, target_db, x.shape[0], x.shape[2], channels)
    to_target = {names[t]: reference_name(t, target_db) for t in tasks}

    def reference_objective():
        main, rel, aux = ref_model(x)
        rename = lambda d: {to_target[k]: v for k, v in d.items()}  # noqa
        return criterion(rename(main), rename(rel), rename(aux), labels,
                         tasks=p_ttt.TASKS.NAMES)['total']

    ours.train()
    ref_model.train()
    torch.manual_seed(11)
    ours_loss = sum(adapter.objective(ours, x).values())
    torch.manual_seed(11)
    ref_loss = reference_objective()
    report.add(f'objective ({pairing})', ours_loss.detach(),
               ref_loss.detach())
    ours_loss.backward()
    ref_loss.backward()
    grads = reference_grads(ref_model, names, pair, tasks)
    own = dict(ours.named_parameters())
    parts = dict(backbone='backbone.',
                 compressor='relation_predictor.compressor.',
                 autoencoder='relation_predictor.autoencoder.',
                 heads='heads.', aux_heads='relation_predictor.aux_heads.')
    for part, prefix in parts.items():
        keys = [k for k in own if k.startswith(prefix)]
        mine = torch.cat([(own[k].grad if own[k].grad is not None else
                           torch.zeros_like(own[k])).flatten() for k in keys])
        theirs = torch.cat([grads[k].flatten() for k in keys])
        report.add(f'gradient {part} ({pairing})', mine, theirs)
    adapter.optim_wrapper.zero_grad()
    optimizer.zero_grad()

    before = {k: v.clone() for k, v in ours.state_dict().items()}
    ref_before = convert_reference_state(reference_keys(
        {k: v.clone() for k, v in ref_model.state_dict().items()}, names,
        pair), pair, tasks)
    for step in range(args.steps):
        torch.manual_seed(100 + step)
        adapter.adapt(x, 1)
        torch.manual_seed(100 + step)
        loss = reference_objective()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = ours.state_dict()
    ref_after = convert_reference_state(
        reference_keys(ref_model.state_dict(), names, pair), pair, tasks)
    for part, prefix in parts.items():
        keys = [k for k in own if k.startswith(prefix)]
        report.add(f'update of {part} over {args.steps} steps ({pairing})',
                   torch.cat([(after[k] - before[k]).flatten()
                              for k in keys]),
                   torch.cat([(ref_after[k] - ref_before[k]).flatten()
                              for k in keys]))
    keys = [k for k, _ in ours.named_parameters()]
    report.add(f'parameters after {args.steps} steps ({pairing})',
               torch.cat([after[k].flatten() for k in keys]),
               torch.cat([ref_after[k].flatten() for k in keys]))
    keys = [k for k in after if 'running' in k]
    report.add(f'BN statistics after {args.steps} steps ({pairing})',
               torch.cat([after[k].flatten() for k in keys]),
               torch.cat([ref_after[k].flatten() for k in keys]))
    if hasattr(criterion, 'AWL'):
        scales = adapter.combiner.scales.detach()
        report.add(f'uncertainty scales after {args.steps} steps '
                   f'({pairing})',
                   torch.stack([scales[adapter.combiner.tasks.index(t)]
                                for t in tasks]),
                   torch.stack([criterion.AWL.params.detach()[
                       p_ttt.TASKS.NAMES.index(reference_name(t, target_db))]
                       for t in tasks]))
    return ours_loss.detach()


def reference_keys(state, names, pair):
    """``state`` of a reference model whose tasks are called ``names``
    (s4t_mm task -> its name), keyed as the source checkpoint is."""
    back = {f'.{n}.': f'.{pair.source_names[t]}.' for t, n in names.items()}
    out = {}
    for key, value in state.items():
        if key.startswith(('heads.', 'aux_heads.')):
            kind, task, rest = key.split('.', 2)
            key = f'{kind}{back["." + task + "."]}{rest}'
        out[key] = value
    return out


def reference_grads(model, names, pair, tasks):
    """The reference's gradients (zeros where none) in s4t_mm's layout."""
    state = {k: v for k, v in model.state_dict().items()}
    for name, param in model.named_parameters():
        state[name] = param.grad if param.grad is not None else \
            torch.zeros_like(param)
    return convert_reference_state(reference_keys(state, names, pair), pair,
                                   tasks)


if __name__ == '__main__':
    main()
