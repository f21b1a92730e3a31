"""Download KICLIP's upstream split / class-name / description files into the data root, checksum-verified.

python fetch_assets.py [DATA_ROOT] [--only k400 ucf101 hmdb51 cross_dataset] [--no-descriptions] [--list]
"""

import os
import sys

sys.path[:0] = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"),
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "core", "src"),
]

import videokd.cli  # noqa: E402
from kiclip.fetch_assets import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="fetch_assets.py"))
