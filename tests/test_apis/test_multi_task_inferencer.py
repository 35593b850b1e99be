"""MultiTaskInferencer on real photographs (scikit-image's motorcycle and
cat) with a small S4T model whose checkpoint the tests write."""
import json
import os.path as osp
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from mmengine.infer import BaseInferencer

from s4t_mm.apis import MultiTaskInferencer
from s4t_mm.apis.inference_io import read_raw
from s4t_mm.registry import INFERENCERS
from .utils import (TASKS, chelsea_bgr, motorcycle_bgr, save_checkpoint,
                    small_cfg)

S4T = dict(type='S4TAdapter', optimizer=dict(type='SGD', lr=0.05))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'small.pth')


def check_prediction(pred, size, num_classes=6):
    """Every task at ``size`` (h, w) with values in its valid range."""
    assert sorted(pred) == sorted(TASKS)
    assert pred['semseg'].shape == size
    assert pred['semseg'].min() >= 0 and pred['semseg'].max() < num_classes
    assert pred['depth'].shape == size
    assert np.isfinite(pred['depth']).all() and pred['depth'].min() > 0
    assert pred['normals'].shape == size + (3,)
    np.testing.assert_allclose(np.linalg.norm(pred['normals'], axis=2), 1,
                               atol=1e-4)
    assert pred['edge'].shape == size
    assert pred['edge'].min() >= 0 and pred['edge'].max() <= 1


def test_every_task_at_the_input_size(checkpoint, tmp_path):
    cat_path = str(tmp_path / 'chelsea.jpg')
    cv2.imwrite(cat_path, chelsea_bgr())
    inferencer = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                     show_progress=False)
    out = tmp_path / 'out'
    results = inferencer([motorcycle_bgr(), cat_path], batch_size=2,
                         out_dir=str(out))

    sizes = [(500, 741), (300, 451)]
    for pred, size in zip(results['predictions'], sizes):
        check_prediction(pred, size)
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['num_images'] == 2 and summary['skipped'] == []
    assert summary['adapter'] is None
    for record, size, pred in zip(summary['images'], sizes,
                                  results['predictions']):
        assert tuple(record['size']) == size
        for task in TASKS:
            picture = cv2.imread(str(out / record['outputs'][task]
                                     ['picture']))
            # the map over the image, its key (legend, colour bar) below
            assert picture.shape[0] > size[0]
            assert picture.shape[1] == size[1]
            raw = read_raw(str(out / record['outputs'][task]['raw']),
                           summary['raw_encoding'][task])
            assert raw.shape[:2] == size
            tolerance = 0 if task == 'semseg' else 1e-3
            np.testing.assert_allclose(raw, pred[task], atol=tolerance)
    assert summary['images'][1]['name'] == 'chelsea'


def test_adapting_changes_the_predictions(checkpoint, tmp_path):
    images = [motorcycle_bgr(), chelsea_bgr()]
    source = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                 resize=(240, 160), show_progress=False)
    before = source(images, batch_size=2)['predictions']

    adapted = MultiTaskInferencer(
        small_cfg(), checkpoint, device='cpu', adapter=S4T,
        protocol=dict(type='paper', steps=3), resize=(240, 160),
        show_progress=False)
    seen = []
    adapt = adapted.adapter.adapt

    def record(inputs, steps, seed=None):
        seen.append(inputs)
        return adapt(inputs, steps, seed=seed)

    adapted.adapter.adapt = record
    out = tmp_path / 'out'
    results = adapted(images, batch_size=2, out_dir=str(out))

    # the adapter saw one batch of the two resized images and nothing else
    assert len(seen) == 1 and isinstance(seen[0], torch.Tensor)
    assert seen[0].shape[:2] == (2, 3) and seen[0].is_floating_point()
    for old, new, size in zip(before, results['predictions'],
                              [(500, 741), (300, 451)]):
        check_prediction(new, size)
        assert not np.allclose(old['depth'], new['depth'])
        assert not np.allclose(old['normals'], new['normals'])
    summary = results['summary']
    assert summary['steps'] == 3
    assert summary['protocol']['type'] == 'paper'
    assert summary['guard']['restored_source'] == 0
    assert all(np.isfinite(v) for v in summary['losses'][0]['losses'].values())
    assert summary['time']['adapt_s_per_image'] > 0
    palette = adapted.visualizer.palette('semseg', 6)
    for record, old, new in zip(summary['images'], before,
                                results['predictions']):
        panel = cv2.imread(str(out / record['panel']))[..., ::-1]
        h, w = record['size']
        # image + 4 tasks side by side, source-only and adapted rows,
        # under them the keys: the classes of both rows in their colours
        assert panel.shape[1] > 5 * w
        grid_h = 16 + 2 * (h + 2) + 2
        assert panel.shape[0] > grid_h
        keys = panel[grid_h:]
        shown = set(np.unique(old['semseg'])) | set(np.unique(new['semseg']))
        for class_id in range(6):
            swatch = (keys == palette[class_id]).all(axis=2)
            assert swatch.sum() >= (100 if class_id in shown else 0)
            assert swatch.any() == (class_id in shown)


def test_built_by_name_it_predicts_as_the_class_does(checkpoint):
    image = cv2.resize(chelsea_bgr(), (96, 64))
    built = INFERENCERS.build(dict(
        type='MultiTaskInferencer', model=small_cfg(), weights=checkpoint,
        device='cpu', show_progress=False))
    assert isinstance(built, BaseInferencer)
    direct = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                 show_progress=False)
    for task in TASKS:
        np.testing.assert_array_equal(built(image)['predictions'][0][task],
                                      direct(image)['predictions'][0][task])


def test_the_registry_finds_it_without_importing_apis_first():
    """``locations``: a fresh interpreter that imports only the registry
    finds the inferencer by name, and mmengine's root registry reaches it
    by its scope."""
    script = textwrap.dedent("""
        from mmengine.registry import INFERENCERS as ROOT
        from s4t_mm.registry import INFERENCERS
        found = INFERENCERS.get('MultiTaskInferencer')
        assert INFERENCERS.parent is ROOT
        assert ROOT.get('s4t_mm.MultiTaskInferencer') is found
        print(found.__module__)
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == 's4t_mm.apis.multi_task_inferencer'


def test_non_finite_predictions_recover_as_in_the_test_loop(checkpoint):
    """The session's one rule: the batch keeps its predictions (it is not
    predicted again) and the adapter restores its last good state for the
    batches that follow."""
    inferencer = MultiTaskInferencer(
        small_cfg(), checkpoint, device='cpu', adapter=S4T,
        protocol=dict(type='online', steps=1), compare=False,
        show_progress=False)
    predict, calls = inferencer.model.predict, []

    def first_batch_not_finite(*args, **kwargs):
        samples = predict(*args, **kwargs)
        if not calls:
            for sample in samples:
                sample.set_pred('depth', torch.full_like(
                    sample.pred('depth'), float('nan')))
        calls.append(len(samples))
        return samples

    inferencer.model.predict = first_batch_not_finite
    cat = cv2.resize(chelsea_bgr(), (96, 64))
    results = inferencer([np.roll(cat, 8 * i, axis=1) for i in range(4)],
                         batch_size=2)

    assert calls == [2, 2]
    depth = [p['depth'] for p in results['predictions']]
    assert np.isnan(depth[0]).all() and np.isnan(depth[1]).all()
    assert np.isfinite(depth[2]).all() and np.isfinite(depth[3]).all()
    summary = results['summary']
    assert summary['guard']['non_finite_predictions'] == 1
    assert [(e['event'], e['batch']) for e in summary['events']] == [
        ('non_finite_predictions', 0)]
    assert summary['guard']['restored_last_good'] + \
        summary['guard']['restored_source'] == 1


def test_the_paper_protocol_adapts_on_the_first_readable_images(
        checkpoint, tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    (folder / 'a_broken.png').write_text('not a picture')
    cat = cv2.resize(chelsea_bgr(), (96, 64))
    for i, name in enumerate(['b', 'c', 'd']):
        cv2.imwrite(str(folder / f'{name}.png'), np.roll(cat, 8 * i, axis=1))
    inferencer = MultiTaskInferencer(
        small_cfg(), checkpoint, device='cpu', adapter=S4T, seed=4,
        protocol=dict(type='paper', steps=2), show_progress=False)
    seeds = []
    adapt = inferencer.adapter.adapt

    def record(inputs, steps, seed=None):
        seeds.append((inputs.shape[0], steps, seed))
        return adapt(inputs, steps, seed=seed)

    inferencer.adapter.adapt = record
    summary = inferencer(str(folder), batch_size=2)['summary']
    # one batch of the images at stream positions 1 and 2 (b and c), before
    # any prediction; none after
    assert seeds == [(2, 2, int(np.random.SeedSequence([4, 1, 2])
                                .generate_state(1)[0]))]
    assert summary['steps'] == 2
    assert [r['name'] for r in summary['images']] == ['b', 'c', 'd']
    with pytest.raises(ValueError, match='shuffle=True'):
        MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                            adapter=S4T,
                            protocol=dict(type='paper', shuffle=True))


def test_unreadable_files_are_skipped_and_reported(checkpoint, tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    cat = chelsea_bgr()
    cv2.imwrite(str(folder / 'a_cat.png'), cat)
    ok, jpeg = cv2.imencode('.jpg', cat)
    (folder / 'b_truncated.jpg').write_bytes(jpeg.tobytes()[:2000])
    (folder / 'c_not_an_image.png').write_text('not a picture')
    gray16 = (cv2.cvtColor(cat, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    cv2.imwrite(str(folder / 'd_gray16.png'), gray16)
    cv2.imwrite(str(folder / 'e_rgba.png'),
                np.dstack([cat, np.full(cat.shape[:2], 200, np.uint8)]))
    (folder / 'notes.txt').write_text('taken from the extension filter')

    inferencer = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                     resize=(240, 160), show_progress=False)
    summary = inferencer(str(folder), batch_size=2,
                         out_dir=str(tmp_path / 'out'))['summary']

    assert [r['name'] for r in summary['images']] == [
        'a_cat', 'd_gray16', 'e_rgba']
    assert [r['converted_from'] for r in summary['images']] == [
        None, 'uint16 gray', 'uint8 rgba']
    skipped = {osp.basename(s['source']): s['reason']
               for s in summary['skipped']}
    assert sorted(skipped) == ['b_truncated.jpg', 'c_not_an_image.png']
    assert 'truncated' in skipped['b_truncated.jpg']


def test_bad_input_errors(checkpoint, tmp_path):
    inferencer = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                     show_progress=False)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='is empty'):
        inferencer(str(empty))
    cv2.imwrite(str(empty / 'cat.png'), chelsea_bgr())
    with pytest.raises(ValueError, match=r'extensions \.tga.*\.png'):
        inferencer(str(empty), extensions=['tga'])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        inferencer(str(tmp_path / 'missing.jpg'))
    (empty / 'cat.png').write_text('broken')
    with pytest.raises(ValueError, match='no input image could be read'):
        inferencer(str(empty))
    adapting = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                   adapter=S4T, show_progress=False)
    with pytest.raises(ValueError, match=r'cat\.png \(Unidentified'):
        adapting(str(empty))


def test_a_video_runs_online(checkpoint, tmp_path):
    video = str(tmp_path / 'walk.avi')
    cat = cv2.resize(chelsea_bgr(), (96, 64))
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (96, 64))
    for shift in range(4):
        writer.write(np.roll(cat, 8 * shift, axis=1))
    writer.release()

    inferencer = MultiTaskInferencer(
        small_cfg(), checkpoint, device='cpu', adapter=S4T,
        protocol=dict(type='online', steps=1), show_progress=False)
    results = inferencer(video, batch_size=2, out_dir=str(tmp_path / 'out'))

    summary = results['summary']
    assert [r['name'] for r in summary['images']] == [
        f'walk_{i:06d}' for i in range(4)]
    for pred in results['predictions']:
        check_prediction(pred, (64, 96))
    # one adaptation step per batch of two frames, never reset
    assert summary['steps'] == 2 and summary['guard']['resets'] == 0
    assert [r['after'] for r in summary['losses']] == ['batch 0', 'batch 1']


def test_a_photo_is_predicted_at_the_training_scale(checkpoint):
    """The embedded world trains at 128x128: a 500x741 photo is predicted
    at 86x128 and its outputs come back at 500x741."""
    inferencer = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                     show_progress=False)
    results = inferencer(motorcycle_bgr())
    summary = results['summary']
    assert summary['input_scale'] == dict(source='training_scale',
                                          scale=[128, 128])
    assert summary['images'][0]['input_size'] == [86, 128]
    check_prediction(results['predictions'][0], (500, 741))
    # the same as asking for that scale
    given = MultiTaskInferencer(small_cfg(), checkpoint, device='cpu',
                                resize=(128, 128), show_progress=False)
    again = given(motorcycle_bgr())
    assert again['summary']['input_scale'] == dict(source='resize',
                                                   scale=[128, 128])
    for task in TASKS:
        np.testing.assert_array_equal(results['predictions'][0][task],
                                      again['predictions'][0][task])


def test_without_a_training_scale_the_image_size_is_kept(checkpoint):
    cfg = small_cfg()
    cfg.train_dataloader.dataset.pop('img_size')
    image = cv2.resize(chelsea_bgr(), (60, 40))
    summary = MultiTaskInferencer(cfg, checkpoint, device='cpu',
                                  show_progress=False)(image)['summary']
    assert summary['input_scale'] == dict(source='image_size', scale=None)
    assert summary['images'][0]['input_size'] == [40, 60]
    # a test pipeline that resizes is the config's choice: kept as it is
    cfg.test_pipeline = [dict(type='MultiTaskResize', scale=(32, 32),
                              keep_ratio=False),
                         dict(type='PackMultiTaskInputs')]
    results = MultiTaskInferencer(cfg, checkpoint, device='cpu',
                                  show_progress=False)(image)
    assert results['summary']['input_scale'] == dict(source='test_pipeline',
                                                     scale=None)
    assert results['summary']['images'][0]['input_size'] == [32, 32]
    check_prediction(results['predictions'][0], (40, 60))
