"""The benchmarks lift a machine's OpenBLAS kernel pin in their own processes alone."""
import os
import subprocess
import sys

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import blas_kernel  # noqa: E402


def test_the_pin_is_lifted_both_variables_together_and_kept_on_request():
    env = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512", "PATH": "/bin"}
    assert blas_kernel.unpinned(env) == {"PATH": "/bin"}
    assert blas_kernel.unpinned({**env, blas_kernel.KEEP_PIN: "1"}) == {**env, blas_kernel.KEEP_PIN: "1"}
    assert env["OPENBLAS_CORETYPE"] == "Haswell"       # the caller's environment is left alone


def test_a_script_restarts_unpinned_and_reports_its_kernel():
    script = ("import sys; sys.path.insert(0, 'benchmarks'); import blas_kernel, os; "
              "blas_kernel.restart_unpinned(); import numpy; "
              "print(os.environ.get('OPENBLAS_CORETYPE'), os.environ.get('OPENBLAS_L2_SIZE'), '|', blas_kernel.kernel())")
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
    env.pop(blas_kernel.KEEP_PIN, None)
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("None None |") and "pinned" not in out, out
    kept = subprocess.run([sys.executable, "-c", script], env={**env, blas_kernel.KEEP_PIN: "1"}, cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    assert kept.startswith("Haswell 512 |"), kept
    assert "kernel unknown" in kept or "pinned by OPENBLAS_CORETYPE=Haswell" in kept or "no OpenBLAS" in kept
