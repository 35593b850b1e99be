from .multi_level_concat import MultiLevelConcat

__all__ = ['MultiLevelConcat']
