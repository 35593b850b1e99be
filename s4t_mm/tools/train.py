"""``python -m s4t_mm.tools.train CONFIG ...``: the packaged
``tools/train.py``, same flags."""
from s4t_mm.tools import run_packaged_tool

if __name__ == '__main__':
    run_packaged_tool('train')
