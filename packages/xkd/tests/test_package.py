"""The xkd distribution installs on its own over videokd-core and imports no other paper package."""

import importlib
from importlib.metadata import version

import pytest

import xkd
from videokd.compat import install_pytorchvideo_shim
from videokd.testing import paper_packages_imported_by


def test_imports_alone_without_other_packages():
    assert paper_packages_imported_by("xkd") == []


def test_version_matches_distribution_metadata():
    assert xkd.__version__ == version("videokd-xkd") and version("videokd-core")


@pytest.mark.parametrize("module", ["einops", "sklearn"])
def test_declared_dependencies_import(module):
    install_pytorchvideo_shim()  # pytorchvideo 0.1.5 needs the functional_tensor alias
    importlib.import_module("pytorchvideo.transforms" if module == "pytorchvideo" else module)
