"""tools/adapt_images.py on a folder of photographs."""
import json

import cv2

from ..test_tools.utils import load_tool
from .utils import CONFIG, chelsea_bgr, motorcycle_bgr, save_checkpoint


def test_adapt_images_on_a_folder(tmp_path, capsys):
    folder = tmp_path / 'photos'
    folder.mkdir()
    cv2.imwrite(str(folder / 'motorcycle.jpg'), motorcycle_bgr()[::2, ::2])
    cv2.imwrite(str(folder / 'chelsea.png'), chelsea_bgr())
    checkpoint = save_checkpoint(tmp_path / 'small.pth')
    width = ['--cfg-options', 'model.backbone.base_channels=8',
             'model.backbone.stem_channels=8'] + [
        f'model.heads.{t}.in_channels=120'
        for t in ('semseg', 'depth', 'normals', 'edge')] + [
        'model.relation_predictor.in_channels=120']
    out = tmp_path / 'out'
    tool = load_tool('adapt_images')
    tool.main([CONFIG, checkpoint, str(folder), '--out-dir', str(out),
               '--method', 's4t', '--steps', '2', '--batch-size', '2',
               '--resize', '240', '160', '--raw-format', 'npy',
               '--device', 'cpu', '--no-progress'] + width)

    summary = json.loads((out / 'summary.json').read_text())
    # the config's S4T settings (its learning rate), the paper protocol on
    # the first two images in order
    assert summary['adapter']['optimizer']['lr'] == 1e-5
    assert summary['protocol'] == dict(type='paper', steps=2, num_batches=1,
                                       shuffle=False, batch_size=2)
    assert [r['name'] for r in summary['images']] == ['chelsea',
                                                      'motorcycle']
    assert summary['steps'] == 2
    assert (out / 'raw' / 'depth' / 'motorcycle.npy').exists()
    assert (out / 'panels' / 'chelsea.png').exists()
    assert 'S4TAdapter paper: 2 steps' in capsys.readouterr().out
