"""Train TDS-CLIP (the original entry point): python train_vision.py --config CONFIG [KEY.SUB=value ...]."""

from tdsclip.runner import run_train
from videokd.cli import run_main


def main(argv=None) -> int:
    return run_train(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="train_vision.py"))
