"""Array nodes -> NumPy statements that call compiled loops: the numba backend.

The NumPy printer's statements, except that each chain of entrywise work over one iteration
space is one ``numba.njit(cache=True)`` loop nest (a *kernel*) instead of one NumPy pass per
operation: the entrywise nodes of a statement (``Elementwise`` bodies, products with their
coefficient and broadcasting, sums of terms) are printed per element inside the loop, and a
reduction over such a chain (``.sum()``, an axis sum, an inner product, a squared norm)
accumulates in the same loop, so no temporary array is made for the chain. What is not entrywise
(a matrix product, an einsum, a concatenation, a diagonal) is computed by NumPy as before, BLAS
for the products, and enters the kernel as an argument: a leaf of the loop. A leaf's entry is
read at the loop's indices, at 0 along an axis where the leaf has size 1 (broadcasting), so a
leaf is never broadcast into memory. Views (a block ``Z[M:]``, a transpose ``X.T``) are passed
as they are; numba compiles a version of the kernel for each memory layout it is called with.

Per element, a body is spelled by the table's ``numba`` field (NumPy's ufuncs, which numba
compiles for scalars, where that field is empty), so the numerically stable forms are the NumPy
module's: softplus as ``max(z, 0) + log1p(exp(-|z|))``, sigmoid as ``1 / (1 + exp(-z))`` with
``-z`` clipped at 709 (exact in relative terms down to ``z = -709``: no form through ``tanh``, which
is -1 below ``z = -37``), log-sum-exp with its shift; exp, tanh and that log1p are ``numba_math``'s,
in arithmetic that vectorizes. Every kernel may reassociate additions (so that sums vectorize), fuse a product into a
sum and take a division as a product with the reciprocal (``fastmath={"reassoc", "contract",
"arcp"}``), nothing else: no flag that assumes away infinities, NaNs or signed zeros, so they keep
their meaning; a division by zero gives inf or NaN as in NumPy (``error_model="numpy"``). Results
differ from NumPy's in the last bits only.

Across statements: a statement's entrywise value that is cheap per entry and reads only named
tensors is computed again inside the later loops that read it (``inlined``), so a chain of
statements over one iteration space (``Xc = X - mu``, ``xhat = Xc / std``, ``Y = gamma * xhat +
beta``, the loss's sum of squares over ``Y - T``) runs as one loop where only its last value is
needed; ``emit.backends`` then drops the statements nothing reads any more from ``loss_and_grad``:
what a printed line reads (``line_reads``) is the statement's ``reads`` less the tensors whose
every read was recomputed in a loop, plus what those loops read instead.

A value the plan computes more than once (a matrix product two adjoints read, an exponential two
bodies hold) is computed once into a name before the printer sees it (``passes.shared_values``,
run by ``emit.module_plan`` on the plain statements), where ``worth_sharing`` says that reading it
beats computing it again: not for cheap entrywise work, which the loops fuse instead.

Kernels are collected while printing (as SymPy's printers collect imports), named after the
statement that first needs them, and shared by identical loops; ``kernel_sources`` gives the
ones a plan's statements call, for the template to print at module level. Each kernel is kept
in parts as well (``LoopNest``: what one row runs, and when its result is final), with what its
printed call passes (``calls``), so that ``numba_sweeps`` can run consecutive kernels over the
same rows in one row loop; the printed matrix products are kept with their operands (``products``)
and a kernel can be written again to fill an array it is given (``writing_into``), so that
``numba_workspace`` can compute the large arrays that stay inside ``loss_and_grad`` into buffers
kept between calls.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

import sympy as sp

from symgrad.lower.elementwise_code import ADD, ATOM, MUL, ElementwiseCodePrinter, body_precedence, print_scalar
from symgrad.lower.nodes import (Add, AxisSum, BroadcastTo, Einsum, Elementwise, Entry, MatMul, Node, Product, Reshape,
                                 Slice, SquaredNorm, SumAll, Tensor, Transpose, VDot, Zeros, same_shape)
from symgrad.lower.numba_math import HELPERS, MATH_FUNCTIONS, OWN_FUNCTIONS
from symgrad.lower.numpy_printer import NumPyPrinter, joined_terms
from symgrad.lower.statements import Assign, Statement, nodes_of, reads, scalar_symbols, subnodes, unwrapped
from symgrad.model.functions import is_mask

KERNEL_PREFIX = "_kernel_"
# the decorator templates/numba_macros.j2 defines: numba.njit(cache=True) with the fast-math flags
# that keep infinities and NaNs (reassociated sums vectorize: measured 10x faster over 1024 x 512 here)
KERNEL_DECORATOR = "_compiled"
ROW, END = "row", "end"     # when a nest's result is final: row by row, or once every row is done
LOOP_INDICES = ("_i", "_j")
INTO_PARAMETER = "_into"    # the array a kernel is given to write its result into (``NumbaPrinter.writing_into``)
TRANSCENDENTAL = frozenset({"exp", "log", "tanh", "sigmoid", "softplus", "sqrt"})
NUMPY_MATH_CALL = re.compile(rf"\bnp\.({'|'.join(MATH_FUNCTIONS)})\(")
INLINE_OPERATIONS = 24  # an entrywise statement this cheap per entry is recomputed in the loops that read it


class NumbaElementwisePrinter(ElementwiseCodePrinter):
    """A scalar body as numba compiles it per element: the table's ``numba`` spelling, else NumPy's,
    with NumPy's exp and tanh called as the vectorizable functions of ``numba_math``."""

    spelling = "numba"
    cubes_as_products = False

    def template(self, row) -> str:
        return NUMPY_MATH_CALL.sub(lambda call: MATH_FUNCTIONS[call.group(1)].name + "(", row.numba or row.numpy)


def _has_work(node: Node, inlined=frozenset()) -> bool:
    """Whether ``node`` is an entrywise chain that computes something (not a bare leaf, a view or
    a copy of one); a tensor in ``inlined`` is recomputed in the loop, so it counts as work."""
    if isinstance(node, Elementwise):
        if isinstance(node.body, sp.Indexed):
            return _has_work(node.operand(node.body), inlined)
        return True
    if isinstance(node, Product):
        return node.coefficient != 1 or len(node.factors) > 1 or any(_has_work(f, inlined) for f in node.factors)
    if isinstance(node, Add):
        return len(node.terms) > 1 or any(_has_work(t, inlined) for t in node.terms)
    return isinstance(node, Tensor) and node.name in inlined


def _operations(node: Node, costs: dict) -> int:
    """The arithmetic a loop does per entry for ``node``: SymPy's operation count of each body (a
    transcendental function past any inlining limit: numba calls libm once per entry, 10 to 30x
    slower than NumPy's vectorized ufuncs here, so its value is computed once), one per product
    and sum, and the operations of every tensor recomputed in the loop (``costs``)."""
    if isinstance(node, Elementwise):
        calls = sum(1 for f in node.body.atoms(sp.Function) if f.func.__name__ in TRANSCENDENTAL)
        return sp.count_ops(node.body) + (INLINE_OPERATIONS + 1) * calls + sum(_operations(n, costs) for _, n in node.operands)
    if isinstance(node, Product):
        return len(node.factors) - (node.coefficient == 1) + sum(_operations(f, costs) for f in node.factors)
    if isinstance(node, Add):
        return len(node.terms) - 1 + sum(_operations(t, costs) for t in node.terms)
    if isinstance(node, (BroadcastTo, Reshape)):
        return _operations(node.operand, costs)
    return costs.get(node.name, 0) if isinstance(node, Tensor) else 0


def _named(node: Node | None) -> str | None:
    """The tensor's name where ``node`` is a bare tensor (a sum of one term, a product of one
    factor, an entrywise body that is one entry), else None."""
    while isinstance(node, (Add, Product, Elementwise)):
        if isinstance(node, Elementwise) and isinstance(node.body, sp.Indexed):
            node = node.operand(node.body)
        elif isinstance(node, Add) and len(node.terms) == 1:
            node = node.terms[0]
        elif isinstance(node, Product) and node.coefficient == 1 and len(node.factors) == 1:
            node = node.factors[0]
        else:
            return None
    return node.name if isinstance(node, Tensor) else None


def _held_name(operand: Node) -> str | None:
    """The tensor a matrix product's operand is, as it is or transposed, or None."""
    operand = unwrapped(operand)
    return _named(operand.operand if isinstance(operand, Transpose) else operand)


def _reads_only_names(node: Node) -> bool:
    """Whether every leaf of the entrywise chain ``node`` is a named tensor, a view of one or a
    1 x 1 tensor's number: nothing a loop that recomputes ``node`` would have to compute first."""
    if isinstance(node, Elementwise):
        return all(_reads_only_names(n) for _, n in node.operands)
    if isinstance(node, Product):
        return all(map(_reads_only_names, node.factors))
    if isinstance(node, Add):
        return all(map(_reads_only_names, node.terms))
    if isinstance(node, (BroadcastTo, Reshape, Transpose)):
        return _reads_only_names(node.operand)
    return isinstance(node, (Tensor, Slice, Entry, Zeros))


def _printed_names(node: Node) -> set[str]:
    """The names NumPy's printing of ``node`` spells itself (its own, its tensors' such as a
    block's base); the nodes inside it print their own."""
    out = {node.name} if isinstance(getattr(node, "name", None), str) else set()
    return out | {value.name for value in (getattr(node, f.name) for f in fields(node)) if isinstance(value, Tensor)}


def _binding(node: Node) -> int:
    """How tightly ``node``'s entry binds as printed in a loop, on SymPy's scale."""
    if isinstance(node, Elementwise):
        return body_precedence(node.body)
    if isinstance(node, Product):
        bare = node.coefficient == 1 and len(node.factors) == 1
        return _binding(node.factors[0]) if bare else MUL
    if isinstance(node, Add):
        return _binding(node.terms[0]) if len(node.terms) == 1 else ADD
    if isinstance(node, (BroadcastTo, Reshape)):
        return _binding(node.operand)
    return ATOM


@dataclass(frozen=True)
class LoopNest:
    """A kernel's work in parts, so that kernels over the same rows can share one row loop and
    kernels over the same columns one column loop: the local it computes (``result``), that
    local's first value (``init``, ``{rows}`` standing for the row count: a row buffer has 1),
    what one row runs before its loop over ``columns`` (None: no such loop), in it and after it
    (reading and writing row ``_i``, column ``_j``), when the result is final (``complete``):
    ``ROW`` where row ``_i`` is done after the row's lines (an entrywise value, a row sum),
    ``END`` where only after every row (a column sum, a total), whether a row of it is one
    number (``one_column``), and the parameter whose memory the result may take instead of a
    new array (``into``: a matrix product's fresh result of the same shape, which nothing else
    holds and the nest reads only at the entry it writes, in the same line)."""

    result: str
    init: str
    columns: str | None
    inner: tuple[str, ...]
    complete: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    one_column: bool = False
    into: str | None = None

    @property
    def body(self) -> list[str]:
        """The lines one row runs."""
        if self.columns is None:
            return [*self.before, *self.inner, *self.after]
        loop = [f"for {LOOP_INDICES[1]} in range({self.columns}):", *("    " + line for line in self.inner)]
        return [*self.before, *loop, *self.after]

    def lines(self, rows: str | None) -> list[str]:
        """The kernel's own body: over ``rows`` rows, or once where its space has one row."""
        lines = [f"    {self.result} = {self.into or self.init.format(rows=rows or '1')}"]
        if rows is None:
            lines += ["    " + line for line in self.body]
        else:
            lines += [f"    for {LOOP_INDICES[0]} in range({rows}):", *("        " + line for line in self.body)]
        return lines + [f"    return {self.result}"]


@dataclass(frozen=True)
class KernelCall:
    """What a printed kernel call runs: its parameters with the code passed for each, its row
    count (None: one row, no row loop) and its nest; the shape of its result (``()``: a number),
    and the statement and purpose its kernel was written for (``NumbaPrinter.writing_into``)."""

    arguments: tuple[tuple[str, str], ...]
    rows: str | None
    nest: LoopNest
    shape: tuple = ()
    target: str = ""
    purpose: str = ""


@dataclass(frozen=True)
class ProductCode:
    """A printed matrix product: its operands as printed, and its shape."""

    left: str
    right: str
    shape: tuple


class _Loop:
    """One kernel being written: its arguments (name -> code at the call site) and its scalars."""

    def __init__(self, printer: NumbaPrinter, space: tuple):
        self.printer, self.space = printer, space
        self.arguments: dict[str, str] = {}     # kernel parameter -> what the call passes
        self.fresh: list[str] = []              # ... those a new array of the loop's shape, held by nothing else
        self.indices = tuple(None if n == 1 else LOOP_INDICES[k] for k, n in enumerate(space))

    def argument(self, code: str, named: str | None = None) -> str:
        """The kernel parameter holding ``code`` (a model's name keeps its name)."""
        for parameter, passed in self.arguments.items():
            if passed == code:
                return parameter
        parameter = named or f"_a{len(self.arguments)}"
        self.arguments[parameter] = code
        return parameter

    def entry(self, node: Node) -> str:
        """``node``'s value at the loop's indices, as scalar code."""
        if isinstance(node, Elementwise):
            body = NumbaElementwisePrinter(lambda access: self.wrapped(node.operand(access)))
            self.scalars(node.body)
            return body.doprint(node.body)
        if isinstance(node, Product):
            factors = [self.wrapped(f, MUL) for f in node.factors]
            if node.coefficient != 1:
                self.scalars(node.coefficient)
                scalar = NumbaElementwisePrinter().doprint(node.coefficient)
                factors.insert(0, f"(1.0 * ({scalar}))" if is_mask(node.coefficient)
                               else scalar if node.coefficient.is_Atom else f"({scalar})")
            return " * ".join(factors) if factors else "1.0"
        if isinstance(node, Add):
            return joined_terms([self.wrapped(t, ADD) for t in node.terms])
        if isinstance(node, (BroadcastTo, Reshape)):
            return self.entry(node.operand)
        if isinstance(node, Zeros):
            return "0.0"
        return self.leaf(node)

    def wrapped(self, node: Node, level: int = ATOM) -> str:
        """``node``'s entry as an operand in a context of precedence ``level``: parenthesized
        where it binds less tightly (a term of a sum, or a sum as a factor)."""
        code = self.entry(node)
        return f"({code})" if _binding(node) < level else code

    def leaf(self, node: Node) -> str:
        """A value computed outside the loop (or a named tensor), read at the loop's indices; an
        entrywise statement's cheap value of the loop's own shape is computed again here instead
        (``NumbaPrinter.inlined``; a row or column broadcast over the loop would be computed once
        per entry)."""
        producer = self.printer.inlined(node)
        if producer is not None and same_shape(node.shape, self.space):    # not once per broadcast entry
            self.printer.recomputed.add(node.name)
            code = self.entry(producer)
            return code if _binding(producer) >= ATOM else f"({code})"
        named = node.name if isinstance(node, Tensor) else None
        parameter = self.argument(self.printer.doprint(node), named)
        if isinstance(node, (MatMul, Einsum)) and same_shape(node.shape, self.space) and parameter not in self.fresh:
            self.fresh.append(parameter)
        if not node.shape:
            return parameter
        return f"{parameter}[{', '.join(self._index(axis, n) for axis, n in enumerate(node.shape))}]"

    def _index(self, axis: int, size) -> str:
        index = self.indices[axis]
        return "0" if index is None or size == 1 else index

    def scalars(self, expr) -> None:
        """The dimensions and scalar inputs ``expr`` reads become parameters of the kernel."""
        for symbol in sorted(scalar_symbols(sp.sympify(expr)), key=str):
            self.printer.read_whole.add(symbol.name)
            self.argument(symbol.name, symbol.name)

    def columns(self) -> str | None:
        """The extent of the loop over columns, None where the space has one column."""
        return None if self.indices[1] is None else self.size(self.space[1])

    def size(self, size) -> str:
        """An axis length inside the kernel: its dimensions become parameters."""
        self.scalars(size)
        return print_scalar(size)

    def output_index(self) -> str:
        return ", ".join(index or "0" for index in self.indices)


class NumbaPrinter(NumPyPrinter):
    """Prints array nodes as NumPy expressions whose entrywise chains are kernel calls."""

    def __init__(self):
        self.kernels: dict[str, str] = {}        # kernel name -> its source
        self.calls: dict[str, KernelCall] = {}   # a printed kernel call -> what it runs
        self.products: dict[str, ProductCode] = {}   # a printed matrix product -> its operands
        self._by_body: dict[str, str] = {}       # source without its name -> kernel name
        self._target = "value"
        self._entrywise: dict[str, Node] = {}    # statement target -> its entrywise value
        self._costs: dict[str, int] = {}         # ... and the operations per entry it takes
        self._cheap: set[str] = set()            # ... those recomputed where a loop reads them
        self._held: set[str] = set()             # the names a matrix product reads (``planned``)
        self.line_reads: dict[str, set[str]] = {}   # a printed line -> the names it reads
        self.recomputed: set[str] = set()        # while a statement prints: the tensors a loop computed again
        self.read_whole: set[str] = set()        # ... and the names its code reads as they are

    # statements name the kernels they need, and record entrywise values for later loops

    def print_statement(self, statement: Statement) -> str:
        target = statement.target
        outer, self._target = self._target, target
        self.recomputed, self.read_whole = set(), set()
        try:
            line = super().print_statement(statement)
        finally:
            self._target = outer
        self.line_reads[line] = (reads(statement) - self.recomputed) | self.read_whole
        self._entrywise.pop(target, None)       # a block added into it: no longer one entrywise value
        self._cheap.discard(target)
        node = statement.value if isinstance(statement, Assign) else None
        if self.one_namespace and isinstance(node, (Elementwise, Product, Add)) and self._fusable(node):
            self._entrywise[target] = node
            self._costs[target] = _operations(node, {name: self._costs[name] for name in self._cheap})
            if self._costs[target] <= INLINE_OPERATIONS and _reads_only_names(node) and target not in self._held:
                self._cheap.add(target)
        elif self.one_namespace and _named(node) in self._cheap and target not in self._held:   # another name for it
            self._entrywise[target], self._costs[target] = self._entrywise[_named(node)], self._costs[_named(node)]
            self._cheap.add(target)
        return line

    def inlined(self, node: Node) -> Node | None:
        """The value of a tensor an earlier statement computed entry by entry, where a loop that
        reads it whole should compute it again (fusing the two statements): at most
        ``INLINE_OPERATIONS`` per entry, so recomputing costs less than writing and reading an
        array, and reading only names (no product or reduction is computed twice). Safe because
        each name is assigned once in a plan (a tensor with blocks added in place is not recorded)
        and the value's own operands are still in scope where it is read.
        The statement itself stays, and is dropped where nothing else reads it
        (``emit.backends.live_blocks``)."""
        if not isinstance(node, Tensor) or node.name not in self._cheap:
            return None
        producer = self._entrywise[node.name]
        return producer if same_shape(producer.shape, node.shape) else None

    def worth_sharing(self, value: Node) -> bool:
        """Whether a value the plan computes more than once is computed once into a name
        (``passes.shared_where_worth``): all but entrywise work a loop computes again more cheaply
        than it reads an array (at most ``INLINE_OPERATIONS`` per entry, no transcendental
        function: see ``_operations``) and masks (one comparison). A product or a reduction
        shared is computed once instead of twice (gaussian_nll's ``D @ D.T``, d=256, N=4096)."""
        if value.boolean:
            return False
        if isinstance(value, (Elementwise, Product, Add)):
            return _operations(value, {}) > INLINE_OPERATIONS
        return True

    def planned(self, statements) -> None:
        """Remember the names that a matrix product of ``statements`` reads (``_held``): their
        arrays are made whatever the loops do, so a loop reads such a value instead of computing
        it again (a recurrent state ``h_1``, read by ``Uz @ h_1``, recomputed from the earlier
        steps' arrays inside every later step's loops read several arrays for one)."""
        self._held = {name for statement in statements for node in nodes_of(statement)
                      for product in subnodes(node) if isinstance(product, MatMul)
                      for name in map(_held_name, (product.left, product.right)) if name is not None}

    # entrywise chains and reductions over them are kernels

    def doprint(self, node: Node) -> str:
        fused = self._fused(node)
        return fused if fused is not None else super().doprint(node)

    def _print(self, node: Node) -> str:
        fused = self._fused(node)
        if fused is not None:
            return fused
        self.read_whole |= _printed_names(node)
        return super()._print(node)

    def parenthesize(self, node: Node, level: int, strict: bool = False) -> str:
        fused = self._fused(node)
        return fused if fused is not None else super().parenthesize(node, level, strict)

    def _print_MatMul(self, node: MatMul) -> str:
        left, right = self.parenthesize(node.left, MUL), self.parenthesize(node.right, MUL)
        code = f"{left} @ {right}"
        self.products[code] = ProductCode(left, right, node.shape)
        return code

    def precedence(self, node: Node) -> int:
        return ATOM if self._fusable(node) else super().precedence(node)

    def _fusable(self, node: Node) -> bool:
        """Whether a kernel computes ``node``: an array of entrywise work, or a sum over some."""
        if isinstance(node, AxisSum):     # even of a leaf: a loop that can share the row loop
            return True
        if isinstance(node, (SumAll, SquaredNorm)):
            return _has_work(node.operand, self._cheap)
        if isinstance(node, VDot):
            return _has_work(node.left, self._cheap) or _has_work(node.right, self._cheap)
        return bool(node.shape) and _has_work(node)     # a cheap value alone is read, not computed again

    def _fused(self, node: Node) -> str | None:
        """The kernel call computing ``node``, or None where NumPy prints it."""
        if not self._fusable(node):
            return None
        if isinstance(node, (SumAll, SquaredNorm, VDot)):
            return self._total(node)
        if isinstance(node, AxisSum):
            return self._axis_sum(node)
        return self._map(node)

    def _map(self, node: Node) -> str:
        loop = _Loop(self, node.shape)
        value = loop.entry(node)
        columns = ", ".join(loop.size(n) for n in node.shape[1:])
        nest = LoopNest("_out", f"np.empty(({{rows}}, {columns}))", loop.columns(),
                        (f"_out[{loop.output_index()}] = {value}",), ROW, one_column=loop.indices[1] is None,
                        into=loop.fresh[0] if loop.fresh else None)
        return self._kernel(loop, nest, f"for {self._target}: every entry in one pass", node.shape)

    def _total(self, node: Node) -> str:
        if isinstance(node, VDot):
            space, square = node.left.shape, False
            loop = _Loop(self, space)
            value = f"{loop.wrapped(node.left, MUL)} * {loop.wrapped(node.right, MUL)}"
        else:
            space, square = node.operand.shape, isinstance(node, SquaredNorm)
            loop = _Loop(self, space)
            value = loop.entry(node.operand)
        body = ["_value = " + value, "_total += _value * _value"] if square else [f"_total += {value}"]
        what = "squares" if square else "entries"
        return self._kernel(loop, LoopNest("_total", "0.0", loop.columns(), tuple(body), END),
                            f"for {self._target}: the sum of the {what} of a chain, in one pass", ())

    def _axis_sum(self, node: AxisSum) -> str:
        loop = _Loop(self, node.operand.shape)
        value = loop.entry(node.operand)
        columns = node.operand.shape[1]
        outer, inner = loop.indices
        if node.axis == 1:                             # each row's sum in one accumulator
            nest = LoopNest("_out", "np.empty(({rows}, 1))", loop.columns(), (f"_total += {value}",), ROW,
                            ("_total = 0.0",), (f"_out[{outer or '0'}, 0] = _total",), one_column=True)
        else:                                          # column sums, added row by row
            nest = LoopNest("_out", f"np.zeros((1, {loop.size(columns)}))", loop.columns(),
                            (f"_out[0, {inner or '0'}] += {value}",), END)
        return self._kernel(loop, nest, f"for {self._target}: the axis-{node.axis} sums of a chain, in one pass",
                            node.shape)

    def _kernel(self, loop: _Loop, nest: LoopNest, purpose: str, shape: tuple) -> str:
        """The call of the kernel running ``nest`` over ``loop``'s rows, registered under a new
        name unless an identical kernel exists; the call is remembered with its nest, so that
        consecutive calls over the same rows can share one row loop (``numba_sweeps``)."""
        rows = loop.size(loop.space[0]) if loop.indices[0] is not None else None
        name = self.add_kernel(self._target, tuple(loop.arguments), nest.lines(rows), purpose)
        return self.call_of(name, KernelCall(tuple(loop.arguments.items()), rows, nest, shape, self._target, purpose))

    def call_of(self, name: str, call: KernelCall) -> str:
        """The printed call of kernel ``name`` passing ``call``'s arguments, remembered with what it runs."""
        text = f"{name}({', '.join(code for _, code in call.arguments)})"
        self.calls[text] = call
        return text

    def writing_into(self, call: KernelCall, buffer: str) -> str:
        """The printed call of a kernel that runs ``call`` (an entrywise result written into a new
        array) with the result written into ``buffer`` instead, an array of its shape passed last:
        every entry is written, each before anything reads it."""
        nest = replace(call.nest, into=INTO_PARAMETER)
        arguments = (*call.arguments, (INTO_PARAMETER, buffer))
        name = self.add_kernel(f"{call.target}_into", tuple(p for p, _ in arguments), nest.lines(call.rows),
                               f"{call.purpose}, into an array it is given")
        return self.call_of(name, replace(call, arguments=arguments, nest=nest))

    def add_kernel(self, named_after: str, parameters: tuple[str, ...], body: list[str], purpose: str) -> str:
        """The name of the kernel with ``body``: a new one unless an identical kernel exists."""
        key = "\n".join([f"def ({', '.join(parameters)}):", *body])
        name = self._by_body.get(key)
        if name is None:
            name = self._new_name(named_after)
            self._by_body[key] = name
            self.kernels[name] = "\n".join([f"@{KERNEL_DECORATOR}", f"def {name}({', '.join(parameters)}):",
                                             f'    """{purpose[0].upper()}{purpose[1:]}."""', *body])
        return name

    def _new_name(self, named_after: str) -> str:
        base = KERNEL_PREFIX + re.sub(r"\W", "_", named_after)
        name, k = base, 2
        while name in self.kernels:
            name, k = f"{base}_{k}", k + 1
        return name

    def kernel_sources(self, lines) -> tuple[str, ...]:
        """The sources of the kernels that ``lines`` (a plan's statements) call, in naming order,
        after those of the ``numba_math`` functions they call (compiled without reassociation)."""
        called = set()
        for line in lines:
            called |= set(re.findall(rf"\b{KERNEL_PREFIX}\w+(?=\()", line))
        kernels = tuple(source for name, source in self.kernels.items() if name in called)
        math = [f for f in (*MATH_FUNCTIONS.values(), *OWN_FUNCTIONS.values())
                if any(re.search(rf"\b{f.name}\(", k) for k in kernels)]
        helpers = [f for f in HELPERS.values() if any(f.name in m.calls for m in math)]
        return tuple(f"{f.source}\n\n\n{f.name} = {KERNEL_DECORATOR}({f.name}, reassociate=False)"
                     for f in helpers + math) + kernels

    # what the module plan asks of a backend beyond the nodes: NumPy's spelling

    def gradient(self, adjoint: str | None, shape) -> str:
        if adjoint is None:
            return self._print_Zeros(Zeros(shape)) if shape else "0.0"
        return adjoint if shape else f"float({adjoint})"
