"""``python -m s4t_mm.tools.test_time_adapt CONFIG ...``: the packaged
``tools/test_time_adapt.py``, same flags."""
from s4t_mm.tools import run_packaged_tool

if __name__ == '__main__':
    run_packaged_tool('test_time_adapt')
