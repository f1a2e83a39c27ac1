"""The package works installed from a wheel: templates are found inside it, output is identical."""
import os
import subprocess
import sys

from .conftest import GENERATED, ROOT


def test_wheel_install_generates_identical_files(tmp_path):
    dist, site, work = tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = dist.glob("symgrad-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", "import symgrad, symgrad.emit.files as e; print(symgrad.__file__); print(e.template_dir())"],
        check=True, capture_output=True, text=True, cwd=work, env=env).stdout.split()
    assert all(line.startswith(str(site)) for line in probe), probe
    # NAME.py and friends, then NAME_hvp.py, NAME_hvp_torch.py, NAME_hvp_jax.py and NAME_hvp_numba.py
    for second_order in ([], ["--hvp"], ["--hvp", "--backend", "torch"], ["--hvp", "--backend", "jax"],
                         ["--hvp", "--backend", "numba"]):
        subprocess.run([sys.executable, "-m", "symgrad", "generate", "--all", *second_order, "-o", "out"],
                       check=True, capture_output=True, cwd=work, env=env)
    for path in GENERATED.glob("*.py"):
        assert (work / "out" / path.name).read_bytes() == path.read_bytes()
