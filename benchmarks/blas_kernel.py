"""OpenBLAS's own kernel for this processor, not one the machine's environment pins.

Some machines set ``OPENBLAS_CORETYPE`` (with ``OPENBLAS_L2_SIZE``) for every process, because
older OpenBLAS builds compute wrong results or crash on their processor. The pin also holds a
current NumPy's OpenBLAS to an older kernel: on this project's 2-core AMD EPYC machine
``OPENBLAS_CORETYPE=Haswell`` gave a float64 (1024, 512) @ (512, 512) product 55 GFLOPS on one
thread, against 86 GFLOPS with the AVX-512 kernel (SkylakeX) that OpenBLAS picks itself, while
XLA and torch choose their own kernels whatever the pin says. A benchmark of NumPy code against
them therefore lifts the pin, both variables together, in its own processes alone (never in the
tests or CI), and reports the kernel that then runs (``kernel()``).
``SYMGRAD_BENCH_PINNED_BLAS=1`` keeps the machine's pin, to compare.
"""
from __future__ import annotations

import os
import sys

PIN = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KEEP_PIN = "SYMGRAD_BENCH_PINNED_BLAS"


def unpinned(env) -> dict:
    """``env`` without the pin (unchanged where ``KEEP_PIN`` is set)."""
    if env.get(KEEP_PIN) == "1":
        return dict(env)
    return {k: v for k, v in env.items() if k not in PIN}


def restart_unpinned(env: dict | None = None) -> None:
    """Start this script again at once with ``env`` (this process's by default) less the pin,
    since OpenBLAS chose its kernel when NumPy was loaded; return where nothing would change."""
    env = dict(os.environ if env is None else env)
    wanted = unpinned(env)
    if wanted == dict(os.environ):
        return
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], wanted)


def kernel() -> str:
    """The kernel of NumPy's OpenBLAS, as threadpoolctl reports it, and whether it is pinned."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "kernel unknown (threadpoolctl not installed)"
    found = [p.get("architecture") for p in threadpool_info() if p.get("internal_api") == "openblas"]
    pinned = os.environ.get("OPENBLAS_CORETYPE")
    how = f"pinned by OPENBLAS_CORETYPE={pinned}" if pinned else "OpenBLAS's own choice"
    return f"kernel {found[0]} ({how})" if found else "no OpenBLAS"
