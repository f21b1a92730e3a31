"""The original entry point ``python method/eval.py ...``: same flags as ``python -m dldkd.test``."""

from dldkd.test import main
from videokd.cli import run_main

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="method/eval.py", keep_debug_flag=True))
