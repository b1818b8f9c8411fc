"""``python -m xor_lightning``: the command line lives in cli/main.py."""

import sys

from xor_lightning.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
