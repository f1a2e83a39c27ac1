"""Evaluating elementwise statements into one buffer (symgrad.inplace): the same values, fewer arrays."""
import numpy as np
import pytest

from symgrad.emit.module_plan import Block
from symgrad.emit.inplace import evaluate_in_place

SHAPES = {"X": ("n", "p"), "W": ("p", "h"), "B": ("1", "h"), "Z": ("n", "h"), "H": ("n", "h"),
          "G": ("n", "h"), "grad_H": ("n", "h"), "grad_Z": ("n", "h"), "c": ("h", "1"), "s": (),
          "n": (), "p": (), "h": ()}
INPUTS = {"X", "W", "B", "c", "s"}


def _rewrite(lines, live_out=frozenset(), protected=frozenset({"X", "W", "B", "c", "s", "Z", "H"}), floats=None):
    blocks = (Block("b", (), tuple(lines)),)
    out = evaluate_in_place(blocks, SHAPES, set(floats if floats is not None else INPUTS), set(live_out),
                            set(protected))
    return list(out[0].lines)


def _values(lines, seed=0):
    rng = np.random.default_rng(seed)
    scope = {"np": np, "n": 3, "p": 4, "h": 5, "s": 0.7,
             "X": rng.standard_normal((3, 4)), "W": rng.standard_normal((4, 5)), "B": rng.standard_normal((1, 5)),
             "c": rng.standard_normal((5, 1))}
    exec("\n".join(lines), scope)
    return scope


def _same(before, after, names):
    a, b = _values(before), _values(after)
    for name in names:
        np.testing.assert_array_equal(b[name], a[name])


def test_a_bias_is_added_into_the_product():
    before = ["Z = X @ W + B"]
    after = _rewrite(before, {"Z"})
    assert after == ["Z = X @ W", "Z += B"]
    _same(before, after, ["Z"])


def test_a_sigmoid_is_one_buffer():
    before = ["Z = X @ W + B", "H = 0.5 * (np.tanh(0.5 * Z) + 1.0)"]
    after = _rewrite(before, {"H", "Z"})
    assert after == ["Z = X @ W", "Z += B", "H = 0.5 * Z", "np.tanh(H, out=H)", "H += 1.0", "H *= 0.5"]
    _same(before, after, ["Z", "H"])


def test_a_dead_adjoint_is_reused_but_a_live_one_is_not():
    before = ["Z = X @ W", "grad_H = Z @ np.ones((h, h))", "grad_Z = grad_H * (Z > 0)"]
    assert _rewrite(before, {"grad_Z"})[-2:] == ["grad_Z = grad_H", "grad_Z *= Z > 0"]
    assert _rewrite(before, {"grad_Z", "grad_H"})[-1] == "grad_Z = grad_H * (Z > 0)"
    _same(before, _rewrite(before, {"grad_Z"}), ["grad_Z"])


def test_a_protected_viewed_or_twice_read_array_is_never_a_buffer():
    assert _rewrite(["grad_Z = Z * (Z > 0)"], {"grad_Z"}) == ["grad_Z = Z * (Z > 0)"]           # protected
    sliced = ["G = X @ W", "V = G[:2]", "grad_Z = G * 2.0"]
    assert _rewrite(sliced, {"grad_Z", "V"}) == sliced                                         # viewed
    twice = ["G = X @ W", "grad_Z = G * G"]
    assert _rewrite(twice, {"grad_Z"}) == twice                                                # read twice


def test_broadcasting_that_would_grow_the_buffer_is_left_alone():
    before = ["grad_Z = c.T * (X @ W)"]          # (1, h) * (n, h): the product is the buffer
    assert _rewrite(before, {"grad_Z"}) == ["grad_Z = X @ W", "grad_Z *= c.T"]
    outer = ["G = c * np.ones((1, h))"]          # (h, 1) * (1, h) -> (h, h): no operand has the shape
    assert _rewrite(outer, {"G"}) == outer


def test_an_int_or_bool_first_value_is_not_a_buffer():
    before = ["grad_Z = 2 * (Z > 0)", "G = grad_Z * 1.5"]
    assert _rewrite(before, {"G"}, floats=INPUTS | {"Z"})[0] == "grad_Z = 2 * (Z > 0)"
    assert _rewrite(before, {"G"}, floats=INPUTS | {"Z"})[1] == "G = grad_Z * 1.5"   # int64 buffer: no


@pytest.mark.parametrize("line", ["G = 1.0 - np.exp(X @ W)", "G = (X @ W - B) / (1.0 + X @ W)",
                                  "G = -(X @ W) + B", "G = np.maximum(X @ W, 0.0) * s"])
def test_subtraction_division_and_functions_keep_their_operand_order(line):
    after = _rewrite([line], {"G"})
    assert len(after) > 1, after
    _same([line], after, ["G"])
