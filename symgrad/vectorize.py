r"""Index expression -> NumPy array expression.

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

Every piece is written twice from the same decisions: as NumPy code and as
the matrix view in LaTeX (``\odot``, ``^\top``, row blocks ``Z_{[M:2M,:]}``,
``\mathbf{1}_L``), so the derivation document shows what the code computes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.latex import LatexPrinter
from sympy.printing.pycode import PythonCodePrinter

from .deltas import term_ranges
from .errors import LoweringError
from .latex_names import base_latex
from .rules import is_mask, row_of
from .terms import IndexExpr, Term, index_symbols, linear_form

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
        args = []
        for k, arg in enumerate(expr.args):
            text = self._print(arg)
            exposed = re.search(r"[*+\-/<>=&] ?\{%d\}|\{%d\} ?[*+\-/<>=&]" % (k, k), row.numpy)
            args.append(_atomic(text) if exposed else text)   # (0.5 * {0}) needs (P - 2) whole
        return row.numpy.format(*args)

    def _print_Mul(self, expr):
        return _negate_safely(super()._print_Mul(expr))

    def _print_Add(self, expr, order=None):
        # NumPy adds boolean masks as a logical or: make each mask a number first
        floats = {a: sp.Float(1.0) * a for a in expr.args if is_mask(a)}
        expr = expr.xreplace(floats) if floats else expr
        if not expr.is_Add:
            return self._print(expr)
        common = sp.factor_terms(expr)     # -2*y + 2*yhat -> 2*(yhat - y): one pass fewer
        if common.is_Mul and not floats:
            return self._print(common)
        printed = [(term, self._print(term)) for term in self._as_ordered_terms(expr, order=order)]
        # a positive term first: Ystar - Y, not -Y + Ystar (which negates Y into a temporary)
        first = next((k for k, (_, text) in enumerate(printed) if not text.startswith("-")), 0)
        printed.insert(0, printed.pop(first))
        out = []
        for term, text in printed:
            negative = text.startswith("-") and not term.is_Add
            if negative:
                text = text[1:]
            if precedence(term) < precedence(expr) or term.is_Add:
                text = f"({text})"
            out += ["-" if negative else "+", text]
        return ("-" if out[0] == "-" else "") + " ".join(out[1:])

    def _print_KroneckerDelta(self, expr):
        raise LoweringError(f"a Kronecker delta between free indices is left in {expr}: "
                            "that is a Jacobian, which symgrad never materializes")

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.Rational(1, 2):
            return f"np.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


class _ArrayLatexPrinter(LatexPrinter):
    """The LaTeX twin of ``_ArrayPrinter``: the same placements, printed as mathematics."""

    def __init__(self, frame: Frame, ranges: dict, shapes: dict):
        super().__init__({"mul_symbol": None})
        self.frame, self.ranges, self.shapes = frame, ranges, shapes

    def _print_Indexed(self, expr):
        return place_latex(expr, self.frame, self.ranges, self.shapes)

    def _print_Symbol(self, expr, style="plain"):
        return base_latex(expr.name)


def latex_scalar(expr: sp.Expr) -> str:
    return _ArrayLatexPrinter((), {}, {}).doprint(sp.sympify(expr))


_SIMPLE = re.compile(r"-?[A-Za-z_][A-Za-z0-9_]*(\[[^\[\]]*\])?(\.T)?|-?[0-9.]+(e-?[0-9]+)?")


def _atomic(code: str) -> str:
    """``code`` safe to splice into a larger expression: parenthesised unless a name, entry or number."""
    return code if _SIMPLE.fullmatch(code) or (code.startswith("(") and _balanced_outer(code)) \
        else f"({code})"


def _balanced_outer(code: str) -> bool:
    depth = 0
    for k, ch in enumerate(code):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k < len(code) - 1:
            return False
    return True


def _negate_safely(code: str) -> str:
    """NumPy refuses ``-`` on a boolean mask: ``-(W > 0)`` becomes ``-1.0 * (W > 0)``."""
    if code.startswith("-(") and re.search(r"[<>]|==", code):
        return "-1.0 * " + code[1:]
    return code


def _slice(start, stop, size) -> str:
    if _same(start, 0) and _same(stop, size):
        return ":"
    lo = "" if _same(start, 0) else print_scalar(start)
    hi = "" if _same(stop, size) else print_scalar(stop)
    return f"{lo}:{hi}"


def _placement(access: sp.Indexed, frame: Frame, ranges: dict, shapes: dict):
    """(name, slice bounds per axis or None, transposed) for ``access`` lined up with ``frame``."""
    name = str(access.base)
    shape = shapes[name]
    labels, bounds = [], []
    for e, size in zip(access.indices, shape):
        form = linear_form(e, set(ranges))
        if form is None:
            raise LoweringError(f"index {e} of {access} is not an index plus an offset")
        constant, coefficients = form
        if not coefficients:
            labels.append(None)
            bounds.append(None if size == 1 else (constant, constant + 1, size))
            continue
        if len(coefficients) != 1 or list(coefficients.values())[0] != 1:
            raise LoweringError(f"index {e} of {access} is not an index plus an offset")
        (label,) = coefficients
        lo, hi = ranges[label]
        labels.append(label)
        full = _same(constant + lo, 0) and _same(constant + hi + 1, size)
        bounds.append(None if full else (constant + lo, constant + hi + 1, size))
    positions = {label: k for k, label in enumerate(frame) if label is not None}
    present = [l for l in labels if l is not None]
    if len(present) != len(set(present)):
        raise LoweringError(f"{access} repeats an index (a diagonal): not vectorizable")
    for label in present:
        if label not in positions:
            raise LoweringError(f"{access}: index {label} has no axis in this expression")
    transposed = any(label is not None and positions[label] != axis for axis, label in enumerate(labels))
    return name, bounds, transposed


def place(access: sp.Indexed, frame: Frame, ranges: dict, shapes: dict) -> str:
    """Code for ``access`` as an array whose axes line up with ``frame``."""
    name, bounds, transposed = _placement(access, frame, ranges, shapes)
    if all(n == 1 for n in shapes[name]):   # a 1 x 1 tensor's entry is a number
        return f"{name}[0, 0]"
    slices = [":" if b is None else _slice(*b) for b in bounds]
    while slices and slices[-1] == ":":
        slices.pop()
    return name + (f"[{', '.join(slices)}]" if slices else "") + (".T" if transposed else "")


def place_latex(access: sp.Indexed, frame: Frame, ranges: dict, shapes: dict) -> str:
    """The same placement in LaTeX: ``Z_{[M:2M,:]}^\\top``."""
    name, bounds, transposed = _placement(access, frame, ranges, shapes)
    text = base_latex(name)
    if any(b is not None for b in bounds):
        parts = [":" if b is None else f"{latex_scalar(b[0])}:{latex_scalar(b[1])}" for b in bounds]
        text = f"{{{text}}}_{{[{','.join(parts)}]}}"
    return text + (r"^{\top}" if transposed else "")


@dataclass
class _Code:
    text: str
    labels: frozenset  # output labels this array actually spans
    size_rank: int     # how many indices it spans (for ordering products: smallest first)
    latex: str = ""
    matmul: tuple | None = None   # (left, right) when the whole term is one plain matrix product
    boolean: bool = False          # a mask (a boolean array in NumPy)


def _labels(expr, ranges) -> frozenset:
    return frozenset(s for s in index_symbols(expr) if s in ranges)


def _product2(coeff: sp.Expr, parts: list[_Code]) -> tuple[str, str]:
    """NumPy code and LaTeX for ``coeff * part * part ...``, smallest parts first."""
    parts = sorted(parts, key=lambda p: p.size_rank)
    texts = [p.text for p in parts]
    tex = [p.latex for p in parts]
    lead = ""
    if coeff != 1:
        if coeff == -1 and texts:
            texts[0] = _negate_safely("-" + texts[0])
            lead = "-"
        else:
            scalar = print_scalar(coeff)
            scalar = scalar if coeff.is_Atom else f"({scalar})"
            texts.insert(0, f"1.0 * {scalar}" if is_mask(coeff) else scalar)
            lead = latex_scalar(coeff) + r" \cdot "
    latex = lead + r" \odot ".join(tex) if tex else (latex_scalar(coeff) if coeff != 1 else "1")
    if parts and coeff == 1 and all(p.boolean for p in parts):
        texts.insert(0, "1.0")   # a mask alone is added or contracted: as numbers, not booleans
    return (" * ".join(texts) if texts else "1.0"), latex


def _operands(args, frame, ranges, shapes) -> list[_Code]:
    printer = _ArrayPrinter(frame, ranges, shapes)
    latex = _ArrayLatexPrinter(frame, ranges, shapes)
    out = []
    for arg in args:
        labels = _labels(arg, ranges)
        out.append(_Code(printer.parenthesize(arg, PRECEDENCE["Mul"]), labels, len(labels),
                         latex.parenthesize(arg, PRECEDENCE["Mul"]), boolean=is_mask(arg)))
    return out


def _wrap(latex: str) -> str:
    return latex if latex.replace("\\", "").replace("_", "").replace("{", "").replace("}", "").replace(
        "^", "").replace("[", "").replace("]", "").replace(":", "").replace(",", "").isalnum() \
        else r"\left(" + latex + r"\right)"


def _separated(args, ranges) -> list:
    """Factors spanning more than two indices split where they factor: SymPy may have merged
    1/C1[a, b] * 1/(1 + P0[b, c]**2) into 1/(C1[a, b]*P0[b, c]**2 + C1[a, b]), which no matrix
    operation computes (found by fuzzing)."""
    out = []
    for arg in args:
        parts = sp.Mul.make_args(sp.factor_terms(arg)) if len(_labels(arg, ranges)) > 2 else (arg,)
        out.extend(parts)
    return out


def lower_term(term: Term, frame: Frame, ranges: dict, shapes: dict) -> _Code:
    """One term as an array expression in ``frame`` (which may broadcast)."""
    ranges = {**ranges, **{s: (lo, hi) for s, lo, hi in term.bound}}
    args = _separated(sp.Mul.make_args(term.factor), ranges)
    scalars = [a for a in args if not _labels(a, ranges) and not a.atoms(sp.Indexed)]
    arrays = [a for a in args if a not in scalars]
    coeff = sp.Mul(*scalars)
    bound = [s for s, _, _ in term.bound]
    out_labels = frozenset(l for l in frame if l is not None)
    if not bound:
        parts = _operands(arrays, frame, ranges, shapes)
        return _Code(*_as_code(_product2(coeff, parts), frozenset().union(*(p.labels for p in parts))))
    if len(bound) == 1:
        lowered = _contract_one(coeff, arrays, bound[0], frame, ranges, shapes)
        if lowered is not None:
            return lowered
    if not out_labels and len(bound) == 2 and all(_labels(a, ranges) <= set(bound) for a in arrays):
        parts = _operands(arrays, tuple(bound), ranges, shapes)
        if len(arrays) == 1 and isinstance(arrays[0], sp.Pow) and arrays[0].exp == 2 \
                and isinstance(arrays[0].base, sp.Indexed):
            inner = place(arrays[0].base, tuple(bound), ranges, shapes)
            tex = place_latex(arrays[0].base, tuple(bound), ranges, shapes)
            core = _Code(f"np.vdot({inner}, {inner})", frozenset(), 9, rf"\lVert {tex} \rVert^{{2}}")
        else:
            total, tex = _product2(sp.Integer(1), parts)
            core = _Code(f"({total}).sum()", frozenset(), 9, rf"\operatorname{{sum}}\left({tex}\right)")
        return _Code(*_as_code(_product2(coeff, [core]), frozenset()))
    return _einsum(coeff, arrays, bound, frame, ranges, shapes)


def _as_code(pair, labels):
    text, latex = pair
    return text, labels, 0, latex


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
    left_code, left_tex = _product2(sp.Integer(1), _operands(left, (o0, c), ranges, shapes)) if left \
        else (None, None)
    right_code, right_tex = _product2(sp.Integer(1), _operands(right, (c, o1), ranges, shapes)) if right \
        else (None, None)

    spans = set()
    if left and right:
        if scalar_out:
            core = f"np.vdot({left_code}, {right_code})"
            tex = rf"\left\langle {left_tex},\, {right_tex} \right\rangle"
        else:
            core = f"{_atomic(left_code)} @ {_atomic(right_code)}"
            tex = (_wrap(left_tex) if len(left) > 1 else left_tex) + " " + (
                _wrap(right_tex) if len(right) > 1 else right_tex)
        spans = {l for l in (o0, o1) if l is not None and (
            l == o0 and any(o0 in _labels(a, ranges) for a in left)
            or l == o1 and any(o1 in _labels(a, ranges) for a in right))}
    else:
        side = left or right
        side_code, side_tex = (left_code, left_tex) if left else (right_code, right_tex)
        if scalar_out:
            if len(side) == 1 and isinstance(side[0], sp.Pow) and side[0].exp == 2 \
                    and isinstance(side[0].base, sp.Indexed):
                sub_frame = (o0, c) if left else (c, o1)
                vec = place(side[0].base, sub_frame, ranges, shapes)
                core = f"np.vdot({vec}, {vec})"
                tex = rf"\lVert {place_latex(side[0].base, sub_frame, ranges, shapes)} \rVert^{{2}}"
            else:
                core = f"({side_code}).sum()" if len(side) > 1 or not side_code.isidentifier() \
                    else f"{side_code}.sum()"
                tex = rf"\operatorname{{sum}}\left({side_tex}\right)"
        else:
            body = side_code if (len(side) == 1 and _is_simple(side_code)) else f"({side_code})"
            lo, hi = ranges[c]
            size = print_scalar(hi - lo + 1)
            ones = rf"\mathbf{{1}}_{{{latex_scalar(hi - lo + 1)}}}"
            # a product with a ones vector is about twice as fast as .sum(axis=...) (measured, 2 cores)
            if left:
                core = f"{body} @ np.ones(({size}, 1))"
                tex = f"{_wrap(side_tex) if len(side) > 1 else side_tex} {ones}"
            else:
                core = f"np.ones((1, {size})) @ {body}"
                tex = rf"{ones}^{{\top}} {_wrap(side_tex) if len(side) > 1 else side_tex}"
        spans = {l for a in side for l in _labels(a, ranges) if l != c}
    parts = _operands(outer, frame, ranges, shapes)
    plain = None
    if left and right and not scalar_out and not parts and coeff == 1:
        plain = tuple(code if side_len == 1 else f"({code})"
                      for code, side_len in ((left_code, len(left)), (right_code, len(right))))
    if parts and "@" in core:   # `*` and `@` bind equally, left to right: keep the product whole
        core = f"({core})"
    parts.append(_Code(core, frozenset(spans), 9, tex if not parts else _wrap(tex)))
    code = _Code(*_as_code(_product2(coeff, parts), frozenset(spans).union(*(p.labels for p in parts))))
    code.matmul = plain
    return code


def _is_simple(code: str) -> bool:
    return all(ch.isalnum() or ch in "_.[]:, *" for ch in code) and " " not in code.replace(", ", ",")


def _einsum(coeff, arrays, bound, frame, ranges, shapes) -> _Code:
    letters = {}
    for label in [l for l in frame if l is not None] + list(bound):
        letters[label] = EINSUM_LETTERS[len(letters)]
    specs, codes, texs = [], [], []
    for arg in arrays:
        labels = sorted(_labels(arg, ranges), key=lambda s: list(letters).index(s))
        if len(labels) > 2:
            raise LoweringError(f"factor {arg} spans {len(labels)} indices: not vectorizable")
        sub_frame = tuple(labels) + (None,) * (2 - len(labels))
        code = _ArrayPrinter(sub_frame, ranges, shapes).doprint(arg)
        if is_mask(arg):
            code = f"1.0 * {code}"
        texs.append(_ArrayLatexPrinter(sub_frame, ranges, shapes).doprint(arg))
        if len(labels) == 1:
            code = f"({code}).reshape(-1)"
        specs.append("".join(letters[l] for l in labels))
        codes.append(code)
    used = set().union(*(_labels(a, ranges) for a in arrays)) if arrays else set()
    present = [l for l in frame if l is not None and l in used]   # an index nothing mentions broadcasts
    out = "".join(letters[l] for l in present)
    call = f"np.einsum('{','.join(specs)}->{out}', {', '.join(codes)}, optimize=True)"
    tex = rf"\operatorname{{einsum}}_{{{','.join(specs)}\to {out}}}\left({', '.join(texs)}\right)"
    if len(frame) == 2 and len(present) == 1:
        call += "[None, :]" if present[0] == frame[1] else "[:, None]"
    return _Code(*_as_code(_product2(coeff, [_Code(call, frozenset(), 9, tex)]), frozenset(present)))


@dataclass(frozen=True)
class Lowered:
    """Statements assigning ``target``, and the same value as a LaTeX expression.

    ``tiles`` lists (slice, code) when the value stacks blocks along an axis; ``parts`` the
    terms of a plain sum, so that ``into`` can compute it inside an existing array (a block
    of the array it is stacked into) instead of copying it there afterwards.
    """

    lines: tuple[str, ...]
    latex: str
    tiles: tuple = ()
    parts: tuple = ()

    def into(self, view: str) -> list[str]:
        """Statements computing this value into the existing array ``view``."""
        spans = frozenset().union(*(part.labels for part in self.parts))
        # a product that spans every axis is written straight into the view; one that is
        # broadcast against the other terms (P @ c - q: a column minus a row) is not
        parts = sorted(self.parts, key=lambda part: not (part.matmul and part.labels == spans))
        first, rest = parts[0], parts[1:]
        lines = [f"np.matmul({first.matmul[0]}, {first.matmul[1]}, out={view})"
                 if first.matmul and first.labels == spans else f"{view}[...] = {first.text}"]
        for part in rest:
            negative = part.text.startswith("-")
            lines.append(f"{view} {'-=' if negative else '+='} {part.text[1:] if negative else part.text}")
        return lines


def lower(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> list[str]:
    """Statements assigning the array (or scalar) ``target`` its value."""
    return list(lower_both(target, expr, shape, shapes, free).lines)


def lower_both(target: str, expr: IndexExpr, shape: tuple, shapes: dict, free: dict) -> Lowered:
    """The statements and the matrix view of ``target``, from one lowering."""
    frame = tuple(i if i != 0 else None for i in expr.indices)
    full, blocks = [], []
    for term in expr.terms:
        (blocks if term.conditions else full).append(term)
    shape_code = "(" + ", ".join(print_scalar(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    if not expr.terms:
        return Lowered((f"{target} = " + (f"np.zeros({shape_code})" if shape else "0.0"),), "0")
    want = frozenset(l for l in frame if l is not None)
    lines, tex = [], ""
    if full:
        codes = [lower_term(t, frame, free, shapes) for t in full]
        tex = " + ".join(c.latex for c in codes).replace("+ -", "- ")
        pointwise = [t for t in full if not t.bound]
        if len(pointwise) > 1:  # the code as one elementwise expression: 2*(yhat - y), not -2*y + 2*yhat
            merged = [t for t in full if t.bound] + [Term(sp.Add(*(t.factor for t in pointwise)))]
            codes = [lower_term(t, frame, free, shapes) for t in merged]
        text = " + ".join(c.text for c in codes).replace("+ -", "- ")
        if text.startswith("(") and _balanced_outer(text):
            text = text[1:-1]
        complete = frozenset().union(*(c.labels for c in codes)) >= want
        if not want and shape:   # a 1 x 1 tensor: keep its shape
            text = f"np.reshape({text}, {shape_code})"
        elif not complete or blocks:
            text = f"np.broadcast_to({text}, {shape_code}).astype(float)" if shape else text
        lines.append(f"{target} = {text}")
        if not blocks:
            return Lowered(tuple(lines), tex, parts=tuple(codes) if complete and shape else ())
    placed = [_block(t, frame, free, shapes, shape) for t in blocks]
    tiles = _tiling(placed, shape)
    if not full and tiles is not None:
        axis, ordered = tiles
        parts = ", ".join(code for _, (code, _) in ordered)
        joiner = r" \\ " if axis == 0 else " & "
        tex = r"\begin{bmatrix} " + joiner.join(t for _, (_, t) in ordered) + r" \end{bmatrix}"
        tiles = []
        for span, (code, _) in ordered:
            bounds = _slice(span[0], span[1] + 1, shape[axis])
            tiles.append((f"[{bounds}]" if axis == 0 else f"[:, {bounds}]", code))
        return Lowered((f"{target} = np.concatenate(({parts}), axis={axis})",), tex, tiles=tuple(tiles))
    if not full:
        lines.append(f"{target} = np.zeros({shape_code})")
    pieces = [tex] if tex else []
    for (slices, spans), (code, block_tex) in placed:
        lines.append(f"{target}[{', '.join(slices)}] += {code}")
        pieces.append(rf"\left[{block_tex}\right]_{{\text{{on }}[{','.join(slices)}]}}")
    return Lowered(tuple(lines), " + ".join(pieces))


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
    return (slices, spans), (text, code.latex)


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
