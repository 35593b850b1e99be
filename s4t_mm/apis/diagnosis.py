"""What a gradient adaptation method does to a model, step by step, on the
paper protocol's adaptation batch of each domain; the engine behind
``tools/analysis_tools/diagnose_adaptation.py``.

The batch's labels are read here only to score, never given to the
adapter: it adapts on what its :class:`~s4t_mm.tta.session.AdaptationSession`
makes of the batch (ground truth stripped, then preprocessed).
"""
import copy
import math
from typing import List, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from s4t_mm.engine.runner import domain_dataloader
from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.registry import METRICS, MODELS
from s4t_mm.structures import task_map_spec
from s4t_mm.tta.protocols import protocol_config
from s4t_mm.tta.session import AdaptationSession
from .adaptation_config import tta_hook_cfg


def diagnosis_session(cfg: Config, seed: int) -> AdaptationSession:
    """The session of the config's TestTimeAdaptHook, its paper protocol
    seeded with ``seed`` (which target images form the batch)."""
    hook = tta_hook_cfg(cfg)
    if hook is None:
        raise ValueError('the config has no TestTimeAdaptHook in '
                         'custom_hooks: nothing to diagnose')
    protocol = protocol_config(hook.get('protocol'))
    if protocol['type'] != 'paper':
        raise ValueError(f'the diagnosis adapts on the paper protocol\'s '
                         f'batch; the config uses {protocol["type"]!r}')
    return AdaptationSession(hook['adapter'], dict(protocol, seed=seed),
                             seed)


def adaptation_batch(session: AdaptationSession, cfg: Config, domain: dict):
    """The paper protocol's adaptation batch of ``domain`` and the
    dataset's metainfo."""
    loader = Runner.build_dataloader(
        domain_dataloader(cfg.test_dataloader, domain))
    return (next(iter(session.protocol.adaptation_batches(loader))),
            loader.dataset.metainfo)


def score(cfg: Config, model, batch: dict, meta: dict,
          predictions=None) -> dict:
    """Metrics of the model's predictions on the batch (or of
    ``predictions``: task -> raw output at the input size) plus collapse
    indicators."""
    model.eval()
    data = model.data_preprocessor(batch, training=False)
    with torch.no_grad():
        samples = model(data['inputs'], copy.deepcopy(data['data_samples']),
                        mode='predict')
    if predictions is not None:
        model.pack_predictions(predictions, samples)
    metric = METRICS.build(dict(cfg.test_evaluator))
    metric.dataset_meta = meta
    metric.process(batch, [s.to_dict() for s in samples])
    result = metric.compute_metrics(metric.results)
    for task in samples[0].pred_tasks:
        result.update(collapse_indicators(
            task, torch.stack([s.pred(task) for s in samples])))
    return result


def collapse_indicators(task: str, pred: torch.Tensor) -> dict:
    """How close a batch's predictions (N, C, H, W) of ``task`` are to a
    constant: for a categorical task the share of its most predicted class
    and the entropy of the class shares (bits), else the mean and standard
    deviation of its values."""
    if task_map_spec(task).categorical:
        share = torch.bincount(pred.flatten()).float() / pred.numel()
        share = share[share > 0]
        return {f'collapse/{task}/top_class_share': float(share.max()),
                f'collapse/{task}/class_entropy_bits': max(
                    0.0, float(-(share * share.log2()).sum()))}
    return {f'collapse/{task}/mean': float(pred.float().mean()),
            f'collapse/{task}/std': float(pred.float().std())}


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


def diagnose_domain(session: AdaptationSession, cfg: Config, domain: dict,
                    steps: int, interval: int, seed: int) -> dict:
    """Gradient shares at step 0, a curve of scores every ``interval``
    steps up to ``steps`` and, with a relation predictor, its
    reconstruction scored against the main heads; from the source state,
    which the adapter is left in."""
    model, adapter = session.model, session.adapter
    batch, meta = adaptation_batch(session, cfg, domain)
    inputs, _ = session.unlabeled(batch, 0)
    adapter.reset()
    model.eval()
    report = dict(domain=domain['name'])
    if getattr(model, 'relation_predictor', None) is not None:
        with torch.no_grad():
            rel = model.relation_consistency(inputs).reconstructed
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
    for step in range(interval, steps + 1, interval):
        adapter.adapt(inputs, interval, seed=seed + step)
        curve.append(dict(point(step), losses=dict(adapter.last_losses)))
    report['curve'] = curve
    adapter.reset()
    return report


def diagnose(cfg: Config, checkpoint: str, domains: Sequence[dict],
             steps: int, interval: int, seed: int) -> List[dict]:
    """:func:`diagnose_domain` of every domain, with the checkpoint's
    weights in the config's model."""
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, checkpoint)
    # the adapter after the model, whose random initialisation the
    # checkpoint replaces, as the tool always built them
    session = diagnosis_session(cfg, seed)
    session.bind(model)
    return [diagnose_domain(session, cfg, d, steps, interval, seed)
            for d in domains]


def format_report(report: dict) -> str:
    """A domain's diagnosis as markdown: gradient shares, relation vs main
    heads, a table of the curve."""
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
