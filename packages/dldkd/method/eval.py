"""The original entry point ``python method/eval.py ...``: same flags as ``python -m dldkd.evaluate``."""

import sys

from dldkd.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
