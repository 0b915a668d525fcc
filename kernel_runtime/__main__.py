"""``python -m kernel_runtime``: the ``lambda-lab`` command without the console script (for a
venv whose ``bin/`` is not on PATH, and for subprocess tests)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
