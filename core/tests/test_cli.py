"""videokd.cli: expected failures become one message and exit code 2; --debug shows the traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from videokd.cli import format_error, run_dir_guard, run_main
from videokd.config import ConfigError
from videokd.engine.checkpoint import CheckpointError


def test_user_error_is_a_message_and_exit_code_2(capsys, monkeypatch) -> None:
    monkeypatch.delenv("VIDEOKD_DEBUG", raising=False)

    def main(argv: list[str]) -> int:
        raise ConfigError("unknown key 'lr_sched' in run.yaml (did you mean 'lr_schedule'?)")

    assert run_main(main, [], prog="demo.train") == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "demo.train: error: unknown key 'lr_sched' in run.yaml (did you mean 'lr_schedule'?)"
    assert "--debug" in err and "Traceback" not in err


def test_missing_file_names_the_file(capsys, tmp_path) -> None:
    missing = tmp_path / "nope.csv"

    def main(argv: list[str]) -> int:
        open(missing)  # noqa: SIM115
        return 0

    assert run_main(main, [], prog="x") == 2
    assert str(missing) in capsys.readouterr().err


def test_undecodable_text_is_reported_with_the_offset() -> None:
    try:
        b"ok\xffbad".decode("utf-8")
    except UnicodeDecodeError as err:
        text = format_error(err)
    assert "0xff" in text and "offset 2" in text and "UTF-8" in text


def test_debug_flag_is_removed_and_reraises(monkeypatch) -> None:
    monkeypatch.delenv("VIDEOKD_DEBUG", raising=False)
    got: list[list[str]] = []

    def main(argv: list[str]) -> int:
        got.append(argv)
        raise CheckpointError("truncated")

    with pytest.raises(CheckpointError):
        run_main(main, ["--x", "1", "--debug"])
    assert got == [["--x", "1"]]
    monkeypatch.setenv("VIDEOKD_DEBUG", "1")
    with pytest.raises(CheckpointError):
        run_main(main, [])


def test_an_entry_point_with_its_own_debug_option_keeps_it(monkeypatch) -> None:
    monkeypatch.delenv("VIDEOKD_DEBUG", raising=False)
    got: list[list[str]] = []
    assert run_main(lambda argv: got.append(argv), ["--debug", "--x"], keep_debug_flag=True) == 0
    assert got == [["--debug", "--x"]]


def test_a_bug_keeps_its_traceback() -> None:
    def main(argv: list[str]) -> int:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        run_main(main, [])


def test_exit_code_of_main_is_returned() -> None:
    assert run_main(lambda argv: 3, []) == 3
    assert run_main(lambda argv: None, []) == 0


def test_through_a_real_process(tmp_path) -> None:
    script = tmp_path / "entry.py"
    script.write_text(
        textwrap.dedent(
            """
            from videokd.cli import run_main
            from videokd.errors import UserError
            def main(argv):
                raise UserError(f"bad data in {argv[0]}")
            raise SystemExit(run_main(main, prog="entry"))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script), "a.csv"], capture_output=True, text=True)
    assert out.returncode == 2 and "entry: error: bad data in a.csv" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, str(script), "a.csv", "--debug"], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" in out.stderr


def test_run_dir_guard_removes_a_new_folder_on_failure_only(tmp_path) -> None:
    new = tmp_path / "runs" / "r1"
    with pytest.raises(RuntimeError), run_dir_guard(new):
        (new / "opt.json").write_text("{}")
        raise RuntimeError("data missing")
    assert not new.exists()
    with run_dir_guard(new) as guard:
        guard.keep()
    assert new.is_dir()
    # an existing folder (a resume) is never removed
    (new / "last.pt").write_text("x")
    with pytest.raises(RuntimeError), run_dir_guard(new):
        raise RuntimeError("boom")
    assert (new / "last.pt").is_file()
    # once kept, a later failure leaves the folder (training had started)
    other = tmp_path / "r2"
    with pytest.raises(RuntimeError), run_dir_guard(other) as guard:
        guard.keep()
        raise RuntimeError("late")
    assert other.is_dir()
