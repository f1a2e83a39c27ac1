"""The numba modules' workspace (symgrad/lower/numba_workspace.py): the large arrays that stay
inside ``loss_and_grad`` live in buffers kept between its calls, and nothing a call returns is one.

For every catalogue model whose numba module takes buffers: calls at other dimensions and at other
values in between change no array an earlier call returned, every call agrees with the NumPy
module, and no two calls' results share memory; calls in several threads at once each get their
own buffers. Then the rules themselves, on printed lines: which arrays may leave, when two arrays
may share a buffer, a buffer a sweep no longer needs.
"""
import sys
import threading

import numpy as np
import pytest
import sympy as sp

from symgrad import catalogue
from symgrad.lower.numba_printer import ROW, KernelCall, LoopNest, NumbaPrinter, ProductCode
from symgrad.lower.numba_sweeps import SweepWriter
from symgrad.lower.numba_workspace import WorkspaceWriter, leaving

from .backend_support import AGREEMENT_RTOL, modules, numpy_point, relative_error
from .conftest import GENERATED, require

WITH_WORKSPACE = [name for name in catalogue.names() if "= _workspace(" in (GENERATED / f"{name}_numba.py").read_text()]


@pytest.fixture
def numba():
    return require("numba")


def _arrays(grads: dict) -> list:
    return [g for value in grads.values() for g in (value if isinstance(value, list) else [value])
            if isinstance(g, np.ndarray)]


def test_the_models_with_large_temporaries_take_buffers():
    assert {"residual_block", "rnn_unrolled", "cs231n_two_layer", "self_attention"} <= set(WITH_WORKSPACE)


@pytest.mark.parametrize("name", WITH_WORKSPACE)
def test_a_later_call_changes_nothing_an_earlier_call_returned(numba, name):
    """Calls at the first dimensions, at the second (new buffers), at the first again with other
    values (the buffers kept, overwritten): each agrees with NumPy, the first's results are as
    they were, and no returned array shares memory with another call's or with a buffer."""
    numpy_module, module = modules(name, "numba")
    points = [numpy_point(name, which, seed)[1] for which, seed in ((0, 1), (1, 2), (0, 3), (0, 4))]
    results = []
    for point in points:
        value, grads = module.loss_and_grad(**point)
        expected_value, expected = numpy_module.loss_and_grad(**point)
        assert value == pytest.approx(expected_value, rel=1e-12)
        for parameter in expected:
            assert relative_error(grads[parameter], expected[parameter]) < AGREEMENT_RTOL, (name, parameter)
        results.append((value, grads, {p: np.copy(g) for p, g in grads.items() if isinstance(g, np.ndarray)}))
    for value, grads, copies in results:
        for parameter, copy in copies.items():
            assert np.array_equal(grads[parameter], copy), (name, parameter)
    kept = [a for arrays in module._WORKSPACE.values() for a in arrays]
    assert kept, "nothing kept for the next call"
    for k, (_, grads, _) in enumerate(results):
        for array in _arrays(grads):
            assert not any(np.shares_memory(array, buffer) for buffer in kept), name
            for _, others, _ in results[k + 1:]:
                assert not any(np.shares_memory(array, other) for other in _arrays(others)), name


def test_calls_in_threads_at_once_each_get_their_own_buffers(numba):
    """Four threads, each calling with its own inputs (of the same dimensions) again and again,
    switching threads as often as Python can: every result is what the same call gives alone (a
    buffer shared between two running calls mixes their values; kept in the workspace without
    being taken out of it, about one call in a few hundred here came out wrong)."""
    name = "residual_block"
    _, module = modules(name, "numba")
    points = [numpy_point(name, 0, seed)[1] for seed in range(10, 14)]
    alone = [module.loss_and_grad(**point) for point in points]
    failures, start = [], threading.Barrier(len(points))

    def run(k):
        start.wait()
        for _ in range(300):
            value, grads = module.loss_and_grad(**points[k])
            if value != pytest.approx(alone[k][0], rel=1e-12) or \
                    any(relative_error(grads[p], alone[k][1][p]) > 1e-12 for p in grads):
                failures.append(k)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(points))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


N, D = sp.symbols("N D", integer=True, positive=True)


def _map_call(target: str, arguments: dict, into=None, shape=(N, D)) -> KernelCall:
    """``target``'s kernel over N x D, whose entry is the product of its ``arguments`` (parameter
    -> code passed) at its own entry: a new array, or the one passed for parameter ``into``."""
    body = " * ".join(f"{a}[_i, _j]" for a in arguments)
    nest = LoopNest("_out", "np.empty(({rows}, D))", "D", (f"_out[_i, _j] = {body}",), ROW, into=into)
    return KernelCall((*arguments.items(), ("N", "N"), ("D", "D")), "N", nest, shape, target, f"for {target}")


def _printer(products=(), calls=None) -> NumbaPrinter:
    printer = NumbaPrinter()
    printer.products = {code: ProductCode(*code.split(" @ "), (N, D)) for code in products}
    printer.calls = dict(calls or {})
    return printer


def test_a_returned_view_of_a_product_keeps_it_a_new_array():
    """``g = P.T`` returns P's memory: P may leave, so it is no slot; ``Q``, only read, is one."""
    printer = _printer(["A @ B", "C @ B"])
    lines = ["P = A @ B", "Q = C @ B", "g = P.T", "h = Q.sum()"]
    assert leaving(lines, {"g", "h"}, printer) >= {"g", "P", "h", "Q"}
    assert "Q" not in leaving(lines, {"g"}, printer)
    writer = WorkspaceWriter(printer)
    assert writer.rewrite(lines, {"g"}) == ["P = A @ B", "Q = np.matmul(C, B, out=_slot_1)", "g = P.T", "h = Q.sum()"]


def test_a_kernel_writes_into_a_slot_only_where_its_result_stays():
    """A kernel's new result is a slot where it stays inside; where it is returned, the kernel
    makes a new array, and the product it writes into stays a new array too."""
    printer = _printer(["A @ B"], {"_kernel_t(X, N, D)": _map_call("t", {"X": "X"}),
                                   "_kernel_u(A @ B, N, D)": _map_call("u", {"_a0": "A @ B"}, into="_a0")})
    out = WorkspaceWriter(printer).rewrite(["t = _kernel_t(X, N, D)", "u = _kernel_u(A @ B, N, D)"], {"u"})
    assert out == ["t = _kernel_t_into(X, N, D, _slot_1)", "u = _kernel_u(A @ B, N, D)"]
    assert "    _out = _into" in printer.kernels["_kernel_t_into"]
    out = WorkspaceWriter(printer).rewrite(["u = _kernel_u(A @ B, N, D)"], {"v"})
    assert out == ["u = _kernel_u(np.matmul(A, B, out=_slot_1), N, D)"]


def test_arrays_whose_lives_do_not_overlap_share_a_slot():
    """A product only a kernel reads is dead after that kernel's line: a later array takes its
    slot; one a name still holds (read on the last line) keeps its own."""
    printer = _printer(["A @ B", "C @ B", "E @ B"], {"_kernel_s(A @ B, N, D)": _map_call("s", {"_a0": "A @ B"}, shape=()),
                                                     "_kernel_g(P, Q, N, D)": _map_call("g", {"P": "P", "Q": "Q"})})
    writer = WorkspaceWriter(printer)
    buffered = writer.rewrite(["s = _kernel_s(A @ B, N, D)", "P = C @ B", "Q = E @ B", "g = _kernel_g(P, Q, N, D)"], {"g"})
    out = writer.taken([[line] for line in buffered], {})
    assert out[0] == ["_slot_1, _slot_2 = _workspace((D, N), ((N, D), (N, D)))",
                      "s = _kernel_s(np.matmul(A, B, out=_slot_1), N, D)"]
    assert out[1:3] == [["P = np.matmul(C, B, out=_slot_1)"], ["Q = np.matmul(E, B, out=_slot_2)"]]
    assert out[3] == ["g = _kernel_g(P, Q, N, D)", "_keep((D, N), (_slot_1, _slot_2))"]


def test_a_slot_given_to_a_kernel_that_becomes_a_one_row_buffer_is_not_passed():
    """Swept, a value nothing reads after the sweep lives in a one-row buffer: the slot it was
    given to write into is dropped from the call, and so from the workspace; the sweep writes
    the value read after it into the slot it was given."""
    printer = _printer(["b @ W"], {"_kernel_a(X, N, D)": _map_call("a", {"X": "X"}),
                                   "_kernel_b(a, N, D)": _map_call("b", {"a": "a"})})
    writer, sweeps = WorkspaceWriter(printer), SweepWriter(printer)
    lines = ["a = _kernel_a(X, N, D)", "b = _kernel_b(a, N, D)", "c = b @ W"]
    buffered = writer.rewrite(lines, {"c"})
    assert buffered == ["a = _kernel_a_into(X, N, D, _slot_1)", "b = _kernel_b_into(a, N, D, _slot_2)", "c = b @ W"]
    out = writer.taken(sweeps.rewrite(buffered, {"c"}), sweeps.written_into)
    assert out == [["_slot_1, = _workspace((D, N), ((N, D),))", "b = _kernel_rows_a(X, N, D, _slot_1)"], [],
                   ["c = b @ W", "_keep((D, N), (_slot_1,))"]]
    kernel = printer.kernels["_kernel_rows_a"]
    assert "    a = np.empty((1, D))" in kernel and "    b = _into" in kernel


def test_a_kernel_around_a_swept_call_keeps_the_array_it_writes_into_while_its_result_is_read():
    """``u``'s kernel writes into the product ``A @ B`` it is given and passes a swept kernel's
    result (``_kernel_r``, which joins ``a``'s row loop; ``u``'s own kernel cannot). With the
    swept call replaced in it, the call is what it runs still: the product's slot lives as long
    as ``u`` is read, and ``v`` gets another. Unknown there, the slot was free after ``u``'s line,
    ``v`` was written over ``u`` and the GRU's gradient read the one for the other."""
    printer = _printer(["A @ B", "W @ _kernel_r(a, N, D)", "v @ u"], {
        "_kernel_a(X, N, D)": _map_call("a", {"X": "X"}),
        "_kernel_r(a, N, D)": _map_call("r", {"a": "a"}),
        "_kernel_u(A @ B, W @ _kernel_r(a, N, D), N, D)": _map_call(
            "u", {"_a0": "A @ B", "_a1": "W @ _kernel_r(a, N, D)"}, into="_a0"),
        "_kernel_v(u, N, D)": _map_call("v", {"u": "u"})})
    writer, sweeps = WorkspaceWriter(printer), SweepWriter(printer)
    lines = ["a = _kernel_a(X, N, D)", "u = _kernel_u(A @ B, W @ _kernel_r(a, N, D), N, D)",
             "v = _kernel_v(u, N, D)", "g = v @ u"]
    out = writer.taken(sweeps.rewrite(writer.rewrite(lines, {"g"}), {"g"}), sweeps.written_into)
    assert out[1] == ["u = _kernel_u(np.matmul(A, B, out=_slot_1), np.matmul(W, _swept0_o1, out=_slot_2), N, D)"]
    assert out[2] == ["v = _kernel_v_into(u, N, D, _slot_2)"]
