from .test_time_adapt_hook import TestTimeAdaptHook

__all__ = ['TestTimeAdaptHook']
