from .domain_results import (DomainResults, adaptation_settings,
                             file_digest, result_key)
from .target_domains import (check_domains, domain_dataloader, domain_list,
                             whole_batches_per_rank)
from .test_time_adapt_loop import (DomainReport, TestTimeAdaptLoop,
                                   TestTimeAdaptReport)

__all__ = [
    'DomainReport', 'DomainResults', 'TestTimeAdaptLoop',
    'TestTimeAdaptReport', 'adaptation_settings', 'check_domains',
    'domain_dataloader', 'domain_list', 'file_digest', 'result_key',
    'whole_batches_per_rank'
]
