"""exp, tanh and log1p of one number in arithmetic LLVM vectorizes: what a numba kernel calls for them.

numba compiles ``np.exp(x)`` and ``np.tanh(x)`` on one number to a call of the C library's
function, once per entry: LLVM cannot vectorize a loop that calls it (numba's vectorized SVML
functions need an llvmlite built with Intel's SVML patch; the llvmlite wheels on PyPI are not),
and such a loop was as slow as NumPy's ufunc, three times slower than the code below (a loop of
exp over 1024 x 512 entries: 4.3 ms against 1.5 ms here). These functions are the same math in
operations that have vector forms (multiplications, additions, comparisons, integer shifts, a
reinterpretation of bits), so a kernel's loop that calls them runs four entries at a time.

``exp``: ``x = n ln 2 + r`` with ``n`` the nearest integer to ``x / ln 2`` and ``|r| <= ln 2 / 2``
(``ln 2`` in two parts, Cody and Waite, so ``n ln 2`` is subtracted exactly), ``e^r`` by its
Taylor polynomial of degree 13 (the remainder ``r^14 / 14!`` is below 5e-18), times ``2^n`` built
in the exponent bits, in two halves so that every ``n`` from the subnormal results to the overflow
is a normal number's exponent. Inputs are clamped to [-746, 710] first, outside which the result
is 0 or inf anyway; NaN passes the clamps (every comparison with it is false) and gives NaN.
Measured against ``np.exp`` over [-745.2, 709.8]: at most 1 ulp apart, subnormals included.

``tanh``: ``tanh |x| = -m / (m + 2)`` with ``m = expm1(-2|x|)`` in (-1, 0], so nothing overflows
and small ``x`` keeps its relative accuracy (no ``1 - 2 / (e^2x + 1)`` cancellation); the sign
copied back (``tanh(-0.0) = -0.0``). ``expm1`` of ``y <= 0`` reduces as ``exp`` does, with
``e^r - 1`` as its Taylor polynomial without the leading 1; below -60 it is -1 in float64.

``log1p`` of ``u`` in [0, 1] (softplus's ``log1p(exp(-|z|))``): ``v = 1 + u = 2^b m`` with ``m`` in
[1, sqrt 2], ``log m = 2 atanh((m - 1) / (m + 1))`` by its odd series to ``s^23`` (``|s| < 0.172``: the
remainder is below 1e-18), and Goldberg's correction ``log v * u / (v - 1)`` for the rounding of
``1 + u``. Measured against ``np.logaddexp(0, z)`` over 1.2e6 points of [-800, 800]: at most 4 ulps,
0.23 on average; softplus over 1024 x 512 entries 7.7 ms against 21 ms for numba's ``np.logaddexp``.

Why exact to the same rounding as written: the functions are compiled without reassociation
(``reassoc`` would let LLVM fold the two parts of ``ln 2`` and the round-to-integer trick away),
with fused multiply-adds only (``contract``, which only rounds less); the kernels that call them
keep their own fast-math flags, per operation, when LLVM inlines these into their loops.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np


def _reduced(_y):
    """``y = n ln 2 + r`` with ``n`` the integer nearest ``y / ln 2`` (|y| below 2**51): ``(n, r)``,
    ``|r| <= ln 2 / 2``."""
    _t = _y * 1.4426950408889634 + 6755399441055744.0      # y / ln 2 rounded into the low bits of 1.5 * 2**52
    _n = _t - 6755399441055744.0                            # ... that integer as a float
    _k = np.float64(_t).view(np.int64) - np.float64(6755399441055744.0).view(np.int64)    # ... as an int64
    return _k, (_y - _n * 6.93147180369123816490e-01) - _n * 1.90821492927058770002e-10   # ln 2 in two parts


def _expm1_reduced(_r):
    """e**r - 1 for |r| <= ln 2 / 2: its Taylor polynomial of degree 13, by Horner's rule."""
    _q = 1.0 / 6227020800.0
    _q = _q * _r + 1.0 / 479001600.0
    _q = _q * _r + 1.0 / 39916800.0
    _q = _q * _r + 1.0 / 3628800.0
    _q = _q * _r + 1.0 / 362880.0
    _q = _q * _r + 1.0 / 40320.0
    _q = _q * _r + 1.0 / 5040.0
    _q = _q * _r + 1.0 / 720.0
    _q = _q * _r + 1.0 / 120.0
    _q = _q * _r + 1.0 / 24.0
    _q = _q * _r + 1.0 / 6.0
    _q = _q * _r + 0.5
    _q = _q * _r + 1.0
    return _q * _r


def _power_of_two(_k):
    """2**k for an integer k from -1022 to 1023, made in the exponent bits."""
    return np.int64((_k + 1023) << 52).view(np.float64)


def _exp(_x):
    """e**x of one float, within 1 ulp of np.exp, in operations that vectorize."""
    _y = -746.0 if _x < -746.0 else _x          # NaN passes both comparisons as it is
    _y = 710.0 if _y > 710.0 else _y
    _k, _r = _reduced(_y)
    _half = _k >> 1                             # 2**n as 2**half * 2**(n - half): both normal numbers
    return (_expm1_reduced(_r) + 1.0) * _power_of_two(_half) * _power_of_two(_k - _half)


def _log1p_unit(_u):
    """log(1 + u) of one float u in [0, 1] (NaN passes), within 4 ulps of np.log1p, in operations
    that vectorize."""
    _v = 1.0 + _u
    _big = _v > 1.4142135623730951
    _m = 0.5 * _v if _big else _v               # v = 2**big m, m in [1, sqrt 2]
    _s = (_m - 1.0) / (_m + 1.0)                # log m = 2 atanh s, |s| < 0.172
    _z = _s * _s
    _p = 1.0 / 23.0
    _p = _p * _z + 1.0 / 21.0
    _p = _p * _z + 1.0 / 19.0
    _p = _p * _z + 1.0 / 17.0
    _p = _p * _z + 1.0 / 15.0
    _p = _p * _z + 1.0 / 13.0
    _p = _p * _z + 1.0 / 11.0
    _p = _p * _z + 1.0 / 9.0
    _p = _p * _z + 1.0 / 7.0
    _p = _p * _z + 1.0 / 5.0
    _p = _p * _z + 1.0 / 3.0
    _p = _p * _z + 1.0
    _log_v = 2.0 * _s * _p
    _log_v = (_log_v + 1.90821492927058770002e-10) + 6.93147180369123816490e-01 if _big else _log_v
    _d = _v - 1.0                               # exact; log1p u = log v * u / (v - 1) (Goldberg)
    return _u if _d == 0.0 else _log_v * (_u / _d)


def _tanh(_x):
    """tanh(x) of one float, within 3 ulps of np.tanh, in operations that vectorize."""
    _y = -2.0 * np.abs(_x)
    _y = -60.0 if _y < -60.0 else _y            # expm1 is -1 below; NaN passes as it is
    _k, _r = _reduced(_y)
    _scale = _power_of_two(_k)                  # n in [-87, 0]
    _m = _scale * _expm1_reduced(_r) + (_scale - 1.0)     # expm1(y) = 2**n (e**r - 1) + 2**n - 1
    return np.copysign(-_m / (_m + 2.0), _x)


@dataclass(frozen=True)
class MathFunction:
    """A function kernels call: its name in the module, its source there, its spelling in a
    kernel's entry code (``{0}``: the argument), and the names of the helpers it calls."""

    name: str
    source: str
    spelling: str
    calls: tuple[str, ...] = ()


def _function(python, *calls) -> MathFunction:
    return MathFunction(python.__name__, inspect.getsource(python).rstrip("\n"), f"{python.__name__}({{0}})",
                        tuple(c.__name__ for c in calls))


_STEPS = (_reduced, _expm1_reduced, _power_of_two)
# what the functions below call, printed before them
HELPERS: dict[str, MathFunction] = {f.__name__: _function(f) for f in _STEPS}
# the table's functions (``symgrad.model.functions``) kernels compute with these instead, by NumPy's name
MATH_FUNCTIONS: dict[str, MathFunction] = {"exp": _function(_exp, *_STEPS), "tanh": _function(_tanh, *_STEPS)}
# functions the table's numba spellings call by their own name (softplus: max(z, 0) + _log1p_unit(exp(-|z|))).
# Each is small on its own: LLVM inlines a kernel's calls one by one, and a function that called exp and
# log1p itself was left a call, and its loop unvectorized (3x slower than np.logaddexp's C loop)
OWN_FUNCTIONS: dict[str, MathFunction] = {f.name: f for f in (_function(_log1p_unit),)}
