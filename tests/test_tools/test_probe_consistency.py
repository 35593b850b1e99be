"""tools/analysis_tools/probe_consistency.py on the tiny setup, and the
probe's summaries on hand-made records."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from s4t_mm.engine.runner import domain_dataloader
from s4t_mm.apis.consistency_probe import (prediction_losses,
                                           probe_summary, selection)
from s4t_mm.evaluation.cross_task_consistency import (consistency_energy,
                                                      path_statistics)
from s4t_mm.fileio import load_model_checkpoint
from s4t_mm.registry import MODELS
from s4t_mm.tta.protocols import PaperProtocol
from .utils import load_tool, tiny_method_table

REFERENCE = dict(name='reference',
                 dataset=dict(style='source', split='val', num_samples=8))


def _table(tmp_path):
    return tiny_method_table(
        tmp_path, dict(bn_adapt=dict(type='NormStatsAdapter', momentum=1.0)),
        consistency_reference=REFERENCE)


def test_probe_energies_and_delta_m(tmp_path):
    table, ckpt = _table(tmp_path)
    work = tmp_path / 'probe'
    result = load_tool('probe_consistency').main(
        [table, '--work-dir', str(work)])
    with open(work / 'comparison.json') as f:
        compared = json.load(f)
    assert (work / 'consistency_probe.md').read_text().startswith(
        '| domain | seed |')
    assert set(result['records']) == {'warm', 'cool'}

    # recompute the source state's energy on warm's adaptation batch
    cfg = Config.fromfile(table)
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, ckpt)
    reference = Runner.build_dataloader(
        domain_dataloader(cfg.test_dataloader, REFERENCE))
    losses = [prediction_losses(model, b) for b in reference]
    stats = path_statistics({p: torch.cat([b[p] for b in losses])
                             for p in result['paths']})
    assert set(stats) == set(result['reference'])
    for path, (mean, mad) in result['reference'].items():
        assert stats[path] == pytest.approx((mean, mad)), path
    loader = Runner.build_dataloader(domain_dataloader(
        cfg.test_dataloader, cfg.target_domains[0]))
    batch = next(iter(PaperProtocol(seed=0).adaptation_batches(loader)))
    energy = consistency_energy(prediction_losses(model, batch), stats)
    record = result['records']['warm'][0]
    assert record['source']['energy'] == pytest.approx(float(energy.mean()))
    # BN-adapt with the batch's own statistics changes the predictions
    assert record['bn_adapt']['energy'] != pytest.approx(
        record['source']['energy'], abs=1e-6)
    assert record['bn_adapt']['delta_m'] == compared['methods'][
        'bn_adapt']['summary']['warm']['delta_m_per_seed'][0]


def _record(source, adapted, delta_m, path_changes=(0.0, 0.0)):
    paths = ('normals_from_depth', 'semantic_boundaries')
    return dict(
        source=dict(energy=source, losses=dict.fromkeys(paths, 1.0)),
        bn=dict(energy=adapted, delta_m=delta_m,
                losses={p: 1.0 + c for p, c in zip(paths, path_changes)}))


def test_probe_summary_and_selection_hand_made():
    result = dict(
        paths=['normals_from_depth', 'semantic_boundaries'], methods=['bn'],
        records=dict(
            a={0: _record(0.0, -1.0, +5.0, (-1, 1)),    # right
               1: _record(0.0, +1.0, +3.0, (-1, 1))},   # wrong
            b={0: _record(1.0, 0.5, -4.0, (1, -1)),     # wrong, harmful
               1: _record(1.0, 2.0, -2.0, (1, -1))}))   # right
    summary = probe_summary(result, 'bn')
    assert summary['pairs'] == 4
    assert summary['energy']['right'] == 2
    # normals alone: down on a (both helpful), up on b (both harmful)
    assert summary['normals_from_depth']['right'] == 4
    assert summary['semantic_boundaries']['right'] == 0
    assert summary['normals_from_depth']['spearman'] == pytest.approx(
        -0.8944, abs=1e-4)
    assert summary['harmful_chosen'] == ['b seed 0 (-4.00)']
    rows = selection(result)
    assert [(r['chosen'], r['delta_m'], r['oracle']) for r in rows] == [
        ('bn', 5.0, 'bn'), ('source', 0.0, 'bn'), ('bn', -4.0, 'source'),
        ('source', 0.0, 'source')]
