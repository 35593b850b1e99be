from .adaptation import (DomainResults, check_domains, divergence_note,
                         domain_dataloader, format_table, run_domains,
                         summarize, tta_hook_cfg)
from .benchmark import run_benchmark
from .comparison import (compare, evaluate_config, method_names,
                         write_comparison)
from .multi_task_inferencer import MultiTaskInferencer
from .sync_analysis import run_sync_analysis, sync_reports, with_sync_hook
from .training import train

__all__ = [
    'DomainResults', 'MultiTaskInferencer', 'check_domains', 'compare',
    'divergence_note', 'domain_dataloader', 'evaluate_config',
    'format_table', 'method_names', 'run_benchmark', 'run_domains',
    'run_sync_analysis', 'summarize', 'sync_reports', 'train',
    'tta_hook_cfg', 'with_sync_hook', 'write_comparison'
]
