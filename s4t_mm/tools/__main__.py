"""``python -m s4t_mm.tools NAME [ARGS ...]``: run the packaged
``tools/NAME.py`` (see :mod:`s4t_mm.tools`)."""
import sys

from s4t_mm.tools import packaged_tools, run_packaged_tool


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        sys.exit('usage: python -m s4t_mm.tools NAME [ARGS ...]; packaged '
                 f'tools: {packaged_tools()}')
    run_packaged_tool(sys.argv[1], sys.argv[2:])


if __name__ == '__main__':
    main()
