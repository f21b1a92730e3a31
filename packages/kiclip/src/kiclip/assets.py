"""The upstream split, label-name and class-description files KICLIP's scripts read, and how to fetch them.

The files live in the KICLIP repository (``gufranSabri/KICLIP``, pinned at commit :data:`UPSTREAM_COMMIT`,
the snapshot the spec studied); they are the FROSTER files (``Visual-AI/FROSTER``) apart from three UCF101
lists rewritten with commas and HMDB51's ``val_test.csv``. Nothing of them is shipped here: only their
upstream paths, which are also the paths under the data root that the scripts read, and checksums.

:data:`MANIFEST` lists every file with its group, SHA-256 and size. A checksum is recorded only for files
whose complete upstream content was available to check (a copy whose size equals the upstream file's, whose
line count matches the spec, content spot-checked); the others say "no checksum recorded" when fetched and
are not verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from videokd.errors import UserError

__all__ = [
    "UPSTREAM_REPO",
    "UPSTREAM_COMMIT",
    "DEFAULT_BASE_URL",
    "GROUPS",
    "Asset",
    "MANIFEST",
    "AssetError",
    "ChecksumError",
    "load_manifest",
    "sha256_bytes",
    "fetch",
]

UPSTREAM_REPO = "gufranSabri/KICLIP"
UPSTREAM_COMMIT = "4bf503f5dece26ce45d77b5c17608590cf6c4a87"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/"
GROUPS = ("k400", "ucf101", "hmdb51", "cross_dataset")

#: group, sha256 ("-": none recorded), size in bytes ("-": unknown), path (upstream = under the data root)
_TABLE = """
hmdb51        bae5eafbce6e92dbc8d70040291703929c3c9ca4eacedcd049dd3e0ae47d0549  27320 zs_label_db/B2N_hmdb/train.csv
hmdb51        01852f2313e87dc664071d011160a8bbac28648773d21d583280f2d7e9acf171  51339 zs_label_db/B2N_hmdb/val.csv
hmdb51        b14d47fd97b729a7018c1e21ccc5efd83d66cb0cdfda709a8895706a8463e38b  50917 zs_label_db/B2N_hmdb/val_test.csv
hmdb51        748dd4f6cc1ac61c2f41a09dadbd7eb1b0ded962e9ba0a42c4c0433d043e9b2f  51391 zs_label_db/B2N_hmdb/test.csv
hmdb51        a9c5e5fc283de88a92efffda762c90b26383d6fb8adc707c487f1a11e66fb672   2866 zs_label_db/B2N_hmdb/train_rephrased.json
hmdb51        10a940f8b79dd2f7ea34be6bc059cfb008812e7d3dbb16b2ac9314444c3a6c24   2315 zs_label_db/B2N_hmdb/test_rephrased.json
hmdb51        b6c2bb3f168daa922d62548806853a514cb8676dbf6a9bb6c7bd27a0df450de8    423 zs_label_db/B2N_hmdb/raw_train_idx2cls.json
hmdb51        2d6d368e05a9045313cc75906fb55e0c1589f7031c1d0390106a172d04cf5b19    393 zs_label_db/B2N_hmdb/raw_test_idx2cls.json
ucf101        e945a6c3e51b48fb3ae71f0d06a5792d9027ee818c86aa8c2aad0bb61a26669c  23231 zs_label_db/B2N_ucf101/train_s1.csv
ucf101        1135a00da926c9cde3c0e22262c6dea845ad2386d7dc9fde2f17a39f3ea307c5  59516 zs_label_db/B2N_ucf101/val_1.csv
ucf101        69e75c2e72720cd2bdbf0f921e6d2b47a7831de2d40045faccf6cc247e001332  48617 zs_label_db/B2N_ucf101/test_raw.csv
ucf101        c9ee160f11c93d1f587ac568d20eae1981d4957d9c014bf7eb97810962d24c4a  32751 zs_label_db/B2N_ucf101/train.csv
ucf101        6e55de65b0708084a9becc937ee31bd0642b7b4ec80da47251fd2605726f8674  83912 zs_label_db/B2N_ucf101/val.csv
ucf101        53b5668a5284430a5263bec4060eebd4a48183f986a2275d9ebdf38fecf08759  68716 zs_label_db/B2N_ucf101/test.csv
ucf101        39e0906a534ec22213feb1ad93af71af389d5dbbeb3c2e2a31c2479a944fc8c5   8892 zs_label_db/B2N_ucf101/train_rephrased.json
ucf101        c2c31aba9fc30955328e967a14df9987fbf00f03a38f176ff236464c50eb0f9c   8837 zs_label_db/B2N_ucf101/test_rephrased.json
ucf101        a0bf272dd2e7f243cd5142d3704328c930c268d11ac1c19032788c90e1389a8a   1085 zs_label_db/B2N_ucf101/raw_train_idx2cls.json
ucf101        95e57ec4daf60ca9ca7275cfcbb5599928347555584dde3397c9fa774a4b2f49   1081 zs_label_db/B2N_ucf101/raw_test_idx2cls.json
k400          663df03e80e371c31d5321167c877075e9d07b77c6e1c90effb63c09c3a136a3 126239 zs_label_db/B2N_k400/train_s1.csv
k400          8a672b5812ac26c9e867dca0f6d9fa4559c02580c3c6a6e2f49ecd81b62f9f5b 126239 zs_label_db/B2N_k400/train_s2.csv
k400          ae9eb0433c3a75000ab90c53953121661e4e069f1ee50040db23a180398ef058 126239 zs_label_db/B2N_k400/train_s3.csv
k400          7c95d269d6d24e1af0ca263724e2a1b9c2bee3d1b116a3c2a21f98909f6a357b 170110 zs_label_db/B2N_k400/train_1.csv
k400          d8bf6938204543a0bb301a85b2779fd60f299e25e11a2c237dcc0e4e83628014 169767 zs_label_db/B2N_k400/train_2.csv
k400          e0591f1da8a13e3dbc7dce2215b07fe78d84c09669d308c0b36a8376fab8d406 169459 zs_label_db/B2N_k400/train_3.csv
k400          5e9dd7156d60527cb0ca2cd3ab9c1412e956673b298e1485c20eeccdc896d375 382215 zs_label_db/B2N_k400/val.csv
k400          069721507e9a79253354f0a805d5bb97d4894ae4d8e5124b668eca6449ffc7f8 377979 zs_label_db/B2N_k400/test.csv
k400          9011b7baa003bb1b632f8565e6f0c8d4b67a1242c073b52ba307f1754a3bd020 371997 zs_label_db/B2N_k400/test_1.csv
k400          42c94cbdf7fa3a2fada11cf3c87e946f5305b5f5d1981a5d8b0a5438a60c6427  33795 zs_label_db/B2N_k400/train_rephrased.json
k400          47d89ac2bd66b6e52c9b5e62ddc8b1585d163c0a3829f0ae45e9e9ed4f759c73  32740 zs_label_db/B2N_k400/test_rephrased.json
k400          2e3df6f0d16e8ccf367dda6fb517bc5708c2a83ecfbb3dee63c4841b5cae7e93   4910 zs_label_db/B2N_k400/raw_train_idx2cls.json
k400          9112cf721e6bccaec91cc5795fcb0182433e7d9a4257bd76f4d34a7df06547b1   4836 zs_label_db/B2N_k400/raw_test_idx2cls.json
cross_dataset -                                                                     - label_db/weng_compress_full_splits/val.csv
cross_dataset -                                                                     - label_db/weng_compress_full_splits/test.csv
cross_dataset e164cf9e2c482e175eb898cdf93fa9ff52e8c21605196aec09a184ddaad0e092  66645 label_rephrase/k400_rephrased_classes.json
cross_dataset e11a5f454fbbd74621bc82878e94a22519c312a687da46ea14123b7e151b8bc3   5191 label_rephrase/hmdb_rephrased_classes.json
cross_dataset a0fa79cdf10c1068c9b6ac2fe75109377d80a442ab59c640d3f95dd419368f3e  17740 label_rephrase/ucf101_rephrased_classes.json
cross_dataset ed020e0ea4797f1117cefc8e4e823fc60f126e08ccaef7e6670e4ac2b6ac77a6  22337 label_rephrase/k600_split1_rephrased_classes.json
cross_dataset 4cc186badb1895a3deb5d76e79500ebb4dd3a0646abdfae936d21f906202af61  22648 label_rephrase/k600_split2_rephrased_classes.json
cross_dataset 32e6dd85cfbb6232d6f332ea6bce2e07b6782915d7fd551267be5bb227ae700f  22700 label_rephrase/k600_split3_rephrased_classes.json
"""


class AssetError(UserError, RuntimeError):
    """A file that cannot be fetched (names the URL and what to do)."""


class ChecksumError(AssetError):
    """Downloaded bytes whose SHA-256 differs from the manifest (names the file, expected and got)."""


@dataclass(frozen=True)
class Asset:
    path: str
    group: str
    sha256: Optional[str] = None
    size: Optional[int] = None


def _parse_table(text: str) -> tuple[Asset, ...]:
    out = []
    for line in text.strip().splitlines():
        group, sha, size, path = line.split()
        out.append(Asset(path, group, None if sha == "-" else sha, None if size == "-" else int(size)))
    return tuple(out)


MANIFEST: tuple[Asset, ...] = _parse_table(_TABLE)


def load_manifest(path: str | os.PathLike) -> tuple[tuple[Asset, ...], Optional[str]]:
    """A manifest override: JSON ``{"base_url": optional, "files": [{"path", "group", "sha256", "size"}, ...]}``.

    Returns ``(assets, base_url or None)``. For mirrors, forks and tests.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        assets = tuple(
            Asset(str(f["path"]), str(f.get("group", "custom")), f.get("sha256"), f.get("size")) for f in data["files"]
        )
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise AssetError(
            f"{path}: not a manifest ({type(err).__name__}: {err}); expected "
            '{"base_url": "...", "files": [{"path": ..., "group": ..., "sha256": ..., "size": ...}]}'
        ) from None
    for a in assets:
        if Path(a.path).is_absolute() or ".." in Path(a.path).parts:
            raise AssetError(f"{path}: asset path {a.path!r} must be relative to the data root, without '..'")
    return assets, data.get("base_url")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s)/file URLs by design
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise AssetError(
            f"cannot download {url}: {reason}. Without internet access, copy the file by hand from the "
            f"{UPSTREAM_REPO} repository (commit {UPSTREAM_COMMIT[:7]}) or pass --base-url with a mirror"
        ) from None


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(
    root: str | os.PathLike,
    assets: Sequence[Asset] = MANIFEST,
    *,
    base_url: str = DEFAULT_BASE_URL,
    groups: Optional[Iterable[str]] = None,
    descriptions: bool = True,
    force: bool = False,
    timeout: float = 60.0,
    log: Callable[[str], None] = print,
) -> dict[str, list[str]]:
    """Download the assets into ``root/<path>``; returns ``{"fetched", "present", "unverified"}`` paths.

    All-or-nothing: every needed file is downloaded and checked first, then all are written (each
    atomically); a checksum mismatch or a failed download writes nothing. Files already present are
    skipped when their checksum matches (or when none is recorded); a present file with a wrong
    checksum is an error unless ``force``. ``descriptions=False`` skips the class-description files
    (``*_rephrased*.json``, the authors' text): the scripts then use the plain class names.
    """
    root = Path(root)
    wanted = set(groups) if groups is not None else None
    selected = [
        a
        for a in assets
        if (wanted is None or a.group in wanted) and (descriptions or "_rephrased" not in Path(a.path).name)
    ]
    if not selected:
        raise AssetError(f"nothing to fetch for the groups {sorted(wanted or [])}")
    base = base_url if base_url.endswith("/") else base_url + "/"
    report: dict[str, list[str]] = {"fetched": [], "present": [], "unverified": []}
    pending: list[tuple[Asset, bytes]] = []
    for a in selected:
        dest = root / a.path
        if dest.is_file() and not force:
            if a.sha256 is None:
                report["present"].append(a.path)
                log(f"present      {a.path} (no checksum recorded)")
                continue
            got = sha256_bytes(dest.read_bytes())
            if got == a.sha256:
                report["present"].append(a.path)
                log(f"present      {a.path} (checksum ok)")
                continue
            raise ChecksumError(
                f"{dest}: already there but its SHA-256 is {got}, expected {a.sha256} (the file at "
                f"{UPSTREAM_REPO}@{UPSTREAM_COMMIT[:7]}); remove it or run again with --force to replace it"
            )
        url = base + a.path
        data = _download(url, timeout)
        if a.sha256 is not None:
            got = sha256_bytes(data)
            if got != a.sha256:
                raise ChecksumError(
                    f"{url}: SHA-256 {got} ({len(data)} bytes), expected {a.sha256}"
                    + (f" ({a.size} bytes)" if a.size is not None else "")
                    + "; nothing was written. The upstream file changed or the mirror serves another version"
                )
        pending.append((a, data))
    for a, data in pending:
        _write_atomic(root / a.path, data)
        report["fetched"].append(a.path)
        if a.sha256 is None:
            report["unverified"].append(a.path)
            log(f"fetched      {a.path} ({len(data)} bytes; no checksum recorded: not verified)")
        else:
            log(f"fetched      {a.path} ({len(data)} bytes, checksum ok)")
    return report
