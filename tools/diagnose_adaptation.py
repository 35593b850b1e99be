"""What a gradient adaptation method does to a model, step by step.

    python tools/diagnose_adaptation.py CONFIG --checkpoint CKPT
        [--domains validation_domains] [--only NAME ...] [--steps 40]
        [--interval 5] [--seeds 0] [--work-dir DIR] [--out FILE.json]
        [--cfg-options k=v ...]

For each domain, on the paper protocol's adaptation batch (its labels are
read here only to score, never given to the adapter):

- each loss term's share of the gradient norm on the adapted parameters at
  the first step, so a term that dominates the update shows;
- every ``interval`` steps: each task's metrics on the batch, collapse
  indicators (mean edge probability, share of pixels predicted as edges,
  share of the most frequent predicted class and the entropy of the
  predicted class distribution in bits) and, for S4T, the objective under a
  fixed mask in evaluation mode (``S4TAdapter.consistency``): whether the
  steps make the main heads and the reconstruction agree at all, given that
  the target they chase moves with the backbone;
- for a model with a relation predictor, each task scored from the relation
  predictor's reconstruction (mask ratio as configured) and from the main
  heads at step 0: is the reconstruction a better or a worse prediction
  than the one it is pulled toward?

Prints a table per domain and writes everything to ``--out`` (default
``<work dir>/diagnosis.json`` when ``--work-dir`` is given).
"""
import argparse
import copy
import math
import os.path as osp

import torch
from mmengine.logging import print_log
from mmengine.runner import Runner

from s4t_mm.apis import check_domains, domain_dataloader, tta_hook_cfg
from s4t_mm.engine.checkpoint import load_model_weights
from s4t_mm.engine.launch import (add_common_args, load_tool_config,
                                  one_seed)
from s4t_mm.registry import ADAPTERS, METRICS, MODELS
from s4t_mm.structures import without_ground_truth
from s4t_mm.tta.protocols import build_protocol
from s4t_mm.utils import dump_json_atomic, register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Gradient shares and collapse indicators along '
        'adaptation')
    parser.add_argument('config', help='test-time adaptation config')
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--only', nargs='+', help='only these domains')
    parser.add_argument('--steps', type=int, default=40)
    parser.add_argument('--interval', type=int, default=5)
    parser.add_argument('--out', help='results JSON path')
    add_common_args(parser, domains='validation_domains', launcher=False)
    args = parser.parse_args(argv)
    args.seed = one_seed(parser, args)
    return args


def adaptation_batch(cfg, domain: dict, seed: int):
    """The paper protocol's adaptation batch and the dataset's metainfo."""
    hook = tta_hook_cfg(cfg)
    protocol = build_protocol(dict(hook['protocol'], seed=seed))
    loader = Runner.build_dataloader(domain_dataloader(cfg, domain))
    return (next(iter(protocol.adaptation_batches(loader))),
            loader.dataset.metainfo)


def score(cfg, model, batch: dict, meta: dict, predictions=None) -> dict:
    """Metrics of the model's predictions on the batch (or of
    ``predictions``: task -> raw output at any size) plus collapse
    indicators."""
    model.eval()
    data = model.data_preprocessor(batch, training=False)
    with torch.no_grad():
        samples = model(data['inputs'], copy.deepcopy(data['data_samples']),
                        mode='predict')
    if predictions is not None:
        size = data['inputs'].shape[2:]
        for i, sample in enumerate(samples):
            for task, raw in predictions.items():
                head = model.heads[task]
                sample.set_pred(task, head.activate(
                    head.resize(raw[i:i + 1], size))[0])
    metric = METRICS.build(dict(cfg.test_evaluator))
    metric.dataset_meta = meta
    metric.process(batch, [s.to_dict() for s in samples])
    result = metric.compute_metrics(metric.results)
    if 'edge' in samples[0].pred_tasks:
        edge = torch.stack([s.pred('edge') for s in samples])
        result['collapse/edge_prob_mean'] = float(edge.mean())
        result['collapse/edge_share'] = float((edge > 0.5).float().mean())
    if 'semseg' in samples[0].pred_tasks:
        labels = torch.stack([s.pred('semseg') for s in samples]).flatten()
        share = torch.bincount(labels).float() / labels.numel()
        share = share[share > 0]
        result['collapse/top_class_share'] = float(share.max())
        result['collapse/class_entropy_bits'] = max(
            0.0, float(-(share * share.log2()).sum()))
    return result


def gradient_shares(adapter, inputs: torch.Tensor) -> dict:
    """Each loss term's gradient norm on the adapted parameters, and its
    share of the sum of the norms."""
    adapter.set_mode()
    params = [p for _, p in adapter.adapted]
    with torch.enable_grad():
        terms = adapter.objective(adapter.model, inputs)
        norms = {}
        for name, term in terms.items():
            grads = torch.autograd.grad(term, params, retain_graph=True,
                                        allow_unused=True)
            norms[name] = math.sqrt(sum(float(g.pow(2).sum())
                                        for g in grads if g is not None))
    total = sum(norms.values()) or 1.0
    return {name: dict(value=float(terms[name].detach()), grad_norm=n,
                       share=n / total) for name, n in norms.items()}


def diagnose_domain(cfg, model, adapter, domain: dict, args) -> dict:
    batch, meta = adaptation_batch(cfg, domain, args.seed)
    unlabeled = dict(batch, data_samples=[
        without_ground_truth(s) for s in batch['data_samples']])
    inputs = model.data_preprocessor(unlabeled, training=False)['inputs']
    adapter.reset()
    model.eval()
    report = dict(domain=domain['name'])
    if getattr(model, 'relation_predictor', None) is not None:
        with torch.no_grad():
            predictor = model.relation_predictor
            rel = predictor.reconstruct(predictor.compress(
                model.extract_feat(inputs)))
        report['relation_vs_main'] = dict(
            main=score(cfg, model, batch, meta),
            relation=score(cfg, model, batch, meta, rel))
    report['gradient_shares'] = gradient_shares(adapter, inputs)
    adapter.reset()

    def point(step):
        result = dict(step=step, **score(cfg, model, batch, meta))
        if hasattr(adapter, 'consistency'):
            result['consistency'] = adapter.consistency(inputs)
        return result

    curve = [point(0)]
    for step in range(args.interval, args.steps + 1, args.interval):
        adapter.adapt(inputs, args.interval, seed=args.seed + step)
        curve.append(dict(point(step), losses=dict(adapter.last_losses)))
    report['curve'] = curve
    adapter.reset()
    return report


def format_report(report: dict) -> str:
    lines = [f'## {report["domain"]}', '', 'gradient shares at step 0: ' +
             ', '.join(f'{k} {v["share"]:.1%}'
                       for k, v in report['gradient_shares'].items())]
    if 'relation_vs_main' in report:
        main = report['relation_vs_main']['main']
        rel = report['relation_vs_main']['relation']
        keys = [k for k in main if '/' in k and not k.startswith(
            'collapse') and k in rel]
        lines.append('relation reconstruction vs main heads: ' + ', '.join(
            f'{k} {rel[k]:.3f} vs {main[k]:.3f}' for k in keys))
    keys = [k for k in report['curve'][0] if k not in ('step', 'losses')]
    lines += ['', '| step | ' + ' | '.join(keys) + ' |',
              '|' + '---|' * (len(keys) + 1)]
    for point in report['curve']:
        lines.append(f'| {point["step"]} | ' + ' | '.join(
            f'{point[k]:.3f}' for k in keys) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    # models and adapters are built here, outside a Runner's scope
    register_all_modules(init_default_scope=True)
    cfg = load_tool_config(args.config, args.checkpoint, args.work_dir,
                           args.cfg_options)
    hook = tta_hook_cfg(cfg)
    if hook is None:
        raise ValueError(f'{args.config} has no TestTimeAdaptHook in '
                         'custom_hooks: nothing to diagnose')
    domains = check_domains(cfg, args.domains)
    if args.only:
        domains = [d for d in domains if d['name'] in args.only]
    model = MODELS.build(cfg.model)
    load_model_weights(model, args.checkpoint)
    adapter = ADAPTERS.build(dict(hook['adapter'], _scope_='s4t_mm'))
    adapter.bind(model)
    reports = [diagnose_domain(cfg, model, adapter, d, args)
               for d in domains]
    for report in reports:
        print_log(format_report(report), logger='current')
    out = args.out or (osp.join(args.work_dir, 'diagnosis.json')
                       if args.work_dir else None)
    if out:
        dump_json_atomic(reports, out)
        print_log(f'written {osp.abspath(out)}', logger='current')
    return reports


if __name__ == '__main__':
    main()
