"""Sharing repeated array expressions and sums of squares in generated statements (symgrad.peephole)."""
import numpy as np

from symgrad.emit.module_plan import Block
from symgrad.emit.peephole import share_subexpressions

ARRAYS = {"Y", "Ystar", "W", "Z", "Z1", "B", "grad_Y", "H"}


def _blocks(*groups):
    return tuple(Block(f"b{k}", (), tuple(lines)) for k, lines in enumerate(groups))


def _lines(blocks):
    return [line for b in blocks for line in b.lines]


def _run(lines, **values):
    scope = {"np": np, **values}
    exec("\n".join(lines), scope)
    return scope


def test_the_error_is_computed_once_and_squared_by_vdot():
    before = _blocks(["Loss = (1/n) * ((Ystar - Y)**2).sum()"], ["grad_Y = (-2/n) * (Ystar - Y)"])
    after = share_subexpressions(before, ARRAYS)
    assert _lines(after) == ["shared_1 = Ystar - Y", "Loss = 1 / n * np.vdot(shared_1, shared_1)",
                             "grad_Y = -2 / n * shared_1"]
    rng = np.random.default_rng(0)
    values = {"Y": rng.standard_normal((3, 4)), "Ystar": rng.standard_normal((3, 4)), "n": 12}
    want, got = _run(_lines(before), **values), _run(_lines(after), **values)
    assert np.isclose(got["Loss"], want["Loss"], rtol=1e-14)
    np.testing.assert_array_equal(got["grad_Y"], want["grad_Y"])


def test_a_name_assigned_between_two_uses_stops_the_sharing():
    blocks = _blocks(["A = W * Z", "Z = H + 1.0", "C = W * Z"])
    assert _lines(share_subexpressions(blocks, ARRAYS)) == ["A = W * Z", "Z = H + 1.0", "C = W * Z"]


def test_an_in_place_write_between_two_uses_stops_the_sharing():
    for barrier in ("Z1 += B", "np.matmul(W, H, out=Z1)", "Z[:2] = H"):
        blocks = _blocks(["A = W * Z", barrier, "C = W * Z"])
        assert _lines(share_subexpressions(blocks, ARRAYS)) == ["A = W * Z", barrier, "C = W * Z"], barrier


def test_scalars_views_and_buffers_are_not_shared():
    blocks = _blocks(["A = (2/n) * Z.T", "C = (2/n) * Z.T[0]", "D = np.empty((n, 1))", "E = np.empty((n, 1))"])
    assert _lines(share_subexpressions(blocks, ARRAYS)) == _lines(blocks)   # (2/n), Z.T, np.empty twice


def test_the_largest_repeated_expression_wins_and_names_follow_the_order_of_use():
    blocks = _blocks(["A = np.ones((1, n)) @ H", "P = np.tanh(W @ H + B)", "Q = np.tanh(W @ H + B) * np.ones((1, n))"])
    out = _lines(share_subexpressions(blocks, ARRAYS))
    assert out == ["shared_1 = np.ones((1, n))", "A = shared_1 @ H", "shared_2 = np.tanh(W @ H + B)",
                   "P = shared_2", "Q = shared_2 * shared_1"]


def test_a_skipped_block_is_left_alone_and_shares_nothing_with_the_others():
    blocks = (Block("b0", (), ("A = W * Z",)), Block("guarded", (), ("C = W * Z",)))
    assert _lines(share_subexpressions(blocks, ARRAYS, frozenset({"guarded"}))) == ["A = W * Z", "C = W * Z"]


def test_a_model_tensor_called_shared_1_is_not_shadowed():
    blocks = _blocks(["A = shared_1 * (W - Z)", "C = (W - Z) * 2.0"])
    out = _lines(share_subexpressions(blocks, ARRAYS | {"shared_1"}))
    assert out == ["shared_value_1 = W - Z", "A = shared_1 * shared_value_1", "C = shared_value_1 * 2.0"]


def test_a_mask_is_not_squared_by_vdot():
    blocks = _blocks(["Loss = ((Z > 0)**2).sum()"])     # np.vdot of two bool arrays is a bool
    assert _lines(share_subexpressions(blocks, ARRAYS)) == ["Loss = ((Z > 0)**2).sum()"]
