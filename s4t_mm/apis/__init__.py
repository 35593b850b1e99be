from .adaptation import (check_domains, domain_dataloader, format_table,
                         run_domains, summarize, tta_hook_cfg)

__all__ = [
    'check_domains', 'domain_dataloader', 'format_table', 'run_domains',
    'summarize', 'tta_hook_cfg'
]
