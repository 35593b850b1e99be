from .multi_level_concat import DeferredConcat, MultiLevelConcat

__all__ = ['DeferredConcat', 'MultiLevelConcat']
