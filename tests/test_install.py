"""The package works from a non-editable wheel, run from a folder that is not the checkout."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import REPO


def test_wheel_install_finds_its_configs_and_trains(tmp_path):
    if shutil.which("pip") is None:
        pytest.skip("pip not available")
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = wheels.glob("xor_lightning-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # Reuse this interpreter's torch/lightning. Not --system-site-packages: when pytest runs
    # inside a venv (as in CI) that gives the *base* Python's packages, which lack them. A .pth
    # path line appends the folder after the venv's own site-packages, so the wheel's copy of
    # xor_lightning comes first, and the folder's own .pth files (our editable install) stay unread.
    venv_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip()
    parent = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(venv_site) / "parent_site.pth").write_text("".join(f"{d}\n" for d in sorted(parent)))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)

    where = subprocess.run([str(py), "-c", "import xor_lightning.base.config_dir as c; print(c.config_dir())"],
                           cwd=work, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    res = subprocess.run([str(venv / "bin" / "xor-lightning"), "train", "seeds=2", "run_id=wheel"],
                         cwd=work, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "solved 2/2" in res.stdout
    assert (work / "outputs" / "wheel" / "metrics.json").is_file()
    assert (work / "checkpoints" / "wheel" / "best.ckpt").is_file()
