"""``python -m mrs``: the command line (``mrs.ui.cli``)."""

import sys

from .ui.cli import main

if __name__ == "__main__":
    sys.exit(main())
