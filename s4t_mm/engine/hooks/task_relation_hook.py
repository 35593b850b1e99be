"""Measure and report task relations at each validation and test run."""
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from s4t_mm.evaluation.task_relations import (first_batches, relation_items,
                                              relation_record)
from s4t_mm.registry import HOOKS
from s4t_mm.utils import dump_json_atomic
from s4t_mm.visualization.relation_plots import (HeatmapPanel, gain_notes,
                                                 plot_relations)


@HOOKS.register_module()
class TaskRelationHook(Hook):
    """Compute the task-relation matrix R of the relation predictor.

    R (T x T, rows: visible task, columns: reconstructed task; definition in
    :mod:`s4t_mm.evaluation.task_relations`) is computed without labels on
    the first ``num_batches`` batches of the split, in dataset order, with
    the model in eval mode (its modes are restored afterwards):

    - after each validation: on ``runner.val_dataloader``; every entry goes
      to the message hub as ``val/relation/<i>-><j>`` (so the val log line,
      the JSON log and TensorBoard show ``relation/<i>-><j>``), and R is
      saved as ``<work_dir>/<out_dir>/iter_<k>.png`` and ``.json`` and
      drawn with the runner's visualizer as image ``relations`` at step
      ``k``;
    - after each test run: on ``runner.test_dataloader``, logged as
      ``test/relation/<i>-><j>`` and saved as
      ``<work_dir>/<out_dir>/<experiment>/<domain>.png`` and ``.json``,
      where ``<domain>`` is the samples' ``domain`` metainfo (plus
      ``-<corruption>-<severity>`` when the test pipeline corrupts images),
      and drawn with the runner's visualizer as image
      ``relations_<domain>`` at the runner's iteration.
      With a :class:`TestTimeAdaptHook` the model is then in its adapted
      state (e.g. the paper protocol's adapted weights), so this is R after
      adaptation; ``tools/analysis_tools/relation_report.py`` shows before
      and after.

    The visualizer sends the heat maps to all its vis backends
    (``LocalVisBackend``: ``<log_dir>/vis_data/vis_image/<image>_<step>.png``,
    TensorBoard, WandB); the PNGs under ``out_dir`` stay where the docs say.

    Add it to any config whose model has a relation predictor::

        custom_hooks = [dict(type='TaskRelationHook', num_batches=4)]

    Args:
        num_batches: batches R is computed on.
        seed: seed of the relation predictor's token shuffle.
        out_dir: folder under the work dir for PNGs and JSONs.
        on_val: compute R after validation.
        on_test: compute R after each test run.
    """

    # after TestTimeAdaptHook (VERY_HIGH), before LoggerHook (BELOW_NORMAL)
    priority = 'NORMAL'

    def __init__(self, num_batches: int = 4, seed: int = 0,
                 out_dir: str = 'relations', on_val: bool = True,
                 on_test: bool = True):
        if num_batches < 1:
            raise ValueError(f'num_batches must be >= 1, got {num_batches}')
        self.num_batches = num_batches
        self.seed = seed
        self.out_dir = out_dir
        self.on_val = on_val
        self.on_test = on_test

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if self.on_val:
            self._report(runner, runner.val_dataloader, 'val',
                         f'iter_{runner.iter}')

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        if self.on_test:
            self._report(runner, runner.test_dataloader, 'test', None)

    def _report(self, runner, dataloader, mode: str,
                name: Optional[str]) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        batches = first_batches(dataloader, self.num_batches)
        matrix, record = relation_record(model, batches, self.seed)
        tasks = record['tasks']
        for key, value in relation_items(matrix, tasks):
            runner.message_hub.update_scalar(f'{mode}/relation/{key}', value)
        if name is None:
            domain = domain_name(dataloader, batches)
            name = osp.join(runner.experiment_name, domain)
            image_name = f'relations_{domain}'
        else:
            image_name = 'relations'
        record.update(mode=mode, iter=runner.iter)
        if not is_main_process():
            return
        stem = osp.join(runner.work_dir, self.out_dir, name)
        dump_json_atomic(record, stem + '.json')
        plot_relations(tasks, [HeatmapPanel(
            f'R, {mode} {name} ({record["num_images"]} images)', matrix,
            column_notes=gain_notes(record))], out_file=stem + '.png',
            visualizer=runner.visualizer, name=image_name, step=runner.iter)
        print_log(f'task relations ({mode}): {stem}.json', logger='current')


def domain_name(dataloader, batches) -> str:
    """The samples' ``domain`` metainfo (``'test'`` if absent), with
    ``-<corruption>-<severity>`` for each corruption in the pipeline."""
    samples = batches[0].get('data_samples') if batches else None
    name = str(samples[0].metainfo.get('domain', 'test')) if samples \
        else 'test'
    pipeline = getattr(dataloader.dataset, 'pipeline', None)
    for transform in getattr(pipeline, 'transforms', []):
        if hasattr(transform, 'corruption') and hasattr(transform,
                                                        'severity'):
            name += f'-{transform.corruption}-{transform.severity}'
    return name.replace(osp.sep, '_')
