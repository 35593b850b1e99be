from s4t_mm.engine.runner import (DomainResults, check_domains,
                                  domain_dataloader)
from .adaptation import build_runner, run_domains, evaluate_domains
from .adaptation_config import (result_key, adaptation_run_cfg,
                                tta_hook_cfg, with_seed)
from .benchmark import run_benchmark
from .benchmark_workers import run_in_workers
from .comparison import (adaptation_runs, compare, method_names,
                         write_adaptation_results, write_comparison)
from .divergence import divergence_note, format_table, summarize
from .multi_task_inferencer import MultiTaskInferencer
from .sync_analysis import run_sync_analysis, sync_reports, with_sync_hook
from .training import train

__all__ = [
    'DomainResults', 'MultiTaskInferencer', 'adaptation_runs',
    'build_runner', 'check_domains', 'compare', 'divergence_note',
    'domain_dataloader', 'format_table', 'method_names', 'result_key',
    'run_benchmark', 'run_domains', 'run_in_workers', 'run_sync_analysis',
    'summarize', 'sync_reports', 'evaluate_domains', 'adaptation_run_cfg',
    'train', 'tta_hook_cfg', 'with_seed', 'with_sync_hook',
    'write_adaptation_results', 'write_comparison'
]
