from .adaptation import (DomainResults, check_domains, divergence_note,
                         domain_dataloader, format_table, run_domains,
                         summarize, tta_hook_cfg)
from .multi_task_inferencer import MultiTaskInferencer

__all__ = [
    'DomainResults', 'MultiTaskInferencer', 'check_domains',
    'divergence_note', 'domain_dataloader', 'format_table', 'run_domains',
    'summarize', 'tta_hook_cfg'
]
