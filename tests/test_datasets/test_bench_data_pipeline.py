"""bench/bench_data_pipeline.py runs end to end on tiny fixtures in the real
layouts and ends with its summary lines (the timing itself is run by hand)."""
import importlib.util
import re
from pathlib import Path

BENCH = (Path(__file__).resolve().parents[2] / 'bench' /
         'bench_data_pipeline.py')


def load_bench():
    spec = importlib.util.spec_from_file_location('bench_data_pipeline',
                                                  BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_on_tiny_fixtures_and_ends_with_the_summary(tmp_path, capsys):
    bench = load_bench()
    digests = tmp_path / 'outputs.json'
    argv = ['--loaders', 'nyud_train', 'taskonomy_test', '--samples', '2',
            '--scale', '0.05', '--workers', '1', '--batch-size', '2',
            '--batches', '1', '--passes', '1', '--fixture-dir',
            str(tmp_path / 'fixtures'), '--outputs', str(digests)]
    lines = bench.main(argv)
    out = capsys.readouterr().out.rstrip().splitlines()
    assert out[-2:] == lines
    assert [line.split(':')[0] for line in lines] == ['nyud train',
                                                      'taskonomy test']
    for line in lines:
        assert re.fullmatch(r'\w+ \w+: \d+\.\d samples/s with 1 worker',
                            line), line
    # the stage table names the decoders of every task and the transforms
    text = '\n'.join(out)
    for stage in ('decode image', 'decode semseg', 'decode depth',
                  'decode normals', 'decode edge', 'MultiTaskRandomCrop',
                  'PhotoMetricDistortion', 'PackMultiTaskInputs'):
        assert stage in text
    # fixtures in the layouts the loaders read, at the scaled resolution
    assert (tmp_path / 'fixtures/nyud/images/0001.jpg').is_file()
    assert (tmp_path / 'fixtures/taskonomy/depth_zbuffer/taskonomy/fixture/'
            'point_1_view_0_domain_depth_zbuffer.png').is_file()
    # 2 samples x (image + 4 tasks) per loader; a second run matches them
    assert len(digests.read_text().split('": "')) - 1 == 20
    bench.main(argv)
    assert 'bitwise identical' in capsys.readouterr().out
