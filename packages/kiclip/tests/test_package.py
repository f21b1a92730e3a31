"""The kiclip distribution installs on its own over videokd-core and imports nothing of the other packages."""
import importlib
import subprocess
import sys

import pytest

OTHERS = sorted({"kiclip", "kd2d3d", "dldkd", "tdsclip", "xkd"} - {"kiclip"})


def test_imports_alone_without_other_packages():
    code = (
        "import sys, kiclip, videokd; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in %r))" % set(OTHERS)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"kiclip pulled in other packages: {out.stdout}"


def test_version_matches_distribution_metadata():
    from importlib.metadata import version

    import kiclip

    assert kiclip.__version__ == version("videokd-kiclip")
    assert version("videokd-core")


@pytest.mark.parametrize("module", ["pytorchvideo", "fvcore", "einops"])
def test_declared_dependencies_import(module):
    from videokd.compat import install_pytorchvideo_shim

    install_pytorchvideo_shim()  # pytorchvideo 0.1.5 needs the functional_tensor alias
    importlib.import_module(module if module != "pytorchvideo" else "pytorchvideo.transforms")
