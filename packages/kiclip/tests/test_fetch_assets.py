"""fetch_assets.py offline: a local http.server (and file://) serving generated files, with a manifest override.

Nothing here touches the network or the upstream files: the served files are written by the test.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kiclip.assets import MANIFEST, UPSTREAM_COMMIT, Asset, ChecksumError, fetch

PKG = Path(__file__).resolve().parents[1]
TOOL = PKG / "fetch_assets.py"

FILES = {
    "zs_label_db/B2N_x/train.csv": b"a/v1.mp4,0\na/v2.mp4,1\n",
    "zs_label_db/B2N_x/train_rephrased.json": b'{"0": "Pour: a synthetic text", "1": "Kick: another"}',
    "zs_label_db/B2N_x/raw_train_idx2cls.json": b'{"0": "pour", "1": "kick"}',
}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(base_url, served_dir)``: a threaded http.server on a free local port."""
    served = tmp_path_factory.mktemp("served")
    for rel, data in FILES.items():
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_bytes(data)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    httpd.shutdown()
    httpd.server_close()


def _manifest(
    path: Path, base_url: str, *, wrong: str = "", unchecked: str = "zs_label_db/B2N_x/raw_train_idx2cls.json"
):
    files = []
    for rel, data in FILES.items():
        sha = None if rel == unchecked else hashlib.sha256(data).hexdigest()
        if rel == wrong:
            sha = "0" * 64
        files.append({"path": rel, "group": "x", "sha256": sha, "size": len(data)})
    path.write_text(json.dumps({"base_url": base_url, "files": files}))
    return path


def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_fetch_verifies_writes_the_layout_and_skips_present_files(server, tmp_path):
    base, _ = server
    manifest = _manifest(tmp_path / "m.json", base)
    root = tmp_path / "data"
    out = _tool(str(root), "--manifest", str(manifest))
    assert out.returncode == 0, out.stdout + out.stderr
    for rel, data in FILES.items():
        assert (root / rel).read_bytes() == data
    assert "raw_train_idx2cls.json" in out.stdout and "no checksum recorded" in out.stdout
    assert "3 fetched, 0 already present, 1 without a recorded checksum" in out.stdout
    assert _all_files(root) == sorted(FILES)  # no temporary files left
    # again: everything present, nothing rewritten
    stamps = {rel: (root / rel).stat().st_mtime_ns for rel in FILES}
    out = _tool(str(root), "--manifest", str(manifest))
    assert out.returncode == 0 and "0 fetched, 3 already present" in out.stdout, out.stdout + out.stderr
    assert out.stdout.count("checksum ok") == 2
    assert stamps == {rel: (root / rel).stat().st_mtime_ns for rel in FILES}


def test_checksum_mismatch_is_rc2_and_writes_nothing(server, tmp_path):
    base, _ = server
    manifest = _manifest(tmp_path / "m.json", base, wrong="zs_label_db/B2N_x/train_rephrased.json")
    root = tmp_path / "data"
    out = _tool(str(root), "--manifest", str(manifest))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "train_rephrased.json" in out.stderr and "SHA-256" in out.stderr and "0" * 64 in out.stderr
    assert "nothing was written" in out.stderr and "Traceback" not in out.stderr
    assert _all_files(root) == []  # not even the files downloaded before the bad one


def test_present_file_with_a_wrong_checksum_needs_force(server, tmp_path):
    base, _ = server
    manifest = _manifest(tmp_path / "m.json", base)
    root = tmp_path / "data"
    bad = root / "zs_label_db/B2N_x/train.csv"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"edited\n")
    out = _tool(str(root), "--manifest", str(manifest))
    assert out.returncode == 2 and "train.csv" in out.stderr and "--force" in out.stderr, out.stderr
    assert bad.read_bytes() == b"edited\n"
    out = _tool(str(root), "--manifest", str(manifest), "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    assert bad.read_bytes() == FILES["zs_label_db/B2N_x/train.csv"]


def test_missing_url_is_rc2_naming_it(server, tmp_path):
    base, _ = server
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"base_url": base, "files": [{"path": "zs_label_db/none.csv", "sha256": None}]}))
    out = _tool(str(tmp_path / "data"), "--manifest", str(manifest))
    assert out.returncode == 2 and base + "zs_label_db/none.csv" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"files": [{"path": "../escape.csv"}]}')
    out = _tool(str(tmp_path / "data"), "--manifest", str(bad))
    assert out.returncode == 2 and "escape.csv" in out.stderr


def test_file_url_and_no_descriptions(server, tmp_path):
    _, served = server
    assets = [Asset(rel, "x", hashlib.sha256(data).hexdigest(), len(data)) for rel, data in FILES.items()]
    root = tmp_path / "data"
    report = fetch(root, assets, base_url=served.as_uri(), descriptions=False, log=lambda s: None)
    # the authors' descriptions skipped: the scripts fall back to the plain class names
    assert sorted(report["fetched"]) == ["zs_label_db/B2N_x/raw_train_idx2cls.json", "zs_label_db/B2N_x/train.csv"]
    from kiclip.prompts import load_class_texts

    texts, used = load_class_texts(root / "zs_label_db/B2N_x/train_rephrased.json")
    assert texts == ["pour", "kick"] and used.name == "raw_train_idx2cls.json"
    with pytest.raises(ChecksumError):
        fetch(tmp_path / "d2", [Asset(assets[0].path, "x", "f" * 64)], base_url=served.as_uri(), log=lambda s: None)
    assert not (tmp_path / "d2").exists() or _all_files(tmp_path / "d2") == []


def test_help_and_list():
    out = _tool("--help")
    assert out.returncode == 0 and "usage: fetch_assets.py" in out.stdout and "--no-descriptions" in out.stdout
    out = _tool("--list")
    assert out.returncode == 0 and "zs_label_db/B2N_k400/train_s3.csv" in out.stdout
    assert "no checksum recorded" in out.stdout  # the cross-dataset lists had no complete copy to check


def test_builtin_manifest_covers_what_the_scripts_read():
    paths = {a.path for a in MANIFEST}
    assert len(paths) == len(MANIFEST) and len(UPSTREAM_COMMIT) == 40
    assert all(a.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", a.sha256) for a in MANIFEST)
    # every list / label file named in the shell scripts (except K400's val_new.csv, absent upstream)
    read = set()
    for script in PKG.glob("*_b2n_*.sh"):
        text = script.read_text()
        lists = re.search(r'LISTS="\$DATA/([^"]+)"', text)
        if not lists:
            continue
        for name in re.findall(r"\$LISTS/([\w.]+)", text) + re.findall(
            r"(?:TRAIN_FILE|BASE_FILE|NOVEL_FILE) (\S+\.csv)", text
        ):
            read.add(f"{lists.group(1)}/{name}")
    read.discard("zs_label_db/B2N_k400/val_new.csv")
    assert read and read <= paths, sorted(read - paths)
    assert "label_rephrase/k400_rephrased_classes.json" in paths
