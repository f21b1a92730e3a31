"""``fetch_assets.py``: download the upstream split / class-name / description files into the data root.

    python fetch_assets.py [DATA_ROOT] [--only k400 ucf101 hmdb51 cross_dataset] [--no-descriptions]
                           [--base-url URL] [--manifest FILE] [--force] [--list]

Files land at ``DATA_ROOT/<upstream path>`` (``zs_label_db/B2N_k400/train_s3.csv``, ...), the layout the
``train_b2n_*.sh`` / ``test_b2n_*.sh`` scripts read. Sources: the raw files of the KICLIP repository at the
pinned commit; every file with a recorded SHA-256 is verified; nothing is written unless every download
succeeded and matched. Exit code 2 with a message naming the URL/file on any failure.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import videokd.cli

from .assets import DEFAULT_BASE_URL, GROUPS, MANIFEST, UPSTREAM_COMMIT, UPSTREAM_REPO, fetch, load_manifest


def _default_root() -> str:
    """``$VIDEOKD_DATA``, else ``<repo>/data`` in a source checkout (as the scripts), else ``./data``."""
    if os.environ.get("VIDEOKD_DATA"):
        return os.environ["VIDEOKD_DATA"]
    parents = Path(__file__).resolve().parents  # <repo>/packages/kiclip/src/kiclip/fetch_assets.py
    if len(parents) > 4 and (parents[4] / "core" / "src" / "videokd").is_dir():
        return str(parents[4] / "data")
    return "data"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="fetch_assets.py",
        description=f"Download KICLIP's split, class-name and description files ({UPSTREAM_REPO} at "
        f"{UPSTREAM_COMMIT[:7]}) into DATA_ROOT, verifying SHA-256 checksums.",
    )
    p.add_argument("root", nargs="?", default=None, help="data root (default $VIDEOKD_DATA or <repo>/data)")
    p.add_argument("--only", nargs="+", choices=GROUPS, default=None, help="fetch only these groups (default: all)")
    p.add_argument(
        "--no-descriptions",
        action="store_true",
        help="skip the class descriptions (*_rephrased*.json, the authors' text); the scripts then use the plain "
        "class names of raw_*_idx2cls.json",
    )
    p.add_argument("--base-url", default=None, help=f"where the files are (default {DEFAULT_BASE_URL})")
    p.add_argument("--manifest", default=None, help="a JSON manifest replacing the built-in list (mirrors, tests)")
    p.add_argument("--force", action="store_true", help="download again and replace files already present")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per download (default 60)")
    p.add_argument("--list", action="store_true", help="list the files and their checksums, download nothing")
    args = p.parse_args(argv)
    assets, base_url = MANIFEST, None
    if args.manifest:
        assets, base_url = load_manifest(args.manifest)
    base_url = args.base_url or base_url or DEFAULT_BASE_URL
    if args.list:
        for a in assets:
            print(f"{a.group:13s} {a.sha256 or 'no checksum recorded':64s} {a.path}")
        return 0
    root = Path(args.root or _default_root())
    print(f"[kiclip] fetching into {root} from {base_url}")
    report = fetch(
        root,
        assets,
        base_url=base_url,
        groups=args.only,
        descriptions=not args.no_descriptions,
        force=args.force,
        timeout=args.timeout,
    )
    print(
        f"[kiclip] {len(report['fetched'])} fetched, {len(report['present'])} already present"
        + (f", {len(report['unverified'])} without a recorded checksum" if report["unverified"] else "")
    )
    builtin = args.manifest is None
    if builtin and (args.only is None or "k400" in args.only):
        print(
            "[kiclip] note: zs_label_db/B2N_k400/val_new.csv (the base test list of test_b2n_k400.sh) is not in the "
            "upstream repository; pass --opts TEST.BASE_FILE val.csv (VoV3D video layout) or provide your own list"
        )
    if builtin and (args.only is None or "cross_dataset" in args.only):
        print(
            "[kiclip] note: label_db/weng_compress_full_splits/train.csv (cross-dataset training list) is not in the "
            "pinned snapshot; take the full K400 train list of Open-VCLIP / FROSTER"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="fetch_assets.py"))
