"""The kiclip distribution installs on its own over videokd-core and imports no other paper package."""

import importlib
from importlib.metadata import version

import pytest

import kiclip
from videokd.compat import install_pytorchvideo_shim
from videokd.testing import paper_packages_imported_by


def test_imports_alone_without_other_packages():
    assert paper_packages_imported_by("kiclip") == []


def test_version_matches_distribution_metadata():
    assert kiclip.__version__ == version("videokd-kiclip") and version("videokd-core")


@pytest.mark.parametrize("module", ["pytorchvideo", "fvcore", "einops"])
def test_declared_dependencies_import(module):
    install_pytorchvideo_shim()  # pytorchvideo 0.1.5 needs the functional_tensor alias
    importlib.import_module("pytorchvideo.transforms" if module == "pytorchvideo" else module)
