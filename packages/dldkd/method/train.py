"""The original entry point ``python method/train.py ...``: same flags as ``python -m dldkd.train``."""

import sys

from dldkd.train import main

if __name__ == "__main__":
    sys.exit(main())
