from .adaptation import (DomainResults, check_domains, divergence_note,
                         domain_dataloader, format_table, run_domains,
                         summarize, tta_hook_cfg)

__all__ = [
    'DomainResults', 'check_domains', 'divergence_note', 'domain_dataloader',
    'format_table', 'run_domains', 'summarize', 'tta_hook_cfg'
]
