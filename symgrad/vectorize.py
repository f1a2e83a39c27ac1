"""Index expression -> NumPy array expression.

Each term of a collapsed index expression is lowered in the frame of its
output axes (a matrix ``(rows, cols)``, an axis of size 1 broadcasting):

* an entry ``T[k, q]`` becomes ``T``, ``T.T`` or a slice such as
  ``T[M:2 * M]`` when its index carries an offset (a concatenation block);
* a product with no summed index is a broadcasting elementwise product;
* a sum over one index is a matrix product ``left @ right``, or an axis sum
  when only one side exists, with every factor that does not mention the
  summed index multiplied in afterwards;
* anything else falls back to ``np.einsum``.

A term restricted to a block of rows or columns (``[M <= k <= 2M - 1]``)
writes that block: ``np.concatenate`` when the blocks tile an axis,
in-place ``+=`` into a zeroed array otherwise. No dense ``diag`` and no
Jacobian is ever formed. Every array expression's orientation is decided
from its indices, and an index that cannot be placed is a ``LoweringError``.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from .deltas import term_ranges
from .errors import LoweringError
from .rules import row_of
from .terms import IndexExpr, Term, index_symbols, is_nonnegative, linear_form

Frame = tuple  # one label (index symbol) or None per output axis
EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def print_scalar(expr: sp.Expr) -> str:
    """A scalar of dimensions and numbers as Python code."""
    return _ArrayPrinter((), {}, {}).doprint(sp.sympify(expr))


def _same(a, b) -> bool:
    return sp.expand(a - b) == 0


class _ArrayPrinter(PythonCodePrinter):
    """Prints a pointwise factor with every ``Indexed`` placed in ``frame``."""

    def __init__(self, frame: Frame, ranges: dict, shapes: dict):
        super().__init__({"fully_qualified_modules": False, "standard": "python3"})
        self.frame, self.ranges, self.shapes = frame, ranges, shapes

    def _print(self, expr, **kwargs):
        if row_of(expr) is not None:  # table functions first: some share SymPy's names (exp, tanh)
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Indexed(self, expr):
        return place(expr, self.frame, self.ranges, self.shapes)

    def _print_Symbol(self, expr):
        return expr.name

    def _print_Function(self, expr):
        row = row_of(expr)
        if row is None:
            raise LoweringError(f"no NumPy spelling for {expr}")
        return row.numpy.format(*(self._print(a) for a in expr.args))

    def _print_KroneckerDelta(self, expr):
        raise LoweringError(f"a Kronecker delta between free indices is left in {expr}: "
                            "that is a Jacobian, which symgrad never materializes")

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.Rational(1, 2):
            return f"np.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


def _slice(start, stop, size) -> str:
    if _same(start, 0) and _same(stop, size):
        return ":"
    lo = "" if _same(start, 0) else print_scalar(start)
    hi = "" if _same(stop, size) else print_scalar(stop)
    return f"{lo}:{hi}"


def place(access: sp.Indexed, frame: Frame, ranges: dict, shapes: dict) -> str:
    """Code for ``access`` as an array whose axes line up with ``frame``."""
    name = str(access.base)
    shape = shapes[name]
    labels, slices = [], []
    for e, size in zip(access.indices, shape):
        form = linear_form(e, set(ranges))
        if form is None:
            raise LoweringError(f"index {e} of {access} is not an index plus an offset")
        constant, coefficients = form
        if not coefficients:
            labels.append(None)
            slices.append(":" if size == 1 else _slice(constant, constant + 1, size))
            continue
        if len(coefficients) != 1 or list(coefficients.values())[0] != 1:
            raise LoweringError(f"index {e} of {access} is not an index plus an offset")
        (label,) = coefficients
        lo, hi = ranges[label]
        labels.append(label)
        slices.append(_slice(constant + lo, constant + hi + 1, size))
    while slices and slices[-1] == ":":
        slices.pop()
    code = name + (f"[{', '.join(slices)}]" if slices else "")
    positions = {label: k for k, label in enumerate(frame) if label is not None}
    present = [l for l in labels if l is not None]
    if len(present) != len(set(present)):
        raise LoweringError(f"{access} repeats an index (a diagonal): not vectorizable")
    for label in present:
        if label not in positions:
            raise LoweringError(f"{access}: index {label} has no axis in this expression")
    if any(label is not None and positions[label] != axis for axis, label in enumerate(labels)):
        code += ".T"
    return code


@dataclass
class _Code:
    text: str
    labels: frozenset  # output labels this array actually spans
    size_rank: int     # how many indices it spans (for ordering products: smallest first)


def _labels(expr, ranges) -> frozenset:
    return frozenset(s for s in index_symbols(expr) if s in ranges)


def _product(coeff: sp.Expr, parts: list[_Code]) -> str:
    parts = sorted(parts, key=lambda p: p.size_rank)
    texts = [p.text for p in parts]
    if coeff != 1:
        if coeff == -1 and texts:
            texts[0] = "-" + texts[0]
        else:
            scalar = print_scalar(coeff)
            texts.insert(0, scalar if coeff.is_Atom else f"({scalar})")
    return " * ".join(texts) if texts else "1.0"


def _operands(args, frame, ranges, shapes) -> list[_Code]:
    printer = _ArrayPrinter(frame, ranges, shapes)
    out = []
    for arg in args:
        labels = _labels(arg, ranges)
        out.append(_Code(printer.parenthesize(arg, PRECEDENCE["Mul"]), labels, len(labels)))
    return out


def lower_term(term: Term, frame: Frame, ranges: dict, shapes: dict) -> _Code:
    """One term as an array expression in ``frame`` (which may broadcast)."""
    ranges = {**ranges, **{s: (lo, hi) for s, lo, hi in term.bound}}
    args = sp.Mul.make_args(term.factor)
    scalars = [a for a in args if not _labels(a, ranges)]
    arrays = [a for a in args if _labels(a, ranges)]
    coeff = sp.Mul(*scalars)
    bound = [s for s, _, _ in term.bound]
    out_labels = frozenset(l for l in frame if l is not None)
    if not bound:
        parts = _operands(arrays, frame, ranges, shapes)
        return _Code(_product(coeff, parts), frozenset().union(*(p.labels for p in parts)), 0)
    if len(bound) == 1:
        lowered = _contract_one(coeff, arrays, bound[0], frame, ranges, shapes)
        if lowered is not None:
            return lowered
    if not out_labels and len(bound) == 2 and all(_labels(a, ranges) <= set(bound) for a in arrays):
        parts = _operands(arrays, tuple(bound), ranges, shapes)
        if len(arrays) == 1 and isinstance(arrays[0], sp.Pow) and arrays[0].exp == 2 \
                and isinstance(arrays[0].base, sp.Indexed):
            inner = place(arrays[0].base, tuple(bound), ranges, shapes)
            return _Code(_product(coeff, [_Code(f"np.vdot({inner}, {inner})", frozenset(), 9)]), frozenset(), 0)
        total = _product(sp.Integer(1), parts)
        return _Code(_product(coeff, [_Code(f"({total}).sum()", frozenset(), 9)]), frozenset(), 0)
    return _einsum(coeff, arrays, bound, frame, ranges, shapes)


def _contract_one(coeff, arrays, c, frame, ranges, shapes) -> _Code | None:
    o0, o1 = frame if len(frame) == 2 else (None, None)
    outer = [a for a in arrays if c not in _labels(a, ranges)]
    inner = [a for a in arrays if c in _labels(a, ranges)]
    left = [a for a in inner if _labels(a, ranges) <= {o0, c}]
    right = [a for a in inner if a not in left and _labels(a, ranges) <= {c, o1}]
    if len(left) + len(right) != len(inner):
        return None
    only_c = [a for a in left + right if _labels(a, ranges) == {c}]
    if not right and len(left) > len(only_c) > 0:      # W[i, c] x[c]: a matrix-vector product
        left, right = [a for a in left if a not in only_c], only_c
    elif not left and len(right) > len(only_c) > 0:
        left, right = only_c, [a for a in right if a not in only_c]
    scalar_out = o0 is None and o1 is None
    left_code = _product(sp.Integer(1), _operands(left, (o0, c), ranges, shapes)) if left else None
    right_code = _product(sp.Integer(1), _operands(right, (c, o1), ranges, shapes)) if right else None
    spans = set()
    if left and right:
        if scalar_out:
            core = f"np.vdot({left_code}, {right_code})"
        else:
            core = f"({left_code}) @ ({right_code})" if (len(left) > 1 or len(right) > 1) \
                else f"{left_code} @ {right_code}"
        spans = {l for l in (o0, o1) if l is not None and (
            l == o0 and any(o0 in _labels(a, ranges) for a in left)
            or l == o1 and any(o1 in _labels(a, ranges) for a in right))}
    else:
        side = left or right
        side_code = left_code or right_code
        if scalar_out:
            if len(side) == 1 and isinstance(side[0], sp.Pow) and side[0].exp == 2 \
                    and isinstance(side[0].base, sp.Indexed):
                vec = place(side[0].base, (o0, c) if left else (c, o1), ranges, shapes)
                core = f"np.vdot({vec}, {vec})"
            else:
                core = f"({side_code}).sum()" if len(side) > 1 or not side_code.isidentifier() \
                    else f"{side_code}.sum()"
        else:
            body = side_code if (len(side) == 1 and _is_simple(side_code)) else f"({side_code})"
            lo, hi = ranges[c]
            size = print_scalar(hi - lo + 1)
            # a product with a ones vector is about twice as fast as .sum(axis=...) here (PERF_NOTES)
            core = f"{body} @ np.ones(({size}, 1))" if left else f"np.ones((1, {size})) @ {body}"
        spans = {l for a in side for l in _labels(a, ranges) if l != c}
    parts = _operands(outer, frame, ranges, shapes)
    parts.append(_Code(core, frozenset(spans), 9))
    return _Code(_product(coeff, parts), frozenset(spans).union(*(p.labels for p in parts)), 0)


def _is_simple(code: str) -> bool:
    return all(ch.isalnum() or ch in "_.[]:, *" for ch in code) and " " not in code.replace(", ", ",")


def _einsum(coeff, arrays, bound, frame, ranges, shapes) -> _Code:
    letters = {}
    for label in [l for l in frame if l is not None] + list(bound):
        letters[label] = EINSUM_LETTERS[len(letters)]
    specs, codes = [], []
    for arg in arrays:
        labels = sorted(_labels(arg, ranges), key=lambda s: list(letters).index(s))
        if len(labels) > 2:
            raise LoweringError(f"factor {arg} spans {len(labels)} indices: not vectorizable")
        sub_frame = tuple(labels) + (None,) * (2 - len(labels))
        printer = _ArrayPrinter(sub_frame, ranges, shapes)
        code = printer.doprint(arg)
        if len(labels) == 1:
            code = f"({code}).reshape(-1)"
        specs.append("".join(letters[l] for l in labels))
        codes.append(code)
    out = "".join(letters[l] for l in frame if l is not None)
    call = f"np.einsum('{','.join(specs)}->{out}', {', '.join(codes)}, optimize=True)"
    if len(frame) == 2 and (frame[0] is None) != (frame[1] is None):
        call += "[None, :]" if frame[0] is None else "[:, None]"
    return _Code(_product(coeff, [_Code(call, frozenset(), 9)]),
                 frozenset(l for l in frame if l is not None), 0)


def lower(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> list[str]:
    """Statements assigning the array (or scalar) ``target`` its value."""
    frame = tuple(i if i != 0 else None for i in expr.indices)
    full, blocks = [], []
    for term in expr.terms:
        (blocks if term.conditions else full).append(term)
    shape_code = "(" + ", ".join(print_scalar(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    if not expr.terms:
        return [f"{target} = " + (f"np.zeros({shape_code})" if shape else "0.0")]
    want = frozenset(l for l in frame if l is not None)
    lines = []
    if full:
        codes = [lower_term(t, frame, free, shapes) for t in full]
        text = " + ".join(c.text for c in codes).replace("+ -", "- ")
        if not frozenset().union(*(c.labels for c in codes)) >= want or blocks:
            text = f"np.broadcast_to({text}, {shape_code}).copy()" if shape else text
        lines.append(f"{target} = {text}")
    if not blocks:
        return lines
    placed = [_block(t, frame, free, shapes, shape) for t in blocks]
    tiles = _tiling(placed, shape)
    if not full and tiles is not None:
        axis, ordered = tiles
        parts = ", ".join(code for _, code in ordered)
        return [f"{target} = np.concatenate(({parts}), axis={axis})"]
    if not full:
        lines.append(f"{target} = np.zeros({shape_code})")
    for (slices, _axis_ranges), code in placed:
        lines.append(f"{target}[{', '.join(slices)}] += {code}")
    return lines


def _block(term: Term, frame, free, shapes, shape):
    ranges = term_ranges(Term(sp.Integer(1), (), term.conditions), free)
    for e, lo, hi in term.conditions:
        if not (set(index_symbols(e)) <= set(frame)):
            raise LoweringError(f"condition {lo} <= {e} <= {hi} is not a block of the output")
    slices, spans = [], []
    for label, size in zip(frame, shape):
        if label is None:
            slices.append(":")
            spans.append(None)
            continue
        lo, hi = ranges[label]
        slices.append(_slice(lo, hi + 1, size))
        spans.append((lo, hi))
    body = Term(term.factor, term.bound, ())
    code = lower_term(body, frame, {**free, **{k: v for k, v in ranges.items() if k in free}}, shapes)
    want = frozenset(l for l in frame if l is not None)
    text = code.text
    if not code.labels >= want:
        block_shape = ", ".join(
            print_scalar(hi - lo + 1) if span else "1" for span in spans for lo, hi in [span or (0, 0)])
        text = f"np.broadcast_to({text}, ({block_shape}))"
    return (slices, spans), text


def _tiling(placed, shape):
    """(axis, blocks in order) when the blocks stack along one axis and cover it exactly."""
    for axis in range(len(shape)):
        other = 1 - axis
        if any(s[other] != ":" for (s, _), _ in placed):
            continue
        spans = sorted(((sp_[axis], code) for (_, sp_), code in placed),
                       key=lambda x: sp.default_sort_key(x[0][0]) if x[0] else 0)
        if any(span is None for span, _ in spans):
            continue
        ordered, position = [], sp.Integer(0)
        remaining = list(spans)
        while remaining:
            nxt = [item for item in remaining if _same(item[0][0], position)]
            if not nxt:
                return None
            item = nxt[0]
            remaining.remove(item)
            ordered.append(item)
            position = item[0][1] + 1
        if _same(position, shape[axis]):
            return axis, ordered
    return None
