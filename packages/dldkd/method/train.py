"""The original entry point ``python method/train.py ...``: same flags as ``python -m dldkd.train``."""

from dldkd.train import main
from videokd.cli import run_main

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="method/train.py", keep_debug_flag=True))
