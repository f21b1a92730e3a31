"""Weight averaging of a KICLIP run's per-epoch checkpoints (the original tool, with arguments).

python weight_average_tool.py RUN/checkpoints --start 2 --end 22 [--output FILE] [--clip ViT-B-16.pt]
"""

import os
import sys

sys.path[:0] = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"),
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core", "src"),
]

import videokd.cli  # noqa: E402
from kiclip.weight_average_tool import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="weight_average_tool.py"))
