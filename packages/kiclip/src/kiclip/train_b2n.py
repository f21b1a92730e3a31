"""``train_b2n.py``: KICLIP base-to-novel (and cross-dataset) training, as the original script is called.

Example (what ``train_b2n_k400.sh`` runs)::

    python -m kiclip.train_b2n --cfg configs/Kinetics/KICLIP_vitb16_8x16_STAdapter_K400.yaml \\
        --opts DATA.PATH_TO_DATA_DIR data/zs_label_db/B2N_k400 TRAIN_FILE train_s3.csv ... OUTPUT_DIR runs/B2N_k400_KICLIP
"""

from __future__ import annotations

import videokd.cli

from .cli_args import parse, parser
from .runner import train


def main(argv: list[str]) -> int:
    args, cfg = parse(parser("train_b2n.py", "KICLIP training (base-to-novel or cross-dataset)"), argv)
    if not cfg.TRAIN.ENABLE:
        print("[kiclip] TRAIN.ENABLE is False: nothing to do")
        return 0
    train(cfg, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="train_b2n.py"))
