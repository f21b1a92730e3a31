"""The kd2d3d distribution installs on its own over videokd-core and imports nothing of the other packages."""
import importlib
import subprocess
import sys

import pytest

OTHERS = sorted({"kiclip", "kd2d3d", "dldkd", "tdsclip", "xkd"} - {"kd2d3d"})


def test_imports_alone_without_other_packages():
    code = (
        "import sys, kd2d3d, videokd; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in %r))" % set(OTHERS)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"kd2d3d pulled in other packages: {out.stdout}"


def test_version_matches_distribution_metadata():
    from importlib.metadata import version

    import kd2d3d

    assert kd2d3d.__version__ == version("videokd-kd2d3d")
    assert version("videokd-core")


@pytest.mark.parametrize("module", ["torchvision.ops"])
def test_declared_dependencies_import(module):
    from videokd.compat import install_pytorchvideo_shim

    install_pytorchvideo_shim()  # pytorchvideo 0.1.5 needs the functional_tensor alias
    importlib.import_module(module if module != "pytorchvideo" else "pytorchvideo.transforms")
