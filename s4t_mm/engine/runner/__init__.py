from .multi_domain_test_loop import MultiDomainTestLoop

__all__ = ['MultiDomainTestLoop']
