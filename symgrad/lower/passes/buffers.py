"""Buffers: an elementwise statement evaluated into one array instead of a temporary per operation.

``a = 0.5 * (np.tanh(0.5 * z) + 1.0)`` allocates four arrays of ``a``'s shape;
at medium sizes the fresh pages cost more than the arithmetic (glibc returns
freed blocks of 128 KiB or more to the OS, so every call faults them in
again). Here such an ``Assign`` becomes a chain of ``UfuncInto`` steps along
its *spine*, the operand path that already has the result's shape::

    a = 0.5 * z
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5

The spine starts at the first operation that allocates a new float array of
the result's shape (a matrix product, an elementwise operation), or at an
array this function made (*owned*), of that shape, that nothing reads
afterwards (*dead*, by liveness over the statements and the names the
function returns), that the statement reads only once, and that nothing
views (sliced, transposed, given a second name, or written in place by a
statement of its own: ``grad_Z1 = grad_H; grad_Z1 *= mask`` reuses
``grad_H``). Never a buffer: a protected name (an input, a value ``forward``
returns), a mask (its dtype is bool), a value that is not certainly float
(``2 * mask`` is an int64 array). Shapes come from the nodes: an operand whose
shape is not the result's is never on the spine, so broadcasting never needs
to grow the buffer. Statements of a block that may not run are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp
from sympy.codegen.cfunctions import log1p

from symgrad.index.terms import atoms_of, common_product

from symgrad.lower.nodes import (Add, BroadcastTo, Concat, Elementwise, MatMul, Node, Ones, Product, RowDot, Slice, Tensor,
                                 Transpose, same_shape)
from symgrad.lower.passes.entries import part
from symgrad.lower.statements import Assign, ComputeInto, UfuncInto, printed_negative, reads, subnodes, unwrapped
from symgrad.model.functions import is_mask, row_of

_FRESH = (Elementwise, Product, Add, MatMul, Ones)     # a new array, once printed (bare wrappers aside)
# a table row's first ufunc step on its argument, as the expression that allocates the buffer
_STARTS = {"add": sp.Add, "subtract": lambda a, b: a - b, "multiply": sp.Mul, "divide": lambda a, b: a / b,
           "negative": lambda a: -a}


def is_float(node: Node, floats: set[str]) -> bool:
    """Whether ``node``'s value is certainly a float array or number."""
    node = unwrapped(node)
    if isinstance(node, Tensor):
        return node.name in floats
    if isinstance(node, (Slice, Transpose)):
        return is_float(node.operand if isinstance(node, Transpose) else node.base, floats)
    if isinstance(node, Elementwise):
        if node.boolean:
            return False
        # what a mask does not swallow: its entries, and its numbers (``2*(1.0 > a)`` is an int64 array)
        masks = {f: sp.Integer(1) for f in atoms_of(node.body, sp.Function) if is_mask(f)}
        outside = node.body.xreplace(masks) if masks else node.body
        entries = atoms_of(outside, sp.Indexed)
        return any(is_float(o, floats) for a, o in node.operands if a in entries) or bool(
            atoms_of(outside, sp.Float)) or any(row_of(f) is not None and row_of(f).ufuncs
                                                for f in atoms_of(outside, sp.Function))
    if isinstance(node, (Ones, BroadcastTo)):
        return node.copy if isinstance(node, BroadcastTo) else True
    if isinstance(node, (Product, Add, MatMul, RowDot, Concat)):
        children = node.factors if isinstance(node, Product) else node.terms if isinstance(node, Add) else (
            node.blocks if isinstance(node, Concat) else (node.left, node.right))
        return any(is_float(c, floats) for c in children)
    return False


def float_names(statements, floats: set[str]) -> set[str]:
    """``floats`` and the names ``statements`` assign a float to (to hand to a later function)."""
    floats = set(floats)
    for statement in statements:
        if isinstance(statement, Assign) and is_float(statement.value, floats):
            floats.add(statement.target)
    return floats


def _allocates(node: Node) -> bool:
    """The value is a new array when printed (not a view of, or a name for, another)."""
    if isinstance(node, Elementwise):
        return not node.boolean and not isinstance(node.body, sp.Indexed)
    if isinstance(node, Ones) and node.kept:    # shared between calls: never a buffer
        return False
    return isinstance(node, _FRESH)


def _uncopied(value: Node, floats: set[str]) -> Node:
    """``value`` without a copy that only makes a new float array of a value that is one already
    (``np.broadcast_to(A * B + C, A.shape).astype(float)``: the base of a sum of blocks, which the
    blocks are then written into, is its own array without it)."""
    if isinstance(value, BroadcastTo) and value.copy and same_shape(value.operand.shape, value.shape) \
            and _allocates(unwrapped(value.operand)) and is_float(value.operand, floats):
        return value.operand
    return value


def _viewed(statements: list) -> set[str]:
    """Names sliced, transposed, given a second name or written in place: never buffers (an
    array a term is added into in place, ``T += A @ B``, is written only where its own name is)."""
    out = set()
    for s in statements:
        if isinstance(s, UfuncInto) and s.ufunc in ("add", "subtract") and isinstance(s.arguments[0], Tensor) \
                and s.arguments[0].name == s.target:
            nodes = s.arguments[1:]          # a term added into an array of its own (``accumulation``)
        elif not isinstance(s, Assign):
            out |= reads(s) | {s.target}
            continue
        else:
            nodes = (s.value,)
        for node in (sub for n in nodes for sub in subnodes(n)):
            if isinstance(node, Slice):
                out.add(node.base.name)
            elif isinstance(node, Transpose) and isinstance(node.operand, Tensor):
                out.add(node.operand.name)
        if not isinstance(s, Assign):
            continue
        whole = unwrapped(s.value)
        if isinstance(whole, Elementwise) and isinstance(whole.body, sp.Indexed):
            whole = whole.operand(whole.body)
        if isinstance(whole, Tensor):
            out.add(whole.name)
    return out


def _read_count(node: Node, name: str) -> int:
    """How many times ``node`` reads the array ``name``."""
    count = 0
    for sub in subnodes(node):
        if isinstance(sub, Tensor) and sub.name == name:
            count += 1
        if isinstance(sub, Elementwise):   # an entry read twice in a body is one operand
            count += sum(sub.body.count(a) - 1 for a, o in sub.operands
                         if any(isinstance(n, Tensor) and n.name == name for n in subnodes(o)))
    return count


@dataclass(frozen=True)
class _Source:
    """A chain's start in ``into`` mode: the first step reads ``node`` where it reads the buffer."""

    node: Node


class _Chain:
    """The steps leaving a value in ``target`` with one allocation; ``into``: with none, ``target``
    being an existing array (the first step reads an operand in its place, or a matrix product is
    computed into it)."""

    def __init__(self, target: str, shape, floats: set[str], reusable, into: bool = False):
        self.target, self.shape, self.floats, self.reusable, self.into = target, shape, floats, reusable, into
        self.buffer = Tensor(target, shape)

    def of(self, node) -> list | None:
        if not isinstance(node, Node):          # a number or scalar: never a buffer
            return None
        node = unwrapped(node)
        if isinstance(node, Elementwise) and isinstance(node.body, sp.Indexed):
            node = node.operand(node.body)
        if isinstance(node, Tensor):
            if self.reusable(node.name, node.shape):
                return [Assign(self.target, node)]
            whole = self.into and same_shape(node.shape, self.shape) and is_float(node, self.floats)
            return [_Source(node)] if whole else None
        if not same_shape(node.shape, self.shape) or not is_float(node, self.floats):
            return None
        steps = None
        if isinstance(node, Add):
            steps = self._sum(list(node.terms), lambda t: t, printed_negative,
                              lambda t: Product(-t.coefficient, t.factors))
        elif isinstance(node, Product):
            steps = self._product(list(node.factors), node.coefficient)
        elif isinstance(node, Elementwise):
            steps = self._body(node, node.body)
        if steps:
            return steps
        if not _allocates(node):
            return None
        if self.into:
            return [ComputeInto(self.target, node)] if isinstance(node, MatMul) else None
        return [Assign(self.target, node)]

    def _step(self, ufunc: str, *arguments) -> UfuncInto:
        return UfuncInto(self.target, ufunc, arguments)

    def _sum(self, terms, as_node, negative, negated) -> list | None:
        """A sum along the spine of one of its terms, the others added or subtracted."""
        for k, spine in enumerate(terms):
            others = terms[:k] + terms[k + 1:]
            if not negative(spine):
                steps = self.of(as_node(spine))
                if steps:
                    return steps + [self._step("subtract" if negative(o) else "add", self.buffer,
                                               as_node(negated(o) if negative(o) else o)) for o in others]
                continue
            positive = next((o for o in others if not negative(o)), None)
            steps = self.of(as_node(negated(spine)))
            if steps and positive is not None:
                rest = [o for o in others if o is not positive]
                return steps + [self._step("subtract", as_node(positive), self.buffer)] + [
                    self._step("subtract" if negative(o) else "add", self.buffer,
                               as_node(negated(o) if negative(o) else o)) for o in rest]
        return None

    def _product(self, factors, coefficient) -> list | None:
        """A product along the spine of one factor: times each other factor of the full shape in
        place, then the broadcast ones and the number together (one small temporary)."""
        for k, spine in enumerate(factors):
            steps = self.of(spine)
            if steps:
                others = factors[:k] + factors[k + 1:]
                full = [f for f in others if same_shape(f.shape, self.shape)]
                small = tuple(f for f in others if f not in full)
                steps += [self._step("multiply", self.buffer, f) for f in full]
                if small and coefficient == 1 and len(small) == 1:
                    steps.append(self._step("multiply", self.buffer, small[0]))
                elif small:
                    steps.append(self._step("multiply", self.buffer, Product(coefficient, small)))
                elif coefficient == -1:
                    steps.append(self._step("negative", self.buffer))
                elif coefficient != 1:
                    steps.append(self._step("multiply", self.buffer, coefficient))
                return steps
        return None

    def _body(self, node: Elementwise, body: sp.Expr) -> list | None:
        """A part of an elementwise body along its spine: times each other factor of the full shape
        in place, then the small factors and the number together (one small temporary)."""
        def value(expr):
            return part(node, expr) if atoms_of(expr, sp.Indexed) else expr
        if body.is_Add and not any(is_mask(a) for a in body.args):
            common = common_product(body)      # as the printer prints it: P*(a + b), one pass fewer
            body = common if common.is_Mul else body
        if body.is_Add:
            terms = list(body.as_ordered_terms())
            return self._sum(terms, value, lambda t: t.could_extract_minus_sign(), lambda t: -t)
        if body.is_Mul:
            coefficient, rest = body.as_coeff_Mul()
            coefficient, factors = _signs_paired(coefficient, list(sp.Mul.make_args(rest)))
            for k, spine in enumerate(factors):
                if spine.is_Pow and spine.exp == -1 or not atoms_of(spine, sp.Indexed):
                    continue
                steps = self.of(value(spine))
                if steps:
                    others = factors[:k] + factors[k + 1:]
                    full = [f for f in others if atoms_of(f, sp.Indexed) and same_shape(value(f).shape, self.shape)]
                    for f in full:
                        if f.is_Pow and f.exp == -1:
                            steps.append(self._step("divide", self.buffer, value(f.base)))
                        else:
                            steps.append(self._step("multiply", self.buffer, value(f)))
                    small = coefficient * sp.Mul(*(f for f in others if f not in full))    # one small temporary
                    if small == -1:
                        steps.append(self._step("negative", self.buffer))
                    elif small != 1:
                        steps.append(self._step("multiply", self.buffer, value(small)))
                    return steps
            return None
        if body.is_Pow and body.exp == -1:
            steps = self.of(value(body.base))
            return steps + [self._step("divide", sp.Integer(1), self.buffer)] if steps else None
        if body.is_Pow and body.exp == 2:
            steps = self.of(value(body.base))
            return steps + [self._step("square", self.buffer)] if steps else None
        if body.is_Pow and body.exp == 3 and isinstance(body.base, sp.Indexed):
            steps = self.of(value(body.base ** 2))      # x*x*x: NumPy's x**3 is a pow per element
            reused = steps and isinstance(steps[0], Assign) and isinstance(steps[0].value, Tensor)
            return steps + [self._step("multiply", self.buffer, value(body.base))] if steps and not reused else None
        if body.is_Pow and body.exp == sp.S.Half:
            steps = self.of(value(body.base))
            return steps + [self._step("sqrt", self.buffer)] if steps else None
        if isinstance(body, log1p):       # the softplus tail's (``passes/softplus_pairs.py``)
            steps = self.of(value(body.args[0]))
            return steps + [self._step("log1p", self.buffer)] if steps else None
        row = row_of(body)
        if row is None or not row.ufuncs or not atoms_of(body.args[0], sp.Indexed):
            return None
        arguments = body.args

        def step(spec):
            ufunc, *specs = spec
            return self._step(ufunc, *(self.buffer if a == 0 and isinstance(a, int) else
                                       value(arguments[a]) if isinstance(a, int) else sp.Float(a) for a in specs))
        steps = self.of(value(arguments[0]))
        first, *rest = row.ufuncs
        if steps:
            return steps + [step(s) for s in row.ufuncs]
        if first[0] in _STARTS and first[1] == 0 and rest and not self.into:
            start = value(_STARTS[first[0]](arguments[0], *(sp.Float(c) for c in first[2:])))
            if isinstance(start, Elementwise) and same_shape(start.shape, self.shape):
                return [Assign(self.target, start)] + [step(s) for s in rest]
        return None


def _negative_sum(expr: sp.Expr) -> bool:
    return expr.is_Add and all(t.could_extract_minus_sign() for t in expr.args)


def _signs_paired(coefficient, factors: list) -> tuple:
    """A product's number and factors with each sum of negative terms alone negated (SymPy keeps
    ``(t**2 - 1)*(-a - b)`` as it is, and a chain along it spends a pass on ``np.negative``), the
    sign then taken by another sum (``(1 - t**2)*(a + b)``) or left on the number, which a chain
    multiplies in anyway where it is not 1. The product is the same."""
    negative = [k for k, f in enumerate(factors) if _negative_sum(f)]
    if not negative:
        return coefficient, factors
    factors = list(factors)
    for k in negative:
        factors[k], coefficient = -factors[k], -coefficient
    if coefficient.could_extract_minus_sign():
        other = next((k for k, f in enumerate(factors) if f.is_Add and k not in negative), None)
        if other is not None:
            factors[other], coefficient = -factors[other], -coefficient
    return coefficient, factors


def steps_into(target: str, value: Node, floats: set[str]) -> list | None:
    """Steps computing ``value`` into the existing array ``target`` of its shape, allocating no
    array of that shape (each ufunc writes ``out=target``; the first reads an operand where the
    others read ``target``), or None where the chain cannot start that way."""
    chain = _Chain(target, value.shape, floats, lambda name, shape: False, into=True)
    steps = chain.of(value)
    if not steps:
        return None
    if isinstance(steps[0], _Source):
        second = steps[1] if len(steps) > 1 else None
        if not isinstance(second, UfuncInto) or chain.buffer not in [a for a in second.arguments
                                                                     if isinstance(a, Tensor)]:
            return None
        first = replace(second, arguments=tuple(steps[0].node if isinstance(a, Tensor) and a == chain.buffer else a
                                                for a in second.arguments))
        steps = [first, *steps[2:]]
    return None if any(isinstance(s, (Assign, _Source)) for s in steps) else steps


def in_buffers(statements: list, floats: set[str], live_out: set[str], protected: set[str],
               fixed: frozenset = frozenset()) -> list:
    """``statements`` (one function's, in order) as a list of statement lists, each ``Assign`` of
    an elementwise chain evaluated into one buffer. ``floats``: names known to hold floats
    (checked inputs); ``live_out``: the names read after these statements; ``protected``: names
    never reused as buffers; ``fixed``: the indices of statements left as they are (they may
    not run), whose reads count all the same."""
    never = _viewed(statements) | set(protected)
    last_read = {name: len(statements) for name in live_out}    # name -> the last position reading it
    for k, statement in enumerate(statements):
        for name in reads(statement):
            last_read[name] = max(last_read.get(name, -1), k)
    floats, owned, out = set(floats), set(), []
    for k, statement in enumerate(statements):
        if not isinstance(statement, Assign) or k in fixed:
            out.append([statement])
            continue
        target, value = statement.target, _uncopied(statement.value, floats)
        shape = value.shape
        statement = Assign(target, value)

        def reusable(name: str, shape_of) -> bool:      # a name read after statement k is not dead there
            return name in owned and name not in never and last_read.get(name, -1) <= k \
                and same_shape(shape_of, shape) and _read_count(value, name) == 1
        steps = _Chain(target, shape, floats, reusable).of(value) if shape else None
        steps = steps if steps and len(steps) > 1 else None
        if is_float(value, floats):
            floats.add(target)
            if steps is not None or _allocates(unwrapped(value)):
                owned.add(target)
        else:
            floats.discard(target)
        out.append(steps or [statement])
    return out
