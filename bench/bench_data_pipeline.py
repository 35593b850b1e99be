"""Time the paper configs' data pipelines at the real datasets' resolution.

Writes fixtures in the on-disk layouts of NYUD-v2 (480x640), PASCAL-Context
(375x500 and 500x375) and Taskonomy (512x512) into a temporary folder: scenes
of the embedded world rendered at those sizes, so images carry texture and
label maps have the regions, boundaries and invalid pixels of real ones,
stored in each dataset's file formats (JPEG or PNG images, palette / 8-bit /
16-bit PNGs, .npy depth, compressed .mat label maps). Then, for the training
and the test pipeline of each dataset in the paper configs
(configs/s4t/{nyud_taskonomy,pascal_taskonomy,taskonomy_nyud}_r50.py):

- in this process, one thread: milliseconds per sample of every stage
  (decoding the image, decoding each task's map, each transform), for each
  sample the fastest of ``--passes`` passes, averaged over the samples;
- through a real ``DataLoader`` (the Runner's, batch 8, an InfiniteSampler)
  with each of ``--workers`` worker processes, one thread each: samples per
  second once every worker has delivered its first batch, the best of
  ``--loader-repeats`` fresh loaders.

On a machine shared with other jobs both are the best of a few tries: other
jobs only ever add time.

It ends with one line per dataset and pipeline,
``nyud train: 63.2 samples/s with 1 worker`` (the first of ``--workers``).

    OMP_NUM_THREADS=1 python bench/bench_data_pipeline.py
    python bench/bench_data_pipeline.py --loaders nyud_train --workers 1
    # before and after a speed-up: the pipelines' outputs must not change
    python bench/bench_data_pipeline.py --fixture-dir FIX --outputs base.json
"""
import os

# one thread per process: pin the pools before numpy, OpenCV and torch start
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[_var] = '1'

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os.path as osp  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from typing import Callable, Dict, List, Tuple  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from PIL import Image  # noqa: E402

from s4t_mm.datasets.synthetic_world_dataset import render_sample  # noqa
from s4t_mm.datasets.transforms import LoadMultiTaskAnnotations  # noqa
from s4t_mm.registry import DATASETS  # noqa: E402
from s4t_mm.utils import register_all_modules  # noqa: E402

cv2.setNumThreads(1)
torch.set_num_threads(1)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))

#: (height, width) of the real files; PASCAL-Context alternates landscape
#: and portrait images (most VOC images are 500 pixels on the long side).
RESOLUTIONS = dict(
    nyud=((480, 640), ),
    pascal=((375, 500), (500, 375)),
    taskonomy=((512, 512), ))

#: loader name -> (dataset, pipeline, config, dataloader key). PASCAL-Context
#: is never a target of these configs: its test pipeline is its validation
#: loader's. pascal_taskonomy's Taskonomy test loader is taskonomy's minus
#: depth.
LOADERS = dict(
    nyud_train=('nyud', 'train', 'nyud_taskonomy_r50', 'train_dataloader'),
    nyud_test=('nyud', 'test', 'taskonomy_nyud_r50', 'test_dataloader'),
    pascal_train=('pascal', 'train', 'pascal_taskonomy_r50',
                  'train_dataloader'),
    pascal_test=('pascal', 'test', 'pascal_taskonomy_r50', 'val_dataloader'),
    taskonomy_train=('taskonomy', 'train', 'taskonomy_nyud_r50',
                     'train_dataloader'),
    taskonomy_test=('taskonomy', 'test', 'nyud_taskonomy_r50',
                    'test_dataloader'),
)

# The embedded world's classes (floor, wall, ceiling, box, sphere, cylinder)
# as ids of each dataset, so that shared classes, classes outside the shared
# set and ignored pixels all occur.
NYUD_IDS = np.array([2, 1, 22, 7, 5, 24], np.uint8)  # 1..40, 0 = unlabeled
VOC_IDS = np.array([0, 0, 0, 11, 9, 5], np.uint8)  # 255 = boundary
CONTEXT_IDS = np.array([158, 427, 59, 81, 18, 45], np.uint16)
TASKONOMY_IDS = np.array([1, 1, 1, 7, 3, 14], np.uint8)  # 0 = uncertain
FAR = 6.5  # metres beyond which depth is stored as invalid


def render(index: int, size: Tuple[int, int]) -> Dict[str, np.ndarray]:
    return render_sample('source', 'train', index, seed=0, img_size=size)


def normals_rgb(normals: np.ndarray, sign: float = 1.) -> np.ndarray:
    return np.round((sign * normals + 1) * 127.5).clip(0, 255).astype(
        np.uint8)


def write_rgb(path: str, bgr: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.endswith('.jpg') else []
    cv2.imwrite(path, bgr, params)


def write_nyud(root: str, ids: List[str], sizes) -> None:
    """The MTI-Net / ATRC release: JPEG images, 8-bit NYU-40 labels,
    float32 .npy depth (0 invalid), RGB normals (0 invalid), 8-bit edges."""
    for folder in ('images', 'segmentation', 'depth', 'normals', 'edge',
                   'gt_sets'):
        os.makedirs(osp.join(root, folder), exist_ok=True)
    for i, sample_id in enumerate(ids):
        s = render(i, sizes[i % len(sizes)])
        edge = s['edge'] > 0
        invalid = s['depth'] > FAR
        write_rgb(osp.join(root, 'images', f'{sample_id}.jpg'), s['img'])
        seg = NYUD_IDS[s['semseg']]
        seg[edge] = 0
        cv2.imwrite(osp.join(root, 'segmentation', f'{sample_id}.png'), seg)
        np.save(osp.join(root, 'depth', f'{sample_id}.npy'),
                np.where(invalid, 0, s['depth']).astype(np.float32))
        normals = normals_rgb(s['normals'])
        normals[invalid] = 0
        Image.fromarray(normals).save(
            osp.join(root, 'normals', f'{sample_id}.png'))
        cv2.imwrite(osp.join(root, 'edge', f'{sample_id}.png'),
                    edge.astype(np.uint8) * 255)
    for split in ('train', 'val'):
        with open(osp.join(root, 'gt_sets', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')


def write_pascal(root: str, ids: List[str], sizes) -> None:
    """The MTI-Net release, the files the configs' tasks read: JPEG images,
    palette VOC labels (255 on boundaries), distilled normals and saliency,
    context label maps as compressed MATLAB files."""
    folders = ('JPEGImages', 'ImageSets/Context', 'semseg/VOC12',
               'normals_distill', 'sal_distill', 'pascal-context/trainval')
    for folder in folders:
        os.makedirs(osp.join(root, folder), exist_ok=True)
    palette = np.random.default_rng(0).integers(0, 256, 768).tolist()
    for i, sample_id in enumerate(ids):
        s = render(i, sizes[i % len(sizes)])
        edge = s['edge'] > 0
        write_rgb(osp.join(root, 'JPEGImages', f'{sample_id}.jpg'), s['img'])
        seg = VOC_IDS[s['semseg']]
        seg[edge & (seg > 0)] = 255
        voc = Image.fromarray(seg, mode='P')
        voc.putpalette(palette)
        voc.save(osp.join(root, 'semseg', 'VOC12', f'{sample_id}.png'))
        Image.fromarray(normals_rgb(s['normals'])).save(
            osp.join(root, 'normals_distill', f'{sample_id}.png'))
        saliency = cv2.GaussianBlur(s['saliency'], (0, 0), 2) * 255
        cv2.imwrite(osp.join(root, 'sal_distill', f'{sample_id}.png'),
                    saliency.round().astype(np.uint8))
        scipy.io.savemat(
            osp.join(root, 'pascal-context', 'trainval', f'{sample_id}.mat'),
            dict(LabelMap=CONTEXT_IDS[s['semseg']]),
            do_compression=True)
    for split in ('train', 'val'):
        with open(osp.join(root, 'ImageSets', 'Context', f'{split}.txt'),
                  'w') as f:
            f.write('\n'.join(ids) + '\n')


def write_taskonomy(root: str, ids: List[str], sizes) -> None:
    """The Taskonomy release: 8-bit RGB and semantic PNGs, 16-bit depth
    (1/512 m, 65535 invalid) and occlusion edges, RGB normals stored as
    ``-n``; one building per split list."""
    building = 'fixture'
    domains = ('rgb', 'segment_semantic', 'depth_zbuffer', 'normal',
               'edge_occlusion')
    for domain in domains:
        os.makedirs(osp.join(root, domain, 'taskonomy', building),
                    exist_ok=True)
    for i in range(len(ids)):
        s = render(i, sizes[i % len(sizes)])
        depth = np.round(s['depth'] * 512).clip(0, 65534).astype(np.uint16)
        depth[s['depth'] > FAR] = 65535
        strength = cv2.GaussianBlur(s['edge'], (0, 0), 2) * 3000
        files = dict(
            rgb=s['img'],
            segment_semantic=TASKONOMY_IDS[s['semseg']],
            depth_zbuffer=depth,
            normal=normals_rgb(s['normals'], sign=-1)[..., ::-1],
            edge_occlusion=strength.round().astype(np.uint16))
        for domain, array in files.items():
            cv2.imwrite(
                osp.join(root, domain, 'taskonomy', building,
                         f'point_{i}_view_0_domain_{domain}.png'), array)
    os.makedirs(osp.join(root, 'splits'), exist_ok=True)
    for split in ('train', 'val', 'test'):
        with open(osp.join(root, 'splits', f'{split}_buildings.txt'),
                  'w') as f:
            f.write(building + '\n')


WRITERS = dict(nyud=write_nyud, pascal=write_pascal,
               taskonomy=write_taskonomy)


def write_fixtures(root: str, datasets, num_samples: int,
                   scale: float) -> Dict[str, str]:
    """``{dataset: its root}`` under ``root``, written unless a previous run
    with the same arguments left them there."""
    roots = {}
    for name in datasets:
        sizes = [(max(int(h * scale), 8), max(int(w * scale), 8))
                 for h, w in RESOLUTIONS[name]]
        folder = osp.join(root, name)
        stamp = osp.join(folder, 'fixture.txt')
        signature = f'{num_samples} samples of {sizes}\n'
        if not (osp.isfile(stamp) and open(stamp).read() == signature):
            start = time.perf_counter()
            ids = [f'{i:04d}' for i in range(num_samples)]
            WRITERS[name](folder, ids, sizes)
            with open(stamp, 'w') as f:
                f.write(signature)
            print(f'wrote {num_samples} {name} samples of {sizes} (h, w) '
                  f'in {time.perf_counter() - start:.1f} s')
        roots[name] = folder
    return roots


def loader_cfg(name: str, data_root: str) -> dict:
    """The dataloader config of loader ``name`` on the fixture root."""
    _, _, config, key = LOADERS[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 's4t', f'{config}.py'))
    loader = cfg[key].to_dict()
    loader['dataset']['data_root'] = data_root
    return loader


def stages(dataset) -> List[Tuple[str, Callable]]:
    """``(name, fn)`` of every step of the dataset's pipeline, the
    annotation loader split into one loader per task (together the same
    outputs as the whole loader)."""
    steps = []
    for transform in dataset.pipeline.transforms:
        name = type(transform).__name__
        if isinstance(transform, LoadMultiTaskAnnotations):
            tasks = transform.tasks or list(
                dataset.get_data_info(0)['ann_paths'])
            steps += [(f'decode {task}',
                       _task_loader(transform, task, task == tasks[-1]))
                      for task in tasks]
        else:
            steps.append(('decode image' if name == 'LoadImageFromFile' else
                          name, transform))
    return steps


def _task_loader(loader: LoadMultiTaskAnnotations, task: str,
                 last: bool) -> Callable[[dict], dict]:
    single = LoadMultiTaskAnnotations(
        tasks=[task],
        decoders=loader.decoders,
        resize_to_image=loader.resize_to_image,
        backend_args=loader.backend_args)

    def load(results: dict) -> dict:
        results = single(results)
        if last:  # the tasks key as the whole loader leaves it
            results['tasks'] = list(
                results['ann_paths'] if loader.tasks is None else loader.tasks)
        return results

    return load


def time_stages(dataset, passes: int) -> Dict[str, Tuple[float, float]]:
    """Milliseconds per sample of every stage, wall clock and CPU time of
    this process: for each sample the fastest of ``passes`` passes (on a
    shared machine other jobs only ever add time), averaged over the
    samples. Seeded, so every pass draws the same random transforms."""
    steps = stages(dataset)
    best = defaultdict(lambda: np.full((2, len(dataset)), np.inf))
    clocks = (time.perf_counter, time.process_time)
    for _ in range(passes):
        for idx in range(len(dataset)):
            np.random.seed(idx)
            random.seed(idx)
            start = [clock() for clock in clocks]
            results = dataset.get_data_info(idx)
            spent = {'sample info': [c() - s for c, s in zip(clocks, start)]}
            for name, fn in steps:
                start = [clock() for clock in clocks]
                results = fn(results)
                spent[name] = [c() - s for c, s in zip(clocks, start)]
            for name, seconds in spent.items():
                best[name][:, idx] = np.minimum(best[name][:, idx], seconds)
    return {
        name: tuple(1e3 * times.mean(axis=1))
        for name, times in best.items() if times[0].mean() > 1e-7
    }


def pipeline_outputs(name: str, dataset) -> Dict[str, str]:
    """A digest of every array the pipeline hands the model (dtype, shape
    and bytes), per sample, seeded as in :func:`time_stages`:
    ``{'<loader>/<idx>/inputs' or '.../gt_<task>': sha256}``."""
    digests = {}
    for idx in range(len(dataset)):
        np.random.seed(idx)
        random.seed(idx)
        packed = dataset[idx]
        arrays = dict(inputs=packed['inputs'])
        sample = packed['data_samples']
        arrays.update({f'gt_{t}': sample.gt(t) for t in sample.gt_tasks})
        for key, tensor in arrays.items():
            array = np.ascontiguousarray(tensor.numpy())
            digest = hashlib.sha256(
                f'{array.dtype}{array.shape}'.encode() + array.tobytes())
            digests[f'{name}/{idx}/{key}'] = digest.hexdigest()
    return digests


def check_outputs(digests: Dict[str, str], path: str) -> None:
    """Write ``digests`` to ``path`` (JSON), or, when it exists, check
    that they are those stored there."""
    if not osp.exists(path):
        with open(path, 'w') as f:
            json.dump(digests, f, indent=0, sort_keys=True)
        print(f'\nwrote the digests of {len(digests)} pipeline outputs to '
              f'{path}')
        return
    loaders = {key.split('/')[0] for key in digests}
    with open(path) as f:
        stored = {
            key: digest
            for key, digest in json.load(f).items()
            if key.split('/')[0] in loaders
        }
    differ = sorted(k for k in stored.keys() & digests.keys()
                    if stored[k] != digests[k])
    missing = sorted(stored.keys() - digests.keys())
    extra = sorted(digests.keys() - stored.keys())
    if differ or missing or extra:
        raise AssertionError(
            f'pipeline outputs differ from {path}: {len(differ)} arrays '
            f'differ (e.g. {differ[:5]}), missing {missing[:5]}, new '
            f'{extra[:5]}')
    print(f'\npipeline outputs bitwise identical to {path} '
          f'({len(digests)} arrays)')


def cpu_seconds(pids: List[int]) -> float:
    """User + system CPU time of the processes ``pids`` so far (Linux)."""
    ticks = 0
    for pid in pids:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf('SC_CLK_TCK')


def loader_rate(dataset, batch_size: int, workers: int, batches: int,
                shuffle: bool, repeats: int) -> Tuple[float, float, float]:
    """The Runner's DataLoader over ``dataset``, the best of ``repeats``
    fresh loaders, each timed over ``batches`` batches once every worker
    has delivered its first: (samples/s, seconds to those first batches,
    samples per CPU-second of the workers while timed)."""
    runs = []
    for _ in range(repeats):
        loader = Runner.build_dataloader(
            dict(
                batch_size=batch_size,
                num_workers=workers,
                persistent_workers=False,
                sampler=dict(type='InfiniteSampler', shuffle=shuffle),
                dataset=dataset),
            seed=0)
        start = time.perf_counter()
        iterator = iter(loader)
        for _ in range(max(workers, 1)):
            next(iterator)
        pids = [w.pid for w in getattr(iterator, '_workers', [])]
        warm, cpu = time.perf_counter(), cpu_seconds(pids)
        for _ in range(batches):
            next(iterator)
        seconds = time.perf_counter() - warm
        cpu = cpu_seconds(pids) - cpu if pids else seconds
        samples = batches * batch_size
        # CPU time counts in clock ticks (10 ms): nan below one tick
        per_cpu = samples / cpu if cpu > 0 else float('nan')
        runs.append((samples / seconds, warm - start, per_cpu))
        del iterator
    return max(runs)


def run_loader(name: str, data_root: str, args,
               outputs: Dict[str, str]) -> Dict[int, float]:
    dataset_name, pipeline, config, key = LOADERS[name]
    cfg = loader_cfg(name, data_root)
    dataset = DATASETS.build(cfg['dataset'])
    if args.outputs:
        outputs.update(pipeline_outputs(name, dataset))
    print(f'\n{dataset_name} {pipeline}: configs/s4t/{config}.py {key}, '
          f'{len(dataset)} samples, tasks {list(dataset.tasks)}')
    stage_ms = time_stages(dataset, args.passes)
    wall = sum(ms for ms, _ in stage_ms.values())
    cpu = sum(ms for _, ms in stage_ms.values())
    print(f'  {"stage (one process, one thread)":34s} {"wall ms":>8s} '
          f'{"CPU ms":>8s} {"share":>6s}')
    for stage, (wall_ms, cpu_ms) in stage_ms.items():
        print(f'  {stage:34s} {wall_ms:8.2f} {cpu_ms:8.2f} '
              f'{100 * cpu_ms / cpu:5.1f}%')
    print(f'  {"total per sample":34s} {wall:8.2f} {cpu:8.2f}  -> '
          f'{1e3 / wall:.1f} samples/s, {1e3 / cpu:.1f} per CPU-second')
    rates = {}
    for workers in args.workers:
        rate, first, per_cpu = loader_rate(
            dataset, args.batch_size, workers, args.batches,
            pipeline == 'train', args.loader_repeats)
        rates[workers] = rate
        print(f'  DataLoader, batch {args.batch_size}, {workers} '
              f'worker{"s" if workers != 1 else ""}: {rate:.1f} samples/s, '
              f'{per_cpu:.1f} per CPU-second of a worker (first batches '
              f'after {first:.2f} s)')
    return rates


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--loaders', nargs='+', default=list(LOADERS), choices=list(LOADERS))
    parser.add_argument('--samples', type=int, default=32,
                        help='fixture samples per dataset')
    parser.add_argument('--scale', type=float, default=1.0,
                        help='fixture resolution relative to the real one')
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--batches', type=int, default=12,
                        help='batches timed per DataLoader')
    parser.add_argument('--passes', type=int, default=3,
                        help='passes over the fixtures timing the stages')
    parser.add_argument('--loader-repeats', type=int, default=2,
                        help='fresh DataLoaders timed per worker count '
                        '(the best counts)')
    parser.add_argument(
        '--fixture-dir',
        help='write the fixtures here and reuse them on later runs '
        '(default: a temporary folder, removed at the end)')
    parser.add_argument(
        '--outputs',
        help='a .json of digests of every pipeline output (seeded): '
        'written when it does not exist, else the outputs must match it '
        'bitwise (a check that a speed-up changed nothing)')
    args = parser.parse_args(argv)
    register_all_modules()
    datasets = sorted({LOADERS[name][0] for name in args.loaders})
    with tempfile.TemporaryDirectory() as tmp:
        roots = write_fixtures(args.fixture_dir or tmp, datasets,
                               args.samples, args.scale)
        outputs = {}
        rates = {
            name: run_loader(name, roots[LOADERS[name][0]], args, outputs)
            for name in args.loaders
        }
    if args.outputs:
        check_outputs(outputs, args.outputs)
    workers = args.workers[0]
    lines = [
        f'{LOADERS[name][0]} {LOADERS[name][1]}: '
        f'{rates[name][workers]:.1f} samples/s with {workers} '
        f'worker{"s" if workers != 1 else ""}' for name in args.loaders
    ]
    print()
    print('\n'.join(lines))
    return lines


if __name__ == '__main__':
    main()
