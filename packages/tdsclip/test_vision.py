"""Multi-view test of a TDS-CLIP checkpoint (the original entry point):
python test_vision.py --config CONFIG --weights CKPT [--test_crops 3 --test_clips 2 --dense]."""

from tdsclip.runner import run_test
from videokd.cli import run_main


def main(argv=None) -> int:
    return run_test(argv)


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="test_vision.py"))
