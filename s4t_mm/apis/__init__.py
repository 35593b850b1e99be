from .adaptation import (DomainResults, check_domains, divergence_note,
                         domain_dataloader, format_table, run_domains,
                         summarize, tta_hook_cfg)
from .multi_task_inferencer import MultiTaskInferencer
from .sync_analysis import run_sync_analysis, with_sync_hook

__all__ = [
    'DomainResults', 'MultiTaskInferencer', 'check_domains',
    'divergence_note', 'domain_dataloader', 'format_table', 'run_domains',
    'run_sync_analysis', 'summarize', 'tta_hook_cfg', 'with_sync_hook'
]
