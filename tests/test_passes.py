"""The passes over the statement IR (symgrad.lower.passes): each rewrite and each safety rule."""
import numpy as np
import sympy as sp

from symgrad.lower.nodes import (Add, BroadcastTo, Einsum, Elementwise, MatMul, Product, Slice, SquaredNorm, SumAll, Tensor,
                                 Transpose, VDot)
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.passes import fewer_products, optimized, shared_where_worth
from symgrad.lower.passes.transposed_maps import with_transposes_outside
from symgrad.lower.statements import Allocate, Assign, Release
from symgrad.model.functions import FUNCTIONS, TABLE, numeric

n, h = sp.symbols("n h", positive=True)
SHAPE = (n, h)
T = {name: Tensor(name, SHAPE) for name in ("X", "Y", "T", "Z", "G", "H")}


def ew(body, **tensors):
    """An elementwise node: ``body`` over the entries ``name[i, j]`` of the tensors named."""
    i, j = sp.symbols("i j")
    entries = {name: sp.IndexedBase(name)[i, j] for name in tensors}
    return Elementwise(body(**entries), tuple((entries[k], t) for k, t in tensors.items()))


def lines(statements, live_out=frozenset(), protected=frozenset({"X", "Y", "T"}), floats=frozenset({"X", "Y", "T"})):
    out = optimized([tuple(statements)], set(floats), set(live_out), set(protected))
    return [NumPyPrinter().print_statement(s) for s in out[0]]


def run(code, names, scope=None):
    rng = np.random.default_rng(0)
    scope = scope or {"np": np, "n": 3, "h": 4, **{k: rng.standard_normal((3, 4)) for k in ("X", "Y", "T")}}
    exec("\n".join(code), scope)
    return [scope[k] for k in names]


def same(before, after, names):
    for a, b in zip(run(before, names), run(after, names)):
        np.testing.assert_allclose(b, a, rtol=1e-13)


def plain(statements):
    return [NumPyPrinter().print_statement(s) for s in statements]


def test_the_error_is_computed_once_and_its_sum_of_squares_is_an_inner_product():
    error = lambda Y, T: (Y - T) ** 2   # noqa: E731
    statements = [Assign("Loss", SumAll(ew(error, Y=T["Y"], T=T["T"]))),
                  Assign("G", Product(sp.Integer(2), (ew(lambda Y, T: Y - T, Y=T["Y"], T=T["T"]),)))]
    after = lines(statements, {"Loss", "G"})
    assert after[0] == "shared_1 = Y - T"
    assert after[1] == "Loss = np.vdot(shared_1, shared_1)"
    same(plain(statements), after, ["Loss", "G"])


def test_a_name_assigned_between_two_uses_stops_the_sharing():
    product = ew(lambda X, Z: X * Z, X=T["X"], Z=T["Z"])
    statements = [Assign("Z", ew(lambda X: X + 1, X=T["X"])), Assign("A", product),
                  Assign("Z", ew(lambda X: X + 2, X=T["X"])), Assign("B", product)]
    assert not any("shared" in line for line in lines(statements, {"A", "B"}))


def test_a_mask_is_shared_where_it_multiplies_numbers():
    mask = ew(lambda X: FUNCTIONS["step"](X), X=T["X"])
    statements = [Assign("A", Product(sp.Integer(1), (T["Y"], mask))), Assign("B", Product(sp.Integer(-2), (T["T"], mask)))]
    after = lines(statements, {"A", "B"})
    assert after[0] == "shared_1 = X > 0"
    assert after[1:] == ["A = Y * shared_1", "B = -2 * T * shared_1"]
    same(plain(statements), after, ["A", "B"])


def test_a_mask_added_contracted_or_first_in_a_product_is_not_shared():
    step = ew(lambda X: FUNCTIONS["step"](X), X=T["X"])
    other = ew(lambda Y: FUNCTIONS["step"](Y), Y=T["Y"])
    masks = [Product(sp.Integer(1), (step,)), Product(sp.Integer(1), (other,))]
    added = [Assign("A", Add(tuple(masks))), Assign("B", Add(tuple(masks)))]
    contracted = [Assign("A", MatMul(step, Transpose(T["Y"]))), Assign("B", MatMul(Transpose(T["T"]), step))]
    negated = [Assign("A", Product(sp.Integer(-1), (step, T["Y"]))), Assign("B", Product(sp.Integer(-1), (step, T["T"])))]
    for statements in (contracted, negated):
        after = lines(statements, {"A", "B"})
        assert not any("shared" in line for line in after)
        same(plain(statements), after, ["A", "B"])
    after = lines(added, {"A", "B"})
    assert not any(line.endswith(("= X > 0", "= Y > 0")) for line in after)     # shared only as numbers
    same(plain(added), after, ["A", "B"])


def test_a_sigmoid_is_one_buffer():
    # its last step a division of 1.0, not np.reciprocal: the same numbers, and NumPy 2.4's float64
    # division is vectorized where its reciprocal is not (0.29 against 0.57 ms for 2048 x 512 here)
    before = [Assign("H", ew(lambda X: FUNCTIONS["sigmoid"](X), X=T["X"]))]
    after = lines(before, {"H"})
    assert after == ["H = -X", "np.minimum(H, 709.0, out=H)", "np.exp(H, out=H)", "H += 1.0",
                     "np.divide(1.0, H, out=H)"]
    same(plain(before), after, ["H"])


def test_a_dead_owned_array_is_reused_but_a_live_one_is_not():
    before = [Assign("G", MatMul(T["X"], Tensor("W", (h, h)))),
              Assign("H", Product(sp.Integer(1), (T["G"], ew(lambda X: FUNCTIONS["step"](X), X=T["X"]))))]
    assert lines(before, {"H"})[1:] == ["H = G", "H *= X > 0"]
    assert lines(before, {"H", "G"})[1:] == ["H = G * (X > 0)"]


def test_a_protected_or_viewed_array_is_never_a_buffer():
    made = [Assign("G", MatMul(T["X"], Tensor("W", (h, h)))),
            Assign("H", Product(sp.Integer(1), (T["G"], ew(lambda X: FUNCTIONS["step"](X), X=T["X"]))))]
    assert lines(made, {"H"})[1:] == ["H = G", "H *= X > 0"]                        # G: made here, dead
    assert lines(made, {"H"}, protected={"X", "G"})[1:] == ["H = G * (X > 0)"]     # G: forward returns it
    sliced = [Assign("G", ew(lambda X, Y: X + Y, X=T["X"], Y=T["Y"])),
              Assign("V", Slice(T["G"], ((0, 2), None))),
              Assign("H", Product(sp.Integer(2), (T["G"],)))]
    assert lines(sliced, {"H", "V"})[-1] == "H = 2 * G"                          # G is viewed
    sliced.pop(1)
    assert lines(sliced, {"H"})[-2:] == ["H = G", "H *= 2"]                       # and otherwise reused


def test_an_array_read_twice_by_the_statement_is_not_its_buffer():
    before = [Assign("G", ew(lambda X, Y: X + Y, X=T["X"], Y=T["Y"])),
              Assign("H", Product(sp.Integer(1), (T["G"], T["G"])))]
    assert lines(before, {"H"})[-1] == "H = G * G"


def test_a_new_array_is_not_copied_to_be_the_base_of_blocks():
    """The base of a sum of blocks (a user's InfoNCE loss: two softmax parts plus a diagonal write)
    was copied into a new float array although the sum already is one; a name or a mask still is."""
    fresh = ew(lambda X, Y: X * Y + X, X=T["X"], Y=T["Y"])
    assert lines([Assign("H", BroadcastTo(fresh, SHAPE))], {"H"}) == ["H = Y + 1", "H *= X"]
    assert lines([Assign("H", BroadcastTo(T["X"], SHAPE))], {"H"}) == ["H = np.broadcast_to(X, (n, h)).astype(float)"]
    mask = ew(lambda X: FUNCTIONS["step"](X), X=T["X"])
    assert lines([Assign("H", BroadcastTo(mask, SHAPE))], {"H"}) == ["H = np.broadcast_to(X > 0, (n, h)).astype(float)"]


def test_a_mask_times_a_number_is_never_a_buffer():
    # 2 * (X > 0) is an int64 array: adding a float into it in place would fail
    before = [Assign("G", ew(lambda X: 2 * FUNCTIONS["step"](X), X=T["X"])),
              Assign("H", ew(lambda G, Y: G + Y, G=T["G"], Y=T["Y"]))]
    after = lines(before, {"H"})
    assert after[-1] == "H = G + Y"
    same(plain(before), after, ["H"])


def test_a_squared_mask_is_not_an_inner_product():
    before = [Assign("Loss", SumAll(ew(lambda X: FUNCTIONS["step"](X) ** 2, X=T["X"])))]
    assert not isinstance(optimized([tuple(before)], set(), {"Loss"}, set())[0][0].value, SquaredNorm)


def test_a_whole_sum_of_a_product_of_two_arrays_of_one_shape_is_an_inner_product():
    """``(grad_comp * sq).sum()``, a user's mixture model's gradient of its scale, made a temporary
    of the product and summed it; ``np.vdot`` is one pass. A broadcast factor or a mask stays."""
    column = Tensor("c", (n, sp.Integer(1)))
    product = Product(sp.Integer(1), (ew(lambda X: X + 1, X=T["X"]), T["Y"]))
    assert lines([Assign("s", SumAll(product))], {"s"}) == ["s = np.vdot(X + 1, Y)"]
    same(plain([Assign("s", SumAll(product))]), lines([Assign("s", SumAll(product))], {"s"}), ["s"])
    broadcast = Product(sp.Integer(1), (column, T["Y"]))
    assert lines([Assign("s", SumAll(broadcast))], {"s"}) == ["s = (c * Y).sum()"]
    mask = Product(sp.Integer(1), (ew(lambda X: FUNCTIONS["step"](X), X=T["X"]), ew(lambda Y: FUNCTIONS["step"](Y), Y=T["Y"])))
    assert "vdot" not in lines([Assign("s", SumAll(mask))], {"s"})[0]


def test_every_table_ufunc_chain_computes_the_table_spelling():
    rng = np.random.default_rng(1)
    for name, row in TABLE.items():
        if not row.ufuncs:
            continue
        args = [np.abs(rng.standard_normal((3, 4))) + 0.1] + [0.7] * (row.arity - 1)
        buffer = args[0].copy()
        for ufunc, *specs in row.ufuncs:
            values = [buffer if s == 0 and isinstance(s, int) else args[s] if isinstance(s, int) else s for s in specs]
            getattr(np, ufunc)(*values, out=buffer)
        np.testing.assert_allclose(buffer, numeric(name)(*args), rtol=1e-14, err_msg=name)


def test_a_block_that_may_not_run_is_left_alone_and_its_reads_keep_arrays_alive():
    made = (Assign("G", MatMul(T["X"], Tensor("W", (h, h)))),
            Assign("H", Product(sp.Integer(1), (T["G"], ew(lambda X: FUNCTIONS["step"](X), X=T["X"])))))
    carry = (Assign("V", Product(sp.Integer(3), (T["G"], T["X"]))),)
    out = optimized([made, carry], {"X"}, {"H", "V"}, {"X"}, skip=frozenset({1}))
    assert [NumPyPrinter().print_statement(s) for s in out[0]][1:] == ["H = G * (X > 0)"]   # V reads G later
    assert out[1] == carry


# contractions: an einsum as matrix products and single reductions

a, b, c = sp.symbols("a b c", positive=True)
SIZES = {a: 3, b: 4, c: 5}
ARRAYS = {"U": (a, b), "V": (a, c), "P": (a, a), "G": (a, a), "D": (a, b), "u": (b, sp.Integer(1))}


def leaf(name, transposed=False):
    """An einsum operand: the entries of tensor ``name`` (of ``ARRAYS``), placed as given."""
    i, j = sp.symbols("i j")
    shape = ARRAYS[name]
    node = Tensor(name, shape)
    node = Transpose(node) if transposed else node
    entry = sp.IndexedBase(name)[i, j]
    return Elementwise(entry, ((entry, node),))


def evaluated(statements, names):
    rng = np.random.default_rng(2)
    scope = {"np": np, **{str(k): v for k, v in SIZES.items()},
             **{k: rng.standard_normal(tuple(int(d.subs(SIZES)) for d in s)) for k, s in ARRAYS.items()}}
    exec("\n".join(statements), scope)
    return [scope[k] for k in names]


def contracted(einsum):
    """The einsum as the NumPy pass writes it, and its value before and after."""
    statements = [Assign("R", einsum)]
    after = lines(statements, {"R"}, protected=set(ARRAYS), floats=set(ARRAYS))
    before = plain(statements)
    np.testing.assert_allclose(evaluated(after, ["R"])[0], evaluated(before, ["R"])[0], rtol=1e-12)
    return after


def test_a_sum_that_factors_is_a_product_of_single_reductions():
    # sum_{b,c} U[a, b] V[a, c]: two row sums, no contraction over three indices
    after = contracted(Einsum((("ab", leaf("U")), ("ac", leaf("V"))), "a", (a, sp.Integer(1))))
    assert not any("einsum" in line for line in after)
    assert sum(line.count("@ shared_") + line.count("@ np.ones") for line in after) == 2


def test_a_chain_of_contractions_is_matrix_products_in_the_einsums_order():
    # sum_{c,d} P[b, d] P.T[a, c] G[c, d] = (P.T @ G @ P.T)[a, b]
    after = contracted(Einsum((("bd", leaf("P")), ("ac", leaf("P", True)), ("cd", leaf("G"))), "ab", (a, a)))
    assert after == ["R = P.T @ (G @ P.T)"]


def test_a_contraction_to_a_number_is_an_inner_product():
    # sum_{a,b,c} D[c, b] D[a, b] P[a, c] = <D @ D.T, P.T> = <D @ D.T, P> (both sides transposed,
    # passes.orientation): no temporary of the entrywise product
    after = contracted(Einsum((("bc", leaf("D", True)), ("ab", leaf("D")), ("ac", leaf("P"))), "", ()))
    assert after == ["R = np.vdot(D @ D.T, P)"]


def test_a_vector_operand_and_a_mask_contract_as_numbers():
    mask = Elementwise(FUNCTIONS["step"](sp.IndexedBase("U")[0]), ((sp.IndexedBase("U")[0], Tensor("U", (a, b))),))
    after = contracted(Einsum((("ab", mask), ("b", leaf("u")), ("ab", leaf("U"))), "a", (a, sp.Integer(1))))
    assert not any("einsum" in line for line in after)


def test_an_einsum_left_as_it_is_gets_a_fixed_order_never_a_search():
    # an index summed over three operands that no step merges: left to np.einsum
    star = Einsum((("ab", leaf("P")), ("ac", leaf("P")), ("ad", leaf("P")), ("bc", leaf("G")), ("cd", leaf("G")),
                   ("bd", leaf("G"))), "", ())
    after = contracted(star)
    assert "np.einsum(" in after[0] and "optimize=True" not in after[0] and "einsum_path" in after[0]


def test_the_other_backends_get_einsums_contracted_and_products_of_one_operand_merged():
    # torch, JAX and numba print the plain statements: an einsum of three operands pays for its
    # order at every call, and P.T @ D + P @ D is two products where (P.T + P) @ D is one. The
    # entries are spelled differently in the two terms (the lowering's index labels), as they are
    # in a derived gradient: fewer_products must see them as one operand.
    i, j, k = sp.symbols("i j k")
    D_first, D_second = (Elementwise(sp.IndexedBase("D")[x, j], ((sp.IndexedBase("D")[x, j], Tensor("D", (a, b))),))
                         for x in (i, k))
    total = Add((Product(sp.Rational(1, 2), (MatMul(Transpose(Tensor("P", (a, a))), D_first),)),
                 Product(sp.Rational(1, 2), (MatMul(Tensor("P", (a, a)), D_second),))))
    star = Einsum((("bc", leaf("D", True)), ("ab", leaf("D")), ("ac", leaf("P"))), "", ())
    statements = [Assign("R", total), Assign("S", star)]
    after = plain(fewer_products(statements))
    assert after[0].count("@") == 1 and "einsum" not in after[1], after
    for got, want in zip(evaluated(after, ["R", "S"]), evaluated(plain(statements), ["R", "S"])):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# a product's number on a factor another statement scales by the same number

COLUMN = (n, sp.Integer(1))


def test_a_number_goes_on_a_factor_that_times_it_is_computed_elsewhere():
    column, row_sums = Tensor("c", COLUMN), MatMul(T["X"], Tensor("o", (h, sp.Integer(1))))
    k = sp.Rational(-2, 3)
    statements = [Assign("A", Product(k, (column, T["Y"]))),            # the number goes on c: it broadcasts
                  Assign("B", Product(k, (column, row_sums)))]          # two columns: no factor broadcasts
    after = lines(statements, {"A", "B"}, floats={"X", "Y", "c", "o"})
    assert after[0] == "shared_1 = -2/3 * c"
    assert not any("2/3" in line for line in after[1:])      # the number is applied once, on c
    rng = np.random.default_rng(3)
    scope = {"np": np, "n": 3, "h": 4, "X": rng.standard_normal((3, 4)), "Y": rng.standard_normal((3, 4)),
             "c": rng.standard_normal((3, 1)), "o": rng.standard_normal((4, 1))}
    values = [dict(scope) for _ in range(2)]
    exec("\n".join(plain(statements)), values[0])
    exec("\n".join(after), values[1])
    for name in ("A", "B"):
        np.testing.assert_allclose(values[1][name], values[0][name], rtol=1e-13)


def test_a_number_stays_on_a_product_of_equal_shapes_that_no_other_statement_scales():
    column, row_sums = Tensor("c", COLUMN), MatMul(T["X"], Tensor("o", (h, sp.Integer(1))))
    statements = [Assign("B", Product(sp.Rational(-2, 3), (column, row_sums)))]
    after = lines(statements, {"B"}, floats={"X", "c", "o"})
    assert not any("shared" in line for line in after) and after[-1] == "B *= -2/3"


def test_a_number_never_goes_on_a_mask_factor():
    mask = ew(lambda X: FUNCTIONS["step"](X), X=T["X"])
    k = sp.Integer(3)
    statements = [Assign("A", Product(k, (mask,))), Assign("B", Product(k, (mask, T["Y"])))]
    after = lines(statements, {"A", "B"})
    assert not any("shared" in line for line in after)


# an elementwise product: its number and broadcast factors first, as one small value

def test_the_number_and_the_broadcast_factors_of_an_elementwise_product_come_first():
    row = Tensor("r", (sp.Integer(1), h))
    i, j = sp.symbols("i j")
    X, r = sp.IndexedBase("X")[i, j], sp.IndexedBase("r")[i, j]
    before = [Assign("H", ew(lambda X, Y: X + Y, X=T["X"], Y=T["Y"])),
              Assign("G", Elementwise(2 * X * r / n, ((X, T["X"]), (r, row))))]
    after = lines(before, {"G", "H"}, floats={"X", "Y", "r"})
    assert after[-1] == "G = (2/n*r) * X"                     # one pass over X (and one over r), not three
    rng = np.random.default_rng(4)
    scope = {"np": np, "n": 3, "h": 4, "X": rng.standard_normal((3, 4)), "Y": rng.standard_normal((3, 4)),
             "r": rng.standard_normal((1, 4))}
    values = [dict(scope) for _ in range(2)]
    exec("\n".join(plain(before)), values[0])
    exec("\n".join(after), values[1])
    np.testing.assert_allclose(values[1]["G"], values[0]["G"], rtol=1e-13)


def test_broadcast_factors_of_two_shapes_or_a_mask_are_not_moved_first():
    row, column = Tensor("r", (sp.Integer(1), h)), Tensor("c", (n, sp.Integer(1)))
    i, j = sp.symbols("i j")
    X, r, c = sp.IndexedBase("X")[i, j], sp.IndexedBase("r")[i, j], sp.IndexedBase("c")[i, j]
    outer = Elementwise(2 * X * r * c, ((X, T["X"]), (r, row), (c, column)))      # r * c is as large as X
    mask = Elementwise(2 * X * FUNCTIONS["step"](c), ((X, T["X"]), (c, column)))
    for node in (outer, mask):
        after = lines([Assign("G", node)], {"G"}, floats={"X", "r", "c"})
        assert "(2" not in after[-1], after


# releases: the names of a dead array dropped after its last use

def _after_releases(statements, live_out, protected=frozenset({"X", "Y", "T"}), skip=frozenset()):
    blocks = [tuple(s) for s in statements]
    out = optimized(blocks, {"X", "Y", "T"}, set(live_out), set(protected), skip=skip)
    return [[NumPyPrinter().print_statement(s) for s in block] for block in out]


def test_a_dead_array_is_released_with_its_views_after_the_last_use_of_any():
    W = Tensor("W", (h, h))
    statements = [[Assign("G", MatMul(T["X"], W))],
                  [Assign("G1", Slice(T["G"], ((0, 2), None)))],
                  [Assign("A", MatMul(Slice(T["G"], ((0, 2), None)), W))],
                  [Assign("B", ew(lambda Y, X: Y * X, Y=T["Y"], X=T["X"]))]]
    out = _after_releases(statements, {"A", "B"})
    assert out[2][-2:] == ["del G", "del G1"] and not any("del" in line for block in out[:2] for line in block)
    code = [line for block in out for line in block]
    rng = np.random.default_rng(5)
    scope = {"np": np, "X": rng.standard_normal((3, 4)), "Y": rng.standard_normal((3, 4)),
             "W": rng.standard_normal((4, 4))}
    exec("\n".join(code), scope)
    np.testing.assert_allclose(scope["A"], (scope["X"] @ scope["W"])[:2] @ scope["W"], rtol=1e-13)


def test_an_allocated_array_written_in_views_is_released_with_them():
    W = Tensor("W", (h, h))
    statements = [[Allocate("G", SHAPE), Assign("G1", Slice(T["G"], ((0, 2), None))),
                   Assign("G2", Slice(T["G"], ((2, n), None)))],
                  [Assign("A", MatMul(T["G"], W))],
                  [Assign("B", ew(lambda Y, X: Y * X, Y=T["Y"], X=T["X"]))]]
    out = _after_releases(statements, {"A", "B"})
    assert out[1][-3:] == ["del G", "del G1", "del G2"]
    assert not any("del" in line for line in _after_releases(statements, {"A", "B"}, {"X", "Y", "T", "G"})[1])


def test_a_returned_protected_or_small_array_is_never_released_nor_anything_after_the_last_allocation():
    W = Tensor("W", (h, h))
    statements = [[Assign("G", MatMul(T["X"], W))], [Assign("A", MatMul(T["G"], W))],
                  [Assign("B", ew(lambda Y, X: Y * X, Y=T["Y"], X=T["X"]))]]
    assert any("del G" in line for line in sum(_after_releases(statements, {"A", "B"}), []))
    assert not any("del" in line for line in sum(_after_releases(statements, {"A", "B", "G"}), []))
    assert not any("del" in line for line in sum(_after_releases(statements, {"A", "B"}, {"X", "Y", "G"}), []))
    assert not any("del" in line for line in sum(_after_releases(statements[:2], {"A"}), []))
    g = Tensor("g", (n, sp.Integer(1)))
    column = [[Assign("g", MatMul(T["X"], Tensor("w", (h, sp.Integer(1)))))],
              [Assign("A", Product(sp.Integer(1), (g, T["Y"])))],
              [Assign("B", ew(lambda Y, X: Y * X, Y=T["Y"], X=T["X"]))]]
    assert not any("del" in line for line in sum(_after_releases(column, {"A", "B"}), []))


def test_nothing_is_released_in_or_after_a_block_that_may_not_run():
    W = Tensor("W", (h, h))
    statements = [[Assign("G", MatMul(T["X"], W))], [Assign("A", MatMul(T["G"], W))],
                  [Assign("B", ew(lambda Y, X: Y * X, Y=T["Y"], X=T["X"]))]]
    assert not any("del" in line for line in sum(_after_releases(statements, {"A", "B"}, skip=frozenset({1})), []))
    assert not any("del" in line for line in sum(_after_releases(statements, {"A", "B"}, skip=frozenset({0})), []))


# the workspace (passes.workspace): large temporaries in buffers kept between calls

WORKSPACE_HELPERS = '''
_WORKSPACE = {}
def _workspace(_key, _shapes):
    return _WORKSPACE.pop(_key, None) or tuple(np.empty(_shape) for _shape in _shapes)
def _keep(_key, _arrays):
    _WORKSPACE.clear()
    _WORKSPACE[_key] = _arrays
'''


def workspace_function(statements, returned):
    """``statements`` through every pass with a workspace, as a function of X, Y, T returning
    ``returned`` (a tuple of names)."""
    out = optimized([tuple(statements)], {"X", "Y", "T"}, set(returned), {"X", "Y", "T"}, workspace_from=0)
    body = [NumPyPrinter().print_statement(s) for s in out[0]]
    code = "def f(X, Y, T):\n    n, h = X.shape\n" + "".join(f"    {line}\n" for line in body) + \
        f"    return {', '.join(returned)},\n"
    scope = {"np": np}
    exec(WORKSPACE_HELPERS + code, scope)
    return scope["f"], body


def test_large_temporaries_live_in_the_workspace_and_returned_arrays_are_never_overwritten():
    E, H, G = Tensor("E", SHAPE), Tensor("H", SHAPE), Tensor("G", SHAPE)
    statements = [Assign("E", ew(lambda X, Y: X - Y, X=T["X"], Y=T["Y"])),
                  Assign("H", ew(lambda E, T: sp.tanh(E) * T, E=E, T=T["T"])),
                  Assign("G", ew(lambda H, X: H * X + 2 * H, H=H, X=T["X"])),
                  Assign("R", MatMul(Transpose(G), Product(sp.Integer(1), (E, T["T"]))))]
    f, body = workspace_function(statements, ("R", "G"))
    assert body[0].startswith("_slot_1") and "_workspace((h, n)" in body[0] and body[-1].startswith("_keep(")
    assert not any(line.startswith("G = _slot") for line in body)       # returned: a new array
    rng = np.random.default_rng(0)
    first = [rng.standard_normal((3, 4)) for _ in range(3)]
    X, Y, T_ = first
    E_ = X - Y
    H_ = np.tanh(E_) * T_
    want_G = H_ * X + 2 * H_
    want = (want_G.T @ (E_ * T_), want_G)
    got = f(*first)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    kept = [g.copy() for g in got]
    f(*[rng.standard_normal((3, 4)) for _ in range(3)])            # the workspace is reused
    f(*[rng.standard_normal((5, 2)) for _ in range(3)])            # other dimensions: new buffers
    for g, k in zip(got, kept):
        np.testing.assert_array_equal(g, k)                         # what the user kept is intact


def test_a_slot_is_shared_only_by_arrays_whose_lives_do_not_overlap():
    E, F = Tensor("E", SHAPE), Tensor("F", SHAPE)
    statements = [Assign("E", ew(lambda X, Y: X * Y, X=T["X"], Y=T["Y"])),
                  Assign("F", ew(lambda X, T: X - T, X=T["X"], T=T["T"])),
                  Assign("s", MatMul(Transpose(E), F)),
                  Assign("G", ew(lambda Y, T: Y + T, Y=T["Y"], T=T["T"])),
                  Assign("r", MatMul(Transpose(Tensor("G", SHAPE)), T["X"]))]
    f, body = workspace_function(statements, ("s", "r"))
    assert "E = _slot_1" in body and "F = _slot_2" in body and "G = _slot_1" in body
    rng = np.random.default_rng(1)
    X, Y, T_ = (rng.standard_normal((3, 4)) for _ in range(3))
    s, r = f(X, Y, T_)
    np.testing.assert_allclose(s, (X * Y).T @ (X - T_), rtol=1e-13)
    np.testing.assert_allclose(r, (Y + T_).T @ X, rtol=1e-13)


def test_no_workspace_where_a_block_may_not_run():
    statements = [Assign("E", ew(lambda X, Y: X - Y, X=T["X"], Y=T["Y"])),
                  Assign("r", MatMul(Transpose(Tensor("E", SHAPE)), T["T"]))]
    out = optimized([tuple(statements)], {"X", "Y", "T"}, {"r"}, {"X", "Y", "T"}, skip=frozenset({0}),
                    workspace_from=0)
    assert not any("_slot" in NumPyPrinter().print_statement(s) for s in out[0])


def test_blocks_before_the_workspace_are_left_as_they_are():
    E = Tensor("E", SHAPE)
    blocks = [(Assign("E", ew(lambda X, Y: X - Y, X=T["X"], Y=T["Y"])),),
              (Assign("F", ew(lambda E, T: E * T, E=E, T=T["T"])), Assign("r", MatMul(Transpose(Tensor("F", SHAPE)), E)))]
    out = optimized(blocks, {"X", "Y", "T"}, {"r"}, {"X", "Y", "T"}, workspace_from=1)
    first, second = ([NumPyPrinter().print_statement(s) for s in b] for b in out)
    assert first == ["E = X - Y"]                                   # another function prints these too
    assert second[0].startswith("_slot_1, = _workspace(") and "F = _slot_1" in second


# early accumulation (passes.accumulation): a sum added up as its terms become ready

def _steps(k):
    """An unrolled chain of ``k`` steps, ``A_t = tanh(A_{t-1} @ W)`` (``A_0 = X``), and a weight
    gradient ``R = sum_t A_t.T @ A_t``: every step's array is read by the one sum at the end. Each
    step's product has partners of its own, as a recurrent step's weight gradient does (with one
    partner in common, ``factored_sums`` makes the sum one product first)."""
    W = Tensor("W", (h, h))
    chain = [Assign(f"A{t}", ew(lambda P: sp.tanh(P), P=MatMul(T["X"] if t == 1 else Tensor(f"A{t - 1}", SHAPE), W)))
             for t in range(1, k + 1)]
    total = Add(tuple(Product(sp.Integer(1), (MatMul(Transpose(Tensor(f"A{t}", SHAPE)), Tensor(f"A{t}", SHAPE)),))
                      for t in range(1, k + 1)))
    return chain + [Assign("R", total)]


def _chain_function(statements, returned=("R",)):
    out = optimized([(s,) for s in statements], {"X", "Y", "T", "W"}, set(returned), {"X", "Y", "T", "W"})
    body = [NumPyPrinter().print_statement(s) for block in out for s in block]
    scope = {"np": np}
    exec("def f(X, Y, W):\n" + "".join(f"    {line}\n" for line in body) + f"    return {', '.join(returned)}\n", scope)
    return scope["f"], body


def test_a_sum_of_per_step_products_is_added_up_step_by_step_and_each_step_let_go():
    f, body = _chain_function(_steps(4))
    assert body.index("R = A1.T @ A1") < body.index("A3 = np.tanh(A2 @ W)")    # not at the end
    assert body.index("R += A2.T @ A2") < body.index("A4 = np.tanh(A3 @ W)")
    assert "del A1" in body and body.index("del A1") < body.index("A3 = np.tanh(A2 @ W)")
    rng = np.random.default_rng(3)
    X, Y, W = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    steps, want = [X], np.zeros((4, 4))
    for _ in range(4):
        steps.append(np.tanh(steps[-1] @ W))
        want += steps[-1].T @ steps[-1]
    np.testing.assert_allclose(f(X, Y, W), want, rtol=1e-13)


def test_a_sum_stays_where_moving_frees_nothing_or_a_term_is_broadcast_or_of_inputs_alone():
    W, c = Tensor("W", (h, h)), Tensor("c", (h, sp.Integer(1)))
    A1, B = Tensor("A1", SHAPE), Tensor("B", SHAPE)
    made = [Assign("A1", ew(lambda P: sp.tanh(P), P=MatMul(T["X"], W))),
            Assign("B", ew(lambda P: sp.tanh(P), P=MatMul(A1, W)))]

    def of(node):
        return Product(sp.Integer(1), (node,))
    early, late = of(MatMul(Transpose(A1), A1)), of(MatMul(Transpose(B), B))    # no partner in common
    then = Assign("C", ew(lambda P: sp.tanh(P), P=MatMul(B, W)))         # a new array after A1's last reader
    cases = {"nothing made in between": [*made, Assign("R", Add((early, late)))],
             "inputs alone": [*made, then, Assign("R", Add((of(MatMul(Transpose(T["X"]), T["Y"])), late)))],
             "broadcast": [*made, then, Assign("R", Add((early, late, of(c))))]}
    for case, statements in cases.items():
        out = optimized([(s,) for s in statements], {"X", "Y", "W", "c"}, {"R", "C"}, {"X", "Y", "W", "c"})
        body = [NumPyPrinter().print_statement(s) for block in out for s in block if not isinstance(s, Release)]
        first_r = min(k for k, line in enumerate(body) if line.startswith("R"))
        assert all(line.startswith("R") for line in body[first_r:]), (case, body)
    moved = [*made, then, Assign("R", Add((early, late)))]              # the control: here the sum moves
    out = optimized([(s,) for s in moved], {"X", "Y", "W"}, {"R", "C"}, {"X", "Y", "W"})
    body = [NumPyPrinter().print_statement(s) for block in out for s in block]
    assert body.index("R = A1.T @ A1") < body.index("C = np.tanh(B @ W)")


def test_a_forward_value_is_released_in_the_function_own_statements_only():
    W = Tensor("W", (h, h))
    blocks = [(Assign("A1", ew(lambda P: sp.tanh(P), P=MatMul(T["X"], W))),),
              (Assign("A2", ew(lambda P: sp.tanh(P), P=MatMul(Tensor("A1", SHAPE), W))),),
              (Assign("G", MatMul(Tensor("A2", SHAPE), W)), Assign("R", MatMul(Transpose(Tensor("G", SHAPE)), T["Y"])))]
    protected = {"X", "Y", "W", "A1", "A2"}                              # A1, A2: values forward() returns
    out = optimized(blocks, {"X", "Y", "W"}, {"R"}, protected, workspace_from=2)
    lines_of = [[NumPyPrinter().print_statement(s) for s in block] for block in out]
    assert not any(line.startswith("del") for block in lines_of[:2] for line in block)    # forward()'s statements
    assert lines_of[2][0] == "del A1"                 # dead before the backward: let go at its start
    assert "del A2" in lines_of[2] and "del X" not in lines_of[2]      # an input is never released
    assert not any("del" in line for block in _after_releases([list(b) for b in blocks], {"R"}, protected)
                   for line in block if "A1" in line or "A2" in line)  # no workspace_from: protected throughout


# products of one operand with different partners: one product

def test_products_of_one_operand_with_different_partners_are_one_product():
    one = sp.Integer(1)
    row_sums = Add(tuple(Product(one, (MatMul(Product(one, (T[k],)), Transpose(T["Y"])),)) for k in ("X", "T")))
    statements = [Assign("A", row_sums),
                  Assign("B", Add((Product(one, (MatMul(T["X"], Transpose(T["Y"])),)),
                                   Product(sp.Integer(-1), (MatMul(T["T"], Transpose(T["Y"])),)))))]
    after = lines(statements, {"A", "B"})
    assert after[-2:] == ["A = (X + T) @ Y.T", "B = (X - T) @ Y.T"]   # one product each, not two
    same(plain(statements), after, ["A", "B"])


def test_products_of_one_operand_with_partners_of_different_numbers_are_one_product():
    """``X.T @ Y - 1/n * X.T @ T``, matrix results: the numbers go into the partners' sum, the one
    most terms carry outside it, and the scaled partner starts the buffer's chain."""
    one, third = sp.Integer(1), 1 / n
    left = Add((Product(one, (MatMul(Transpose(T["X"]), T["Y"]),)),
                Product(-third, (MatMul(Transpose(T["X"]), T["T"]),))))
    right = Add((Product(2 * h, (MatMul(T["Y"], Transpose(T["X"])),)), Product(2 * h, (MatMul(T["T"], Transpose(T["X"])),)),
                 Product(-6 * h / n, (MatMul(T["Z"], Transpose(T["X"])),))))
    statements = [Assign("Z", Product(one, (T["X"], T["Y"]))), Assign("A", left), Assign("B", right)]
    after = lines(statements, {"A", "B"})
    assert after[1:] == ["A = X.T @ ((-1/n) * T + Y)", "B = ((-3/n) * Z + Y + T) @ X.T", "B *= 2*h"]
    same(plain(statements), after, ["A", "B"])
    f, body = workspace_function(statements[1:2], ("A",))       # in a buffer: no temporary for the scaling
    assert body[2:5] == ["np.multiply(T, -1/n, out=_temporary_1)", "_temporary_1 += Y", "A = X.T @ _temporary_1"], body
    rng = np.random.default_rng(1)
    X, Y, T_ = (rng.standard_normal((3, 4)) for _ in range(3))
    np.testing.assert_allclose(f(X, Y, T_)[0], X.T @ Y - X.T @ T_ / 3, rtol=1e-13)


def test_the_same_factors_around_two_products_make_one_product_but_row_sums_stay_apart():
    from symgrad.lower.nodes import AxisSum
    column = Tensor("c", (n, sp.Integer(1)))
    square = Tensor("S", (h, h))
    products = [Product(sp.Integer(-2), (column, MatMul(T[k], square))) for k in ("X", "T")]
    sums = [Product(sp.Integer(-2), (column, AxisSum(ew(lambda X, Y: X * Y, X=T[k], Y=T["Y"]), 1))) for k in ("X", "T")]
    statements = [Assign("c", AxisSum(T["X"], 1)), Assign("S", MatMul(Transpose(T["Y"]), T["X"])),
                  Assign("A", Add(tuple(products))), Assign("B", Add(tuple(sums)))]
    after = lines(statements, {"A", "B"})
    assert sum(line.count("@") for line in after) == 1 + 1 + 1     # c, S, A's one product
    assert sum(line.count("np.vecdot(") for line in after) == 2      # B's two row sums, apart
    same(plain(statements), after, ["A", "B"])


def test_a_product_computed_elsewhere_too_is_not_merged():
    one = sp.Integer(1)
    shared = MatMul(T["X"], Transpose(T["Y"]))
    statements = [Assign("A", Add((Product(one, (shared,)), Product(one, (MatMul(T["T"], Transpose(T["Y"])),))))),
                  Assign("B", Product(sp.Integer(3), (shared,)))]
    after = lines(statements, {"A", "B"})
    assert after[0] == "shared_1 = X @ Y.T"                         # computed once, for both
    same(plain(statements), after, ["A", "B"])


def test_a_value_inside_a_shared_value_is_shared_with_its_other_uses():
    from symgrad.lower.nodes import AxisSum
    product = ew(lambda X, Y: X * Y, X=T["X"], Y=T["Y"])
    statements = [Assign("A", AxisSum(T["T"], 0)), Assign("B", Product(sp.Integer(2), (AxisSum(product, 0),))),
                  Assign("C", Product(sp.Integer(3), (AxisSum(product, 0),)))]
    after = lines(statements, {"A", "B", "C"})
    assert sum(line.count("np.ones") for line in after) == 1     # the shared column sum reads the one vector
    same(plain(statements), after, ["A", "B", "C"])


# means: sums against a vector of the number, where two or more share it

def test_two_means_over_one_axis_are_products_with_one_vector_of_the_number():
    from symgrad.lower.nodes import AxisSum
    mean = lambda node: Product(1 / h, (AxisSum(node, 1),))  # noqa: E731
    statements = [Assign("A", mean(T["X"])), Assign("B", mean(ew(lambda Y: sp.tanh(Y), Y=T["Y"]))),
                  Assign("C", Add((Product(sp.Integer(1), (T["X"],)), Product(sp.Integer(-1), (AxisSum(T["T"], 1),)))))]
    after = lines(statements, {"A", "B", "C"})
    assert after[0] == "shared_1 = np.full((h, 1), 1/h, dtype=float)"
    assert not any("*=" in line for line in after)                  # no multiplication left after the sums
    assert "np.full((h, 1), -1" not in "\n".join(after)             # C subtracts its sum: no vector of -1
    same(plain(statements), after, ["A", "B", "C"])
    alone = lines(statements[:1], {"A"})
    assert "np.full" not in "\n".join(alone)                       # one mean: its multiplication is cheaper


# row sums of entrywise products: one inner product per row

def test_row_sums_of_products_are_inner_products_per_row_and_column_sums_stay_products():
    from symgrad.lower.nodes import AxisSum
    row = Tensor("r", (sp.Integer(1), h))
    mask = ew(lambda Z: FUNCTIONS["step"](Z), Z=T["Z"])
    statements = [Assign("A", AxisSum(ew(lambda X, Y: 2 * X * Y, X=T["X"], Y=T["Y"]), 1)),
                  Assign("B", AxisSum(ew(lambda X: X**2, X=T["X"]), 1)),
                  Assign("C", AxisSum(Product(sp.Integer(1), (row, T["X"], T["Y"])), 1)),
                  Assign("D", AxisSum(Product(sp.Integer(1), (mask, T["Y"])), 1)),
                  Assign("E", AxisSum(ew(lambda X, Y: X * Y, X=T["X"], Y=T["Y"]), 0))]
    after = lines(statements, {"A", "B", "C", "D", "E"}, floats={"X", "Y", "T", "Z", "r"})
    text = "\n".join(after)
    assert text.count("np.vecdot(") == 4 and "np.vecdot(X, X, keepdims=True)" in text     # a square: X with X
    assert any(line.startswith("D = np.vecdot(") and "Y, keepdims" in line for line in after)  # the mask on the left
    assert any(line.startswith("E = ") and "@" in line for line in after)     # down the columns: a product
    rng = np.random.default_rng(1)
    scope = {"np": np, "n": 3, "h": 4, "r": rng.standard_normal((1, 4)),
             **{k: rng.standard_normal((3, 4)) for k in ("X", "Y", "Z")}}
    before_scope, after_scope = dict(scope), dict(scope)
    exec("\n".join(plain(statements)), before_scope)
    exec(text, after_scope)
    for name in "ABCDE":
        np.testing.assert_allclose(after_scope[name], before_scope[name], rtol=1e-13)


# kept constants: the ones vectors that only matrix products read, made once

def _constant(shape, number):
    array = np.full(shape, number, dtype=float)
    array.flags.writeable = False
    return array


def test_ones_vectors_read_only_by_products_are_kept_and_never_written():
    from symgrad.lower.nodes import AxisSum
    statements = [Assign("A", AxisSum(T["X"], 1)), Assign("B", AxisSum(T["Y"], 1)),
                  Assign("C", Product(sp.Integer(1), (ew(lambda X: sp.exp(X), X=T["X"]), AxisSum(T["T"], 0))))]
    out = optimized([tuple(statements)], {"X", "Y", "T"}, {"A", "B", "C"}, {"X", "Y", "T"}, constants=True)
    after = [NumPyPrinter().print_statement(s) for s in out[0]]
    text = "\n".join(after)
    assert "np.ones" not in text and text.count("_constant(") == 2       # each vector made once, then kept
    rng = np.random.default_rng(2)
    scope = {"np": np, "n": 3, "h": 4, "_constant": _constant, **{k: rng.standard_normal((3, 4)) for k in "XYT"}}
    expected = dict(scope)
    exec("\n".join(plain(statements)), expected)
    exec(text, scope)       # a write into a kept (read-only) vector would raise here
    for name in "ABC":
        np.testing.assert_allclose(scope[name], expected[name], rtol=1e-13)


def test_a_ones_vector_returned_or_written_is_not_kept():
    from symgrad.lower.nodes import Ones
    ones = Ones((n, sp.Integer(1)))
    statements = [Assign("O", ones), Assign("A", MatMul(Transpose(T["X"]), Tensor("O", ones.shape))),
                  Assign("P", ones), Assign("B", Product(sp.Integer(2), (Tensor("P", ones.shape),)))]
    out = optimized([tuple(statements)], {"X"}, {"O", "A", "B"}, {"X"}, constants=True)
    text = "\n".join(NumPyPrinter().print_statement(s) for s in out[0])
    assert "_constant(" not in text        # O is returned, P is read by more than a product


def test_a_whole_sum_over_transposed_arrays_reads_them_as_the_adjoint_does_so_their_values_are_shared():
    # the loss sum_c (1 - p[c])**2 * log(p[c]) lowered over p.T, its adjoint over p: one (1 - p)**2,
    # one log(p), however the loss's frame ordered its indices
    P = Tensor("P", SHAPE)
    square = lambda P: (1 - P) ** 2   # noqa: E731
    loss_over = lambda node: VDot(ew(square, P=node), ew(lambda P: sp.log(P), P=node))   # noqa: E731
    statements = [Assign("Loss", loss_over(Transpose(P))),
                  Assign("G", ew(lambda P: (1 - P) ** 2 / P + sp.log(P), P=P))]
    after = lines(statements, {"Loss", "G"}, floats={"P"}, protected={"P"})
    assert not any(".T" in line for line in after), after
    assert sum("np.log(" in line for line in after) == 1 and sum("1 - P" in line for line in after) == 1, after
    scope = {"np": np, "P": np.random.default_rng(1).uniform(0.1, 0.9, (3, 4))}
    reference = {"np": np, "P": scope["P"]}
    exec("\n".join(plain(statements)), reference)
    exec("\n".join(after), scope)
    for name in ("Loss", "G"):
        np.testing.assert_allclose(scope[name], reference[name], rtol=1e-13)


def test_a_whole_sum_keeps_its_orientation_where_transposing_adds_transposes():
    from symgrad.lower.passes.entries import canonical
    from symgrad.lower.passes.orientation import untransposed_sums
    mixed = VDot(Transpose(T["X"]), Transpose(T["Y"]))
    assert untransposed_sums(mixed) == VDot(T["X"], T["Y"])
    plain_sum = SumAll(ew(lambda X, Y: X * Y, X=T["X"], Y=T["Y"]))
    assert untransposed_sums(plain_sum) is plain_sum
    one_of_two = VDot(Transpose(T["X"]), ew(lambda Y: Y + 1, Y=Transpose(T["Y"])))
    assert untransposed_sums(one_of_two) == VDot(T["X"], canonical(ew(lambda Y: Y + 1, Y=T["Y"])))


def test_a_float_inside_a_mask_does_not_make_the_masks_sum_a_float_buffer():
    # minimum's adjoint, (2*(1.0 > a) + (a == 1.0)) * g: the numbers 1.0 are the masks' own, the
    # masks' sum is an int64 array, so the chain starts on g (np.multiply into an int array fails)
    above, equal = FUNCTIONS["above"], FUNCTIONS["equal"]
    body = lambda X, Y: ((2 * above(sp.Float(1.0), X) + equal(X, sp.Float(1.0))) * Y + 2) / 2   # noqa: E731
    statements = [Assign("G", ew(lambda X: X * 3, X=T["X"])), Assign("R", ew(body, X=T["X"], Y=Tensor("G", SHAPE)))]
    after = lines(statements, {"R"})
    scope = {"np": np, "X": np.array([[0.5, 1.0, 2.0], [-3.0, 1.0, 0.2]])}
    reference = dict(scope)
    exec("\n".join(plain(statements)), reference)
    exec("\n".join(after), scope)
    np.testing.assert_allclose(scope["R"], reference["R"], rtol=1e-13)


def test_a_sum_inside_a_longer_sum_is_computed_once():
    # a = (0.5*t + 0.5)*X and g = (X*Y + 0.5*t + 0.5)*Y with t = tanh(X): SymPy flattens g's sum,
    # so 0.5*t + 0.5 is a part of it only as two of its three terms; one name serves both
    half = sp.Rational(1, 2)
    gate = lambda X: half * FUNCTIONS["tanh"](X) + half   # noqa: E731
    statements = [Assign("A", ew(lambda X: gate(X) * X, X=T["X"])),
                  Assign("G", ew(lambda X, Y: (X * Y + gate(X)) * Y, X=T["X"], Y=T["Y"]))]
    after = lines(statements, {"A", "G"})
    assert sum("np.tanh(" in line for line in after) == 1, after
    assert sum("1/2" in line for line in after) == 1, after      # the gate's half added once, not in A and G
    same(plain(statements), after, ["A", "G"])


def test_a_product_with_a_sum_of_negative_terms_spends_no_pass_on_its_sign():
    # (X**2 - 1)*(-2*Y - 3*X) is (1 - X**2)*(2*Y + 3*X): no np.negative over the array
    statements = [Assign("G", ew(lambda X, Y: (X ** 2 - 1) * (-2 * Y - 3 * X), X=T["X"], Y=T["Y"]))]
    after = lines(statements, {"G"})
    assert not any("np.negative" in line for line in after), after
    assert len(after) <= 5, after
    same(plain(statements), after, ["G"])
    scaled = [Assign("G", ew(lambda X, Y: 5 * X * (-2 * Y - 3 * X), X=T["X"], Y=T["Y"]))]
    after = lines(scaled, {"G"})
    assert not any("np.negative" in line for line in after), after
    same(plain(scaled), after, ["G"])


def test_a_sum_and_a_multiple_of_it_are_computed_once():
    # SymPy multiplies a number into a sum: 2*(1 - X) is 2 - 2*X and 3*(1 - X)/2 is 3/2 - 3*X/2; all
    # three read one shared 1 - X times a number
    statements = [Assign("A", ew(lambda X, Y: (1 - X) ** 2 * Y, X=T["X"], Y=T["Y"])),
                  Assign("G", ew(lambda X, Y: (2 - 2 * X) * sp.log(Y), X=T["X"], Y=T["Y"])),
                  Assign("H", ew(lambda X, Y: (sp.Rational(3, 2) - sp.Rational(3, 2) * X) * sp.exp(Y), X=T["X"], Y=T["Y"]))]
    after = lines(statements, {"A", "G", "H"})
    assert sum("1 - X" in line for line in after) == 1 and not any("np.negative" in line for line in after), after
    scope = {"np": np, "X": np.random.default_rng(2).uniform(-1, 1, (3, 4)), "Y": np.random.default_rng(3).uniform(0.5, 2, (3, 4))}
    reference = dict(scope)
    exec("\n".join(plain(statements)), reference)
    exec("\n".join(after), scope)
    for name in ("A", "G", "H"):
        np.testing.assert_allclose(scope[name], reference[name], rtol=1e-13)


def _broadcast_scope():
    rng = np.random.default_rng(4)
    return {"np": np, "n": 3, "h": 4, "c": rng.standard_normal((3, 1)),
            **{k: rng.standard_normal((1, 4)) for k in ("r", "s", "u")},
            **{k: rng.standard_normal((3, 4)) for k in ("X", "Y", "T")}}


def _same_broadcast(statements, after, names):
    for a, b in zip(run(plain(statements), names, _broadcast_scope()), run(after, names, _broadcast_scope())):
        np.testing.assert_allclose(b, a, rtol=1e-13)


def test_a_column_times_a_matrix_inside_two_products_is_computed_once():
    # c*X (c a column) in A and inside B's T*c*X, not a subtree of B's body: one pass for it
    # where B made two of its own
    column = Tensor("c", (n, sp.Integer(1)))
    statements = [Assign("A", ew(lambda c, X, Y: c * X - Y, c=column, X=T["X"], Y=T["Y"])),
                  Assign("B", ew(lambda c, X, T, Y: T * c * X + 2 * Y, c=column, X=T["X"], T=T["T"], Y=T["Y"]))]
    after = lines(statements, {"A", "B"})
    assert after[0] == "shared_1 = X*c" and sum("c" in line.replace("shared_1", "") for line in after) == 1, after
    _same_broadcast(statements, after, ["A", "B"])


def test_a_sub_product_that_saves_no_pass_or_an_outer_product_is_not_shared():
    # r*s*X is one pass over X already ((r*s) * X: rows first), so s*X named would add one; u*c, a
    # row times a column, is each statement's own outer product fused into its chain
    column = Tensor("c", (n, sp.Integer(1)))
    rows = {k: Tensor(k, (sp.Integer(1), h)) for k in ("r", "s", "u")}
    statements = [Assign("A", ew(lambda r, s, X, Y: r * s * X - Y, r=rows["r"], s=rows["s"], X=T["X"], Y=T["Y"])),
                  Assign("B", ew(lambda u, s, X, T: u * s * X * T + 2 * T, u=rows["u"], s=rows["s"], X=T["X"], T=T["T"])),
                  Assign("C", ew(lambda u, c, T: u * c * T, u=rows["u"], c=column, T=T["T"])),
                  Assign("D", ew(lambda u, c, Y: u * c * Y, u=rows["u"], c=column, Y=T["Y"]))]
    after = lines(statements, {"A", "B", "C", "D"})
    assert not any(line.startswith("shared_") for line in after), after
    _same_broadcast(statements, after, ["A", "B", "C", "D"])


def test_a_sum_of_outer_products_of_vectors_is_one_matrix_product():
    # a dense layer's Hessian-vector product for one sample: dg[i]*z[j] + g[i]*dz[j] over an (m, n)
    # array is three passes over it entrywise, one BLAS write as [dg g] @ [z dz]^T; a term with
    # three entries, a square, or a result with an axis of one stays entrywise
    m, k = sp.symbols("m k", positive=True)
    i, j = sp.symbols("i j")
    columns = {name: Tensor(name, (m, sp.Integer(1))) for name in ("dg", "g")}
    rows = {name: Transpose(Tensor(name, (k, sp.Integer(1)))) for name in ("z", "dz")}
    entry = {name: sp.IndexedBase(name)[i, 0] for name in columns} | {name: sp.IndexedBase(name)[j, 0] for name in rows}
    operands = tuple((entry[name], node) for name, node in (*columns.items(), *rows.items()))

    def statement(body):
        return [Assign("W", Elementwise(body, tuple(o for o in operands if o[0] in body.atoms(sp.Indexed))))]

    outer = statement(entry["dg"] * entry["z"] - sp.Rational(2, 3) * entry["g"] * entry["dz"])
    after = lines(outer, {"W"}, floats={"dg", "g", "z", "dz"})
    assert after == ["W = np.concatenate((dg, -2/3 * g), axis=1) @ np.concatenate((z.T, dz.T), axis=0)"], after
    rng = np.random.default_rng(5)
    scope = {"np": np, **{name: rng.standard_normal((4, 1)) for name in columns},
             **{name: rng.standard_normal((7, 1)) for name in ("z", "dz")}}
    values = [dict(scope) for _ in range(2)]
    exec("\n".join(plain(outer)), values[0])
    exec("\n".join(after), values[1])
    np.testing.assert_allclose(values[1]["W"], values[0]["W"], rtol=1e-13)
    assert values[1]["W"].shape == (4, 7)
    for body in (entry["dg"] * entry["z"] * entry["dz"] + entry["g"] * entry["z"],      # three entries
                 entry["dg"] ** 2 * entry["z"] + entry["g"] * entry["dz"]):            # a square
        assert "concatenate" not in " ".join(lines(statement(body), {"W"}, floats={"dg", "g", "z", "dz"}))
    scalar_rows = {name: Tensor(name, (sp.Integer(1), sp.Integer(1))) for name in ("z", "dz")}
    flat = Elementwise(entry["dg"] * entry["z"] + entry["g"] * entry["dz"],
                       tuple((entry[n], columns.get(n, scalar_rows.get(n))) for n in ("dg", "g", "z", "dz")))
    assert "concatenate" not in " ".join(lines([Assign("W", flat)], {"W"}, floats={"dg", "g", "z", "dz"}))


def test_a_products_map_of_transposes_is_the_forwards_value_transposed_and_shared_once():
    # U @ (h * sigmoid(a)) in the forward, G @ (h.T * sigmoid(a.T)) in the backward (a GRU's
    # candidate state): the second reads the first's value transposed, computed once
    h, a = Tensor("h", (n, n)), Tensor("a", (n, n))
    U, G = Tensor("U", (n, n)), Tensor("G", (n, n))
    forward = Product(1, (ew(lambda h: h, h=h), ew(lambda a: FUNCTIONS["sigmoid"](a), a=a)))
    backward = Product(1, (ew(lambda h: h, h=Transpose(h)), ew(lambda a: FUNCTIONS["sigmoid"](a), a=Transpose(a))))
    statements = [Assign("F", MatMul(U, forward)), Assign("B", MatMul(G, backward))]
    shared = [s for _, s in shared_where_worth(fewer_products(statements), lambda value: True)]
    printed = [NumPyPrinter().print_statement(s) for s in shared]
    assert len(printed) == 3 and printed[1:] == ["F = U @ shared_1", "B = G @ shared_1.T"], printed
    assert printed[0].startswith("shared_1 = h * (1.0 / (1.0 + np.exp("), printed
    # a map mixing a transpose with an array that is not one stays as it was
    mixed = MatMul(G, ew(lambda h, a: h * a, h=Transpose(h), a=a))
    assert with_transposes_outside(mixed) == mixed


def test_a_cheap_sum_two_products_read_is_shared_whatever_the_printer_says():
    # (X + Y) @ A and (X + Y) @ B: an array either way, so computed once even where the printer
    # would compute cheap entrywise work again; X + Y alone in a chain is left to the printer
    A, B = Tensor("A", (SHAPE[1], n)), Tensor("B", (SHAPE[1], h))
    total = ew(lambda X, Y: X + Y, X=T["X"], Y=T["Y"])
    statements = fewer_products([Assign("F", MatMul(total, A)), Assign("G", MatMul(total, B))])
    printed = [NumPyPrinter().print_statement(s) for _, s in shared_where_worth(statements, lambda value: False)]
    assert printed == ["shared_1 = X + Y", "F = shared_1 @ A", "G = shared_1 @ B"], printed
    chains = fewer_products([Assign("F", ew(lambda X, Y: 2 * (X + Y), X=T["X"], Y=T["Y"])),
                             Assign("G", ew(lambda X, Y: 3 * (X + Y), X=T["X"], Y=T["Y"]))])
    assert len(shared_where_worth(chains, lambda value: False)) == 2
