"""videokd.testing: fixture discovery and the fixture comparison rule."""

import pytest
import torch

from videokd.testing import assert_matches, compare, fixture_files, parity_root, prefix_tolerance

PACKAGES = ("kiclip", "kd2d3d", "dldkd", "tdsclip", "xkd")


def test_parity_root_holds_fixtures_for_every_package():
    root = parity_root()
    assert root.is_dir(), f"parity fixtures not found at {root} (set PARITY_ROOT)"
    for pkg in PACKAGES:
        assert fixture_files(pkg), f"no *.pt fixtures under {root / pkg}"


def test_default_root_is_the_repository_copy(monkeypatch):
    monkeypatch.delenv("PARITY_ROOT", raising=False)
    root = parity_root()
    assert root.parts[-2:] == ("tests", "parity") and (root / "README.md").is_file(), root


def test_no_fixtures_is_an_error_naming_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PARITY_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "dldkd")) as err:
        fixture_files("dldkd")
    assert "PARITY_ROOT" in str(err.value)
    assert fixture_files("dldkd", missing_ok=True) == []


def test_parity_root_env_override(tmp_path, monkeypatch):
    (tmp_path / "dldkd").mkdir()
    torch.save({"kind": "loss"}, tmp_path / "dldkd" / "x.pt")
    monkeypatch.setenv("PARITY_ROOT", str(tmp_path))
    assert [p.name for p in fixture_files("dldkd")] == ["x.pt"]


def test_float_rule_is_atol_plus_rtol_times_expected():
    exp = torch.tensor([1.0, 100.0])
    assert not compare(torch.tensor([1.0 + 1.9e-3, 100.1]), exp, atol=1e-3, rtol=1e-3)
    errors = compare(torch.tensor([1.0 + 2.1e-3, 100.0]), exp, atol=1e-3, rtol=1e-3)
    assert len(errors) == 1 and "1/2" in errors[0]


def test_integers_strings_and_shapes_compare_exactly():
    assert compare(torch.tensor([1, 2]), torch.tensor([1, 3]), atol=1, rtol=1)
    assert compare("a", "b", atol=0, rtol=0)
    assert compare(torch.zeros(2, 3), torch.zeros(3, 2), atol=1, rtol=1)
    assert compare({"a": 1}, {"a": 1, "b": 2}, atol=0, rtol=0)
    assert not compare([1, "x", 2.0], [1, "x", 2.0 + 1e-9], atol=1e-8, rtol=0)


def test_sparse_expected_is_densified():
    dense = torch.zeros(4, 2)
    dense[1] = 3.0
    assert not compare(dense, dense.to_sparse(), atol=0, rtol=0)


def test_prefix_tolerance_longest_prefix_wins_with_and_without_indices():
    with_indices = prefix_tolerance({"outputs": [1e-3, 0], "outputs.steps.loss": {"atol": 0.1, "rtol": 0}}, (1e-6, 0))
    assert with_indices(["outputs", "steps", 0, "loss"]) == (1e-3, 0)  # the index breaks the longer prefix
    kiclip_style = prefix_tolerance(
        {"outputs": [1e-3, 0], "outputs.steps.loss": [0.1, 0]}, (1e-6, 0), include_indices=False
    )
    assert kiclip_style(["outputs", "steps", 0, "loss"]) == (0.1, 0)
    assert kiclip_style(["outputs", "other"]) == (1e-3, 0)
    assert kiclip_style(["grads", "w"]) == (1e-6, 0)
    xkd_style = prefix_tolerance({"outputs/steps/0/loss": [0.1, 0]}, (1e-6, 0), sep="/")
    assert xkd_style(["outputs", "steps", 0, "loss"]) == (0.1, 0)
    assert xkd_style(["outputs", "steps", 1, "loss"]) == (1e-6, 0)


def test_assert_matches_lists_every_mismatch():
    with pytest.raises(AssertionError, match="2 mismatch"):
        assert_matches({"a": 1.0, "b": [2.0]}, {"a": 2.0, "b": [3.0]}, atol=0, rtol=0)


def test_paper_packages_imported_by_sees_cross_imports(tmp_path, monkeypatch):
    # a fake paper package that reaches into another one must be reported
    (tmp_path / "kiclip").mkdir()
    (tmp_path / "kiclip" / "__init__.py").write_text("import dldkd\n")
    (tmp_path / "dldkd").mkdir()
    (tmp_path / "dldkd" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    from videokd.testing import paper_packages_imported_by

    assert paper_packages_imported_by("kiclip") == ["dldkd"]
    assert paper_packages_imported_by("dldkd") == []
