"""No table or JSON holds NaN or an exploded number silently: a domain whose
adaptation diverged is marked, explained and left out of means."""
import json
import math
import os

import pytest

from s4t_mm.apis import divergence_note, format_table, summarize
from s4t_mm.utils import dump_json_atomic

SOURCE = {'semseg/mIoU': 40.0, 'depth/rmse': 0.5, 'semseg/mAcc': 50.0}
KEYS = ['semseg/mIoU', 'depth/rmse']


def _run(miou, rmse, stats=None, events=()):
    return dict(metrics={'semseg/mIoU': miou, 'depth/rmse': rmse,
                         'semseg/mAcc': 50.0},
                tta_stats=dict(dict(steps=4, skipped_non_finite_loss=0),
                               **(stats or {})),
                tta_events=list(events))


def _summary(*runs, source=SOURCE):
    """One domain, one adapted run per seed."""
    return summarize({'d': dict(metrics=source, tta_stats=None)},
                     [{'d': run} for run in runs],
                     seeds=list(range(len(runs))))['d']


def _strict_load(path):
    def refuse(name):
        raise AssertionError(f'{name} in {path}')
    with open(path) as f:
        return json.load(f, parse_constant=refuse)


def test_a_finite_domain_is_summarised_as_before():
    s = _summary(_run(44.0, 0.45), _run(42.0, 0.40))
    assert not s['diverged'] and s['divergence'] == []
    assert s['adapted']['semseg/mIoU'] == pytest.approx(43.0)
    # (+10 % + 10 %) / 2 and (+5 % + 20 %) / 2
    assert s['delta_m_per_seed'] == pytest.approx([10.0, 12.5])
    assert s['delta_m'] == pytest.approx(11.25)
    table = format_table({'d': s}, KEYS)
    assert '| d | 40.000 -> 43.000 ± 1.000 | 0.500 -> 0.425 ± 0.025 | ' \
        '+11.25 ± 1.25 |' in table


def test_non_finite_metric_marks_the_domain_diverged(tmp_path):
    s = _summary(_run(44.0, 0.45), _run(42.0, float('nan')))
    assert s['diverged']
    assert s['divergence'] == ['seed 1: depth/rmse is not finite']
    assert s['adapted']['depth/rmse'] is None
    assert s['adapted']['semseg/mIoU'] == pytest.approx(43.0)
    assert s['delta_m'] is None and s['delta_m_std'] is None
    assert s['delta_m_per_seed'][0] == pytest.approx(10.0)
    assert s['delta_m_per_seed'][1] is None
    table = format_table({'d': s}, KEYS)
    assert 'nan' not in table.lower()
    assert '| 0.500 -> diverged | diverged |' in table
    assert divergence_note({'d': s}) == (
        '- d: diverged, left out of the mean (seed 1: depth/rmse is not '
        'finite)')
    dump_json_atomic({'d': s}, str(tmp_path / 'r.json'))
    loaded = _strict_load(tmp_path / 'r.json')['d']
    assert loaded['adapted_per_seed']['1']['depth/rmse'] is None


def test_an_exploded_metric_is_not_a_result():
    # the issue's second case: depth RMSE 6.45e33 printed as a result
    s = _summary(_run(44.0, 6.45e33))
    assert s['diverged'] and s['delta_m'] is None
    assert s['divergence'] == [
        'seed 0: depth/rmse 6.45e+33 exploded (source-only 0.5)']
    assert s['adapted']['depth/rmse'] is None
    assert 'e+33' not in format_table({'d': s}, KEYS)


def test_non_finite_events_mark_the_domain_diverged():
    events = [dict(step=3, event='non_finite_loss',
                   action='restored_last_good'),
              dict(step=4, event='non_finite_loss',
                   action='restored_last_good'),
              dict(step=4, event='consecutive_failures', action='stopped')]
    s = _summary(_run(44.0, 0.45),
                 _run(44.0, 0.45, stats=dict(skipped_non_finite_loss=2,
                                             stopped=1), events=events))
    assert s['diverged'] and s['delta_m'] is None
    assert s['divergence'] == ['seed 1: 2 x non finite loss at steps 3, 4; '
                               'adaptation stopped at step 4']
    # finite metrics keep their means; only delta_m is withheld
    assert s['adapted']['depth/rmse'] == pytest.approx(0.45)
    assert s['tta_events'] == [[], events]


def test_a_non_finite_source_metric_is_named():
    s = _summary(_run(44.0, 0.45),
                 source=dict(SOURCE, **{'depth/rmse': float('inf')}))
    assert s['diverged']
    assert s['divergence'] == ['source-only depth/rmse is not finite']
    assert s['source']['depth/rmse'] is None
    assert '| not finite -> 0.450 ± 0.000 |' in format_table({'d': s}, KEYS)


def test_json_is_strict(tmp_path):
    dump_json_atomic(dict(a=float('nan'), b=[float('inf'), 1.5],
                          c=(1, 2)), str(tmp_path / 'x.json'))
    assert _strict_load(tmp_path / 'x.json') == dict(a=None, b=[None, 1.5],
                                                     c=[1, 2])


def test_an_interrupted_json_write_keeps_the_previous_file(
        tmp_path, monkeypatch):
    # resumable runs store every finished unit this way: a kill during the
    # write must not leave a truncated file that --resume would then read
    path = tmp_path / 'part.json'
    dump_json_atomic(dict(a=1), str(path))

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        dump_json_atomic(dict(a=2), str(path))
    assert _strict_load(path) == dict(a=1)
    assert [p.name for p in tmp_path.iterdir()] == ['part.json']


def test_the_issue_case_on_the_tiny_model(tmp_path):
    """AuxConsistency with source statistics on a brightness-4 target and a
    learning rate that explodes: every failed step is undone, the domain is
    reported as diverged, not as a result."""
    from s4t_mm.apis import run_domains
    from ..test_tta.tiny_runner import save_tiny_checkpoint, tiny_tta_cfg
    ckpt = save_tiny_checkpoint(tmp_path / 'tiny.pth')
    cfg = tiny_tta_cfg(tmp_path / 'work', tmp_path / 'cache', steps=40,
                       adapter=dict(type='AuxConsistencyAdapter',
                                    norm_policy='source_stats',
                                    optimizer=dict(type='SGD', lr=1e3)))
    domain = dict(name='warm-brightness-4',
                  dataset=dict(style='target_warm'),
                  corruption=dict(corruption='brightness', severity=4))
    runs = [run_domains(cfg, ckpt, [domain], adapt=adapt, seed=0,
                        work_dir=str(tmp_path / 'work'), name=str(adapt))
            for adapt in (False, True)]
    summary = summarize(runs[0], runs[1:], seeds=[0])
    s = summary[domain['name']]
    stats = s['tta_stats'][0]
    # every step after the last good one failed and was undone at once;
    # the flags are read when adapt() ends, which stops the domain there
    failed = stats['undone_non_finite_grads']
    assert stats['stopped'] == 1 and stats['steps'] + failed == 40
    assert sum(e['event'] == 'non_finite_gradients'
               for e in s['tta_events'][0]) == failed > 3
    # the last good step's state, whose own loss no step saw, predicts
    # non-finite values on the first batch (then the source state comes
    # back): those metrics are null in the results, never NaN
    assert all(v is None or math.isfinite(v) for v in s['adapted'].values())
    assert s['diverged'] and s['delta_m'] is None
    assert s['divergence'][0].startswith(
        f'seed 0: {failed} x non finite gradients at steps ')
    assert s['divergence'][0].endswith('; adaptation stopped at step '
                                       f'{s["tta_events"][0][-1]["step"]}')
    table = format_table(summary, KEYS)
    assert table.endswith('| diverged |') and 'nan' not in table.lower()
