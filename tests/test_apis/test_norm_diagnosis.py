"""The per-layer normalisation diagnosis read back from stored results and
drawn."""
import matplotlib.image as mpimg
import pytest

from s4t_mm.apis import DomainResults
from s4t_mm.apis.norm_diagnosis import (plot_stored_norm_diagnosis,
                                        stored_domain_names,
                                        stored_norm_diagnosis)
from s4t_mm.apis.sync_analysis import method_parts
from s4t_mm.visualization.norm_shift_plots import stage_of
from ..test_tools.utils import load_tool

LAYERS = ['backbone.stem.1', 'backbone.layer1.0.bn1', 'backbone.layer2.0.bn1',
          'heads.depth.bn']


def _store(work_dir, method='gated', seed=0, scores=True):
    store = DomainResults(method_parts(str(work_dir), method, f'seed{seed}'))
    for domain, z in (('fog', [8.0, 6.0, 4.0, 2.0]),
                      ('camera', [2.5, 2.4, 2.6, 2.0])):
        result = dict(metrics={'semseg/mIoU': 1.0},
                      norm_weights={n: max(0.0, 1 - (3 / v) ** 2)
                                    for n, v in zip(LAYERS, z)})
        if scores:
            result['norm_scores'] = dict(zip(LAYERS, z))
        store.save(domain, dict(domain=domain, seed=seed), result)


def test_scores_and_weights_come_back_per_domain_and_layer(tmp_path):
    _store(tmp_path)
    scores, weights = stored_norm_diagnosis(str(tmp_path), 'gated',
                                            domains=['fog', 'camera'])
    assert list(scores) == ['fog', 'camera']
    assert scores['fog']['backbone.layer2.0.bn1'] == 4.0
    assert weights['camera']['backbone.stem.1'] == 0.0
    assert weights['fog']['backbone.stem.1'] == pytest.approx(1 - 9 / 64)
    out = plot_stored_norm_diagnosis(str(tmp_path), 'gated',
                                     str(tmp_path / 'fig.png'), threshold=3)
    image = mpimg.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # something is drawn


def test_missing_results_are_errors_that_say_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no stored results of "
                       "method 'gated' with seed 0"):
        stored_norm_diagnosis(str(tmp_path), 'gated')
    _store(tmp_path, scores=False)
    with pytest.raises(ValueError, match='hold no shift scores'):
        stored_norm_diagnosis(str(tmp_path), 'gated')
    with pytest.raises(KeyError, match=r"no stored result of \['snow'\]"):
        stored_norm_diagnosis(str(tmp_path), 'gated', domains=['snow'])


def test_stage_of_names_the_backbone_stage():
    assert [stage_of(n) for n in LAYERS] == [
        'backbone.stem', 'backbone.layer1', 'backbone.layer2', 'heads']


def test_layers_are_drawn_in_network_order():
    from s4t_mm.visualization.norm_shift_plots import network_order
    names = ['heads.depth.bn', 'backbone.layer10.0.bn1',
             'backbone.layer2.0.bn1', 'neck.bn', 'backbone.stem.4',
             'backbone.stem.10', 'backbone.layer2.0.bn2']
    assert network_order(names) == [
        'backbone.stem.4', 'backbone.stem.10', 'backbone.layer2.0.bn1',
        'backbone.layer2.0.bn2', 'backbone.layer10.0.bn1', 'neck.bn',
        'heads.depth.bn']


def test_the_tool_takes_the_shared_flags(tmp_path):
    """``--domains`` is the config key of the method's stored config,
    ``--only`` names domains, ``--seed`` is ``--seeds``, ``--work-dir`` the
    positional WORK_DIR."""
    _store(tmp_path)
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'gated.py').write_text(
        "reported = [dict(name='camera'), dict(name='fog')]\n")
    assert stored_domain_names(str(tmp_path), 'gated', 'reported') == [
        'camera', 'fog']
    assert stored_domain_names(str(tmp_path), 'gated', 'reported',
                               ['fog']) == ['fog']
    with pytest.raises(ValueError, match=r"unknown domain\(s\) \['fgo'\]; "
                       r"reported has \['camera', 'fog'\]"):
        stored_domain_names(str(tmp_path), 'gated', 'reported', ['fgo'])
    with pytest.raises(FileNotFoundError, match='holds no config of method '
                       "'other'"):
        stored_domain_names(str(tmp_path), 'other', 'reported')
    tool = load_tool('plot_norm_shift')
    for argv in ([str(tmp_path), '--seed', '0', '--domains', 'reported'],
                 ['--work-dir', str(tmp_path), '--seeds', '0', '--only',
                  'camera']):
        out = str(tmp_path / f'{len(argv)}.png')
        assert tool.main(argv + ['--method', 'gated', '--out', out]) == out
        assert mpimg.imread(out)[..., :3].std() > 0.05  # drawn
    args = tool.parse_args(['--out-dir', 'w', '--method', 'm', '--out',
                            'f.png'])
    assert (args.work_dir, args.seed, args.domains) == ('w', 0, None)
