"""Validating a hand-derived gradient formula: a verdict and a diagnosis.

The formula is evaluated numerically at random points (two sets of dimension
values, all different, away from kinks) with the model's inputs, named
intermediates and dimensions in scope, and compared with symgrad's gradient.
A mismatch is diagnosed, in this order:

``transpose``  the formula's transpose matches (numerator layout);
``scale``      formula = factor x gradient, the factor named in the dimensions
               when it changes with them (``1/L``, ``n*o``), else a number;
``sign``       the factor is -1;
``block``      a block of rows or columns matches and the rest does not;
``axis``       one reduction (softmax, logsumexp, sum, mean, amax, ...) moved to the
               matrix's other axis makes the formula match (``formulas/axes.py``);
``shape``      the shape is wrong in another way;
``other``      the largest deviation and where.

``transpose`` is tested whenever the transpose has the gradient's shape (a square
parameter too). A ``scale`` factor found from sets 0 and 1 is confirmed at a third
set (``CONFIRM_SET``) before it is named. ``wrt`` may name an intermediate: the
formula is then compared with its adjoint dLoss/dNAME, computed by symgrad's own
lowering of the collapsed adjoint, which is also the ``correct`` NumPy form.
"""
from __future__ import annotations

import functools
import itertools
import re
import json
import time
import types
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.files import render_module
from symgrad.errors import LoweringError, SymgradError, counted
from symgrad.formulas.axes import axis_moves
from symgrad.formulas.evaluate import IndexEvaluator, walk, evaluate_matrix
from symgrad.formulas.latex_syntax import LatexIndex, parse_latex
from symgrad.formulas.limits import MAX_LAYERS
from symgrad.formulas.python_syntax import parse_python
from symgrad.formulas.tree import Binary, Call, Name, Num, Subscript, Sum
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.emit.layer_plan import plan_for
from symgrad.model.layers import layout_of
from symgrad.lower.vectorize import lower_both

POINTS = 3
RTOL, ATOL = 1e-7, 1e-10
CONFIRM_SET = 2          # the dimension set that confirms a scale factor named from sets 0 and 1
FALLBACK_MARGIN = 1e-6   # a deep stack's point may lie this close to a kink (no finite differences here)


@dataclass(frozen=True)
class Verdict:
    match: bool
    kind: str
    factor: str | None
    detail: str
    max_abs_error: float
    correct: str            # symgrad's gradient in the syntax the formula was given in
    seconds: float
    index_form: str = ""    # the same gradient as the collapsed index formula

    def as_json(self) -> str:
        data = asdict(self)
        return json.dumps({k: data[k] for k in ("match", "kind", "factor", "detail", "max_abs_error",
                                                 "correct", "index_form")})


def _module(model, derivation):
    module = types.ModuleType(f"symgrad_check_{model.name}")
    exec(compile(render_module(plan_for(derivation, f"symgrad check {model.name}")),  # noqa: S102
                 f"<generated {model.name}>", "exec"), module.__dict__)
    return module


@dataclass(frozen=True)
class Target:
    """What a formula is the gradient of the loss with respect to."""

    name: str
    layer: int | None = None        # the layer of a list parameter (``W[1]``)
    intermediate: bool = False      # a named intermediate: the adjoint dLoss/dNAME


def _target(model, wrt: str, derivation) -> Target:
    """The target of ``--wrt``: a parameter (``A1``), a layer of a list parameter (``W[1]``) or a
    named intermediate (``Delta``, whose adjoint dLoss/dDelta is what a derivation starts from)."""
    if "[" in wrt:
        name, _, rest = wrt.partition("[")
        if name not in model.lists or not rest.rstrip().endswith("]"):
            raise SymgradError(f"--wrt {wrt!r}: {name!r} is not a list parameter of {model.name!r}")
        try:
            return Target(name, int(rest.rstrip()[:-1]))
        except ValueError:
            raise SymgradError(f"--wrt {wrt!r}: the layer must be a number, e.g. W[1]") from None
    if wrt in model.lists:
        raise SymgradError(f"--wrt {wrt!r} is a list: pick a layer, e.g. --wrt '{wrt}[0]'")
    if wrt in model.parameter_names:
        return Target(wrt)
    parameters = ", ".join(model.parameter_names)
    if wrt in derivation.layer_tensor_names:
        raise SymgradError(f"--wrt {wrt!r} is not a parameter of {model.name!r}: a layer's named "
                           f"intermediates cannot be checked yet, only its parameters: {parameters} "
                           f"(e.g. --wrt '{model.parameter_names[0]}[0]')")
    intermediates = derivation.intermediates
    if wrt == model.loss_name:
        raise SymgradError(f"--wrt {wrt!r} is the loss itself; give a parameter ({parameters}) or a named "
                           f"intermediate ({', '.join(intermediates)})")
    if wrt in intermediates:
        return Target(wrt, intermediate=True)
    if wrt in model.definitions:
        raise SymgradError(f"--wrt {wrt!r}: the loss of {model.name!r} does not depend on {wrt!r} through "
                           "any parameter, so it has no adjoint to check")
    if not intermediates:
        raise SymgradError(f"--wrt {wrt!r} is not a parameter of {model.name!r}; parameters: {parameters}")
    raise SymgradError(f"--wrt {wrt!r} is not a parameter of {model.name!r} nor a named intermediate; "
                       f"parameters: {parameters}; intermediates: {', '.join(intermediates)}")


def _scope(model, module, inputs, dims, layer, depth):
    """Every name a formula may use at this point: inputs, intermediates, dimensions."""
    env = {k: v for k, v in inputs.items() if not isinstance(v, list)}
    env.update(dims)
    env.update(layout_of(model).layer_values(module.forward(**inputs), layer, depth))
    return env


def _depth(model, target: Target, wrt: str, depth):
    """The number of layers: ``--depth`` checked, or the least that has the target's layer."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise SymgradError(f"--depth {depth}: the number of layers must be a whole number, 1 or more")
    if not layout_of(model).layers(1):     # a model without layers has none to count
        if depth is not None:
            raise SymgradError(f"--depth {depth}: model {model.name!r} has no layers (--depth is for "
                               "models with list parameters, such as ntk_relu)")
        return None
    if depth is not None and depth > MAX_LAYERS:
        raise SymgradError(f"--depth {depth}: at most {MAX_LAYERS} layers can be checked (the limit; "
                           "every layer gets a width of its own)")
    depth = depth or (target.layer + 1 if target.layer is not None else 2)
    if target.layer is None or not 0 <= target.layer < depth:
        raise SymgradError(f"--wrt {wrt!r}: the layer must be 0..{depth - 1} with --depth {depth}")
    return depth


@dataclass(frozen=True)
class Forms:
    """symgrad's gradient as the index formula, NumPy code and its LaTeX matrix view."""

    index: str
    numpy: str | None
    latex: str | None

    def in_syntax(self, syntax: str) -> str:
        chosen = {"numpy": self.numpy, "latex": self.latex}.get(syntax)
        return chosen or self.index


def _forms(model, derivation, target: Target, depth) -> Forms:
    name, layer = target.name, target.layer
    part = derivation.layer(layer, depth)
    sub, head = part.model, f"dLoss/d{name}" if layer is None else f"d/d{name}[{layer}]"
    expanded = part.expanded(name)
    expr = reuse_forward_values(expanded, sub, cheaper=False)
    index = part.collapsed_text(name, head, expanded)
    shapes = {n: t.shape for n, t in sub.tensors.items()}
    try:
        lowered = lower_both(GRADIENT, expr, sub.tensors[name].shape, shapes, part.space.ranges_of(expr.indices))
    except LoweringError:
        return Forms(index, None, None)
    lines = list(lowered.lines)
    prefix = f"{GRADIENT} = "
    code = lines[0][len(prefix):] if len(lines) == 1 and lines[0].startswith(prefix) else "; ".join(lines)
    return Forms(index, code, lowered.latex or None)


GRADIENT = "gradient"   # the name the lowering assigns; code of several statements keeps it


def _adjoint_value(forms: Forms, env: dict):
    """The value of dLoss/dNAME at one point: symgrad's own NumPy code for it, run on the point."""
    if forms.numpy is None:
        raise SymgradError("this adjoint has no NumPy form symgrad can write, so it cannot be checked")
    scope = {"np": np, **env}
    exec(compile(forms.numpy if ";" in forms.numpy else f"{GRADIENT} = {forms.numpy}",  # noqa: S102
                 "<symgrad adjoint>", "exec"), scope)   # symgrad's own generated code, never user text
    return np.asarray(scope[GRADIENT], dtype=float)


def check_formula(model, wrt: str, formula: str, syntax: str = "numpy", indices: str | None = None,
                  depth: int | None = None, symbols: dict[str, str] | None = None, seed: int = 0) -> Verdict:
    """Compare a hand-derived gradient formula with symgrad's; see the module docstring.

    ``wrt`` is a parameter (``A1``), a layer of a list parameter (``W[1]``, with ``depth``) or a
    named intermediate (``Delta``: the formula is then the adjoint dLoss/dDelta).
    """
    start = time.perf_counter()
    derivation = derive(model)
    target = _target(model, wrt, derivation)
    depth = _depth(model, target, wrt, depth)
    name, layer = target.name, target.layer
    names = _names(model, layer, depth)
    tree = _parse(formula, syntax, names, set(symbols or {}))
    extra = {k: _parse(v, "numpy") for k, v in (symbols or {}).items()}
    free = _free_indices(indices, syntax)
    module = _module(model, derivation)
    forms = _forms(model, derivation, target, depth)
    rng = np.random.default_rng(seed)

    envs = []   # each point's scope, in the order of ``pairs``, for trying the formula moved (``axes.py``)

    def value_at(tree, env, shape):
        got = np.asarray(_evaluate(tree, syntax, env, free, shape), dtype=float)
        if got.size == int(np.prod(shape)) and (got.size == 1 or (got.ndim == 1 and 1 in shape)):
            got = got.reshape(shape)   # a scalar as a 1 x 1 product; a vector as 1-D
        return got

    def points(which):
        found = []
        dims = dimension_values(model, which)
        for _ in range(POINTS):
            inputs = sample_inputs(model, module, dims, rng, depth or 1, fallback=FALLBACK_MARGIN)
            env = _scope(model, module, inputs, dims, layer, depth)
            if target.intermediate:
                expected = _adjoint_value(forms, env)
            else:
                _, grads = module.loss_and_grad(**inputs)
                expected = np.asarray(grads[name][layer] if layer is not None else grads[name], dtype=float)
            for symbol, node in extra.items():
                env[symbol] = evaluate_matrix(node, env)
            envs.append(env)
            found.append((which, dims, value_at(tree, env, expected.shape), expected))
        return found

    pairs = points(0) + points(1)
    kind, factor, detail, error = diagnose(pairs, model, lambda: points(CONFIRM_SET))
    if kind in ("other", "shape"):
        moved = _moved_axis(tree, pairs, envs[:len(pairs)], value_at)
        if moved is not None:
            kind, detail = "axis", moved
    if kind == "other":
        detail += _access_difference(tree, free, forms.index)
    return Verdict(kind == "match", kind, factor, detail, error, forms.in_syntax(syntax),
                   time.perf_counter() - start, forms.index)


def _moved_axis(tree, pairs, envs, value_at) -> str | None:
    """The one reduction whose other axis makes the formula match at every point, named; else None."""
    if isinstance(tree, LatexIndex):
        return None     # LaTeX writes no axes
    for move in axis_moves(tree):
        try:
            if all(_close(value_at(move.tree, env, e.shape), e) for env, (_, _, _, e) in zip(envs, pairs)):
                return (f"{move.call} runs along the wrong axis: with axis={move.new} the formula "
                        "matches symgrad's gradient")
        except SymgradError:
            continue    # that call's argument is no matrix: it has no other axis
    return None


def _access_difference(tree, free, correct: str) -> str:
    """For index notation: entries the formula reads that the correct formula does not, and back."""
    if isinstance(tree, LatexIndex):
        free, tree = free or tree.free, tree.tree
    nodes = list(walk(tree))
    if not free or not any(isinstance(n, Sum) for n in nodes) \
            or any(isinstance(n, Call) and n.function == "delta" for n in nodes):
        return ""   # a chain still full of deltas reads other entries by design
    rename = dict(zip(free, "ij"))
    bound = {n.index for n in walk(tree) if isinstance(n, Sum)}
    ours = set()
    for node in walk(tree):
        if isinstance(node, Subscript) and isinstance(node.target, Name):
            items = [_item_text(i, rename, bound) for i in node.items]
            ours.add(f"{node.target.name}[{', '.join(items)}]")
    rhs = correct.split(" = ", 1)[1]
    theirs = {re.sub(r"\[(.*)\]", lambda m: "[" + re.sub(r"\b[c-hk-z]\b", "*", m.group(1)) + "]", a)
              for a in re.findall(r"[A-Za-z_][A-Za-z0-9_]*\[[^\]]*\]", rhs)}
    theirs = {re.sub(r"\[0, ([^\]]*)\]", r"[\1]", a) for a in theirs}
    ours = {re.sub(r"\[0, ([^\]]*)\]", r"[\1]", a) for a in ours}
    extra, missing = sorted(ours - theirs), sorted(theirs - ours)
    if not extra and not missing:
        return ""
    text = (f"; the formula reads {', '.join(extra) or 'nothing else'} where symgrad's gradient reads "
            f"{', '.join(missing) or 'nothing else'} (* = a summed index)")
    same_tensors = {a.split("[")[0] for a in extra} == {a.split("[")[0] for a in missing}
    return text + (": an index offset, or a mask taken from the wrong block, is the likely cause"
                   if same_tensors else "")


def _item_text(item, rename, bound) -> str:
    if isinstance(item, Name):
        return "*" if item.name in bound else rename.get(item.name, item.name)
    if isinstance(item, Num):
        return str(int(item.value))
    if isinstance(item, Binary):
        if item.op == "-" and isinstance(item.left, Num) and isinstance(item.right, Num):
            return str(int(item.left.value - item.right.value))
        left, right = _item_text(item.left, rename, bound), _item_text(item.right, rename, bound)
        if item.op == "+" and right in rename.values():
            left, right = right, left
        return f"{right} + {left}" if item.op == "+" and left in rename.values() else f"{left} {item.op} {right}"
    return "?"


def _names(model, layer, depth) -> set[str]:
    """Every name a formula may use (for the LaTeX name convention)."""
    part = layout_of(model).layer_model(layer, depth)
    return set(part.tensors) | set(part.dimensions) | set(model.tensors) | set(model.dimensions)


def _parse(text: str, syntax: str, names: set[str] = frozenset(), symbols: set[str] = frozenset()):
    if syntax == "numpy":
        return parse_python(text, numpy_forms=True)
    if syntax == "index":
        return parse_python(text, index_style=True)
    if syntax == "latex":
        return parse_latex(text, set(names), set(symbols))
    raise SymgradError(f"--syntax {syntax!r}: use numpy, index or latex")


def _free_indices(indices: str | None, syntax: str) -> tuple[str, ...] | None:
    if indices is None:
        return None
    names = tuple(i.strip() for i in indices.split(",") if i.strip())
    if not all(n.isidentifier() for n in names):
        raise SymgradError(f"--indices {indices!r}: give index names separated by commas, e.g. i,j")
    return names


def _evaluate(tree, syntax, env, free, shape):
    index_style = syntax == "index" or isinstance(tree, LatexIndex)
    if not index_style:
        return np.asarray(evaluate_matrix(tree, env), dtype=float)
    if isinstance(tree, LatexIndex):
        free = free or (tree.free if shape != () else ())   # (d Loss / d d)_u: an index on a scalar
        tree = tree.tree
    if free is None:
        raise SymgradError("index notation needs the free indices: --indices i,j")
    axes = [a for a, n in enumerate(shape) if n != 1] if len(free) < len(shape) else list(range(len(shape)))
    if len(free) != len(axes):
        raise SymgradError(f"--indices: {counted(len(free), 'index')} for a gradient of shape {shape}")
    ranges = {f: shape[a] for f, a in zip(free, axes)}
    result = IndexEvaluator(env, ranges, one_based=syntax == "latex").run(tree, free)
    return result.reshape(shape)


# diagnosis -------------------------------------------------------------------

def _close(a, b) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL * max(1.0, np.abs(b).max()))


TRANSPOSED = ("the formula's transpose matches symgrad's gradient: it is written in numerator layout "
              "(d loss / d X as the shape of X transposed)")


def diagnose(pairs, model, confirm=None):
    """(kind, factor, detail, max_abs_error) for [(dimension set, dims, got, expected), ...];
    ``confirm()`` gives the same for a third dimension set, asked for only to confirm a factor."""
    same_shape = all(g.shape == e.shape for _, _, g, e in pairs)
    transposed = all(g.ndim == 2 and g.T.shape == e.shape for _, _, g, e in pairs) \
        and all(_close(g.T, e) for _, _, g, e in pairs)
    if not same_shape:
        if transposed:
            return ("transpose", None, TRANSPOSED, 0.0)
        _, _, g, e = pairs[0]
        hint = " (the transposed shape, as in numerator layout, but the values differ even transposed)" \
            if g.shape == e.T.shape else ""
        return ("shape", None, f"wrong shape: expected {e.shape}, got {g.shape}{hint}", float("nan"))
    error = max(float(np.max(np.abs(g - e), initial=0.0)) for _, _, g, e in pairs)
    if all(_close(g, e) for _, _, g, e in pairs):
        return ("match", None, "matches symgrad's gradient at every point", error)
    if transposed:   # a square parameter: the shape is right, the layout is not
        return ("transpose", None, TRANSPOSED, error)
    if all(not np.any(g) for _, _, g, _ in pairs):
        return ("other", None, "the formula is identically 0", error)
    factor = _factor(pairs, model, confirm)
    if factor is not None:
        if factor == "-1":
            return ("sign", "-1", "the formula is the negative of the gradient", error)
        return ("scale", factor, f"the formula is {factor} times the gradient", error)
    block = _block(pairs, model)
    if block is not None:
        return ("block", None, block, error)
    _, _, g, e = max(pairs, key=lambda p: float(np.max(np.abs(p[2] - p[3]), initial=0.0)))
    where = np.unravel_index(int(np.argmax(np.abs(g - e))), g.shape)
    return ("other", None, f"largest deviation {float(np.abs(g - e)[where]):.3g} at entry "
            f"{tuple(int(w) for w in where)} (got {float(g[where]):.6g}, expected {float(e[where]):.6g})", error)


def _ratios(pairs):
    """{dimension set: (c, dims)} with got = c * expected at every point of each set, else None."""
    per_set = {}
    for which, dims, g, e in pairs:
        denominator = float(np.vdot(e, e)) if g.shape == e.shape else 0.0
        if denominator == 0:
            return None
        c = float(np.vdot(g, e)) / denominator
        if c == 0 or not _close(g, c * e):
            return None
        per_set.setdefault(which, []).append((c, dims))
    values = {}
    for which, items in per_set.items():
        cs = [c for c, _ in items]
        if not np.allclose(cs, cs[0], rtol=1e-7):
            return None
        values[which] = (cs[0], items[0][1])
    return values


EXPONENTS = tuple(Fraction(k, 2) for k in (-6, -4, -3, -2, -1, 1, 2, 3, 4, 6))   # +-1/2 .. +-3
MAX_FACTORS = 3   # dimensions in a named factor: sqrt(dk), 1/L, M*N, n*o/h, N**(3/2)


@functools.lru_cache(maxsize=None)
def _monomials(count: int):
    """Every exponent vector over ``count`` dimensions with 1..MAX_FACTORS of them nonzero."""
    vectors = []
    for k in range(1, min(count, MAX_FACTORS) + 1):
        for chosen in itertools.combinations(range(count), k):
            for powers in itertools.product(EXPONENTS, repeat=k):
                vector = [Fraction(0)] * count
                for axis, power in zip(chosen, powers):
                    vector[axis] = power
                vectors.append(tuple(vector))
    return vectors, np.array([[float(p) for p in v] for v in vectors]).reshape(len(vectors), count)


def _factor(pairs, model, confirm=None) -> str | None:
    """The factor c with got = c * expected, named: a number, or a rational times a monomial in
    the dimensions (exponents multiples of 1/2) that gives c at every dimension set. A candidate
    found from sets 0 and 1 is only named if it also holds at the confirming set (and is the one
    candidate that does); otherwise nothing is named."""
    values = _ratios(pairs)
    if values is None or set(values) != {0, 1}:
        return None
    if confirm is not None:
        more = _ratios(confirm())
        if more is None:
            return None
        values.update(more)
    sets = sorted(values)
    cs = np.array([values[k][0] for k in sets])
    if np.any(np.sign(cs) != np.sign(cs[0])):
        return None
    if np.allclose(cs, cs[0], rtol=1e-9):
        return _nice(cs[0])
    symbols = list(model.dimensions)
    logs = np.log(np.array([[float(values[k][1][s]) for s in symbols] for k in sets]))   # sets x dims
    vectors, matrix = _monomials(len(symbols))
    predicted = matrix @ (logs[1:] - logs[0]).T                                         # candidates x sets
    observed = np.log(np.abs(cs[1:] / cs[0]))
    found = set()
    for k in np.flatnonzero(np.all(np.abs(predicted - observed) < 1e-7, axis=1)):
        q0 = cs[0] / float(np.exp(matrix[k] @ logs[0]))
        q = Fraction(q0).limit_denominator(64)
        if abs(float(q) - q0) > 1e-9 * max(1.0, abs(q0)):
            continue
        found.add(str(sp.Rational(q.numerator, q.denominator) * sp.Mul(*(
            model.dimensions[s] ** sp.Rational(p.numerator, p.denominator)
            for s, p in zip(symbols, vectors[k])))))
    return found.pop() if len(found) == 1 else None


def _nice(value: float) -> str:
    q = Fraction(value).limit_denominator(64)
    return str(q) if abs(float(q) - value) <= 1e-9 * max(1.0, abs(value)) else f"{value:.6g}"


def _block(pairs, model):
    """A row or column range that matches while the rest does not, with its bounds named."""
    for axis, word in ((0, "rows"), (1, "columns")):
        spans = []
        for which in sorted({p[0] for p in pairs}):
            points = [p for p in pairs if p[0] == which]
            if any(g.ndim != 2 for _, _, g, _ in points):
                return None
            good, silent = None, None
            for _, dims, g, e in points:   # a row that is zero in both tells nothing at that point
                scale = ATOL * max(1.0, np.abs(e).max())
                close = np.isclose(g, e, rtol=RTOL, atol=scale)
                quiet = np.all((np.abs(e) <= scale) & close, axis=1 - axis)
                ok = np.all(close, axis=1 - axis) | quiet
                good = ok if good is None else good & ok
                silent = quiet if silent is None else silent & quiet
            good = _fill(good, silent)
            if good.all() or not good.any():
                spans = None
                break
            spans.append((dims, good))
        if not spans:
            continue
        described = [_runs(good) for _, good in spans]
        if all(len(d) <= 2 for d in described):
            dims, good = spans[0]
            first = _runs(good)
            text = ", ".join(f"{word} {_name(lo, spans, k, 'lo', model)}..{_name(hi, spans, k, 'hi', model)} "
                             f"{'match' if ok else 'do not match'}" for k, (lo, hi, ok) in enumerate(first))
            return (f"only a block differs: {text} — likely a mask or an index offset taken from the "
                    "wrong block")
    return None


def _fill(good, silent):
    """Rows that are zero in both take the verdict of the rows around them."""
    known = [k for k in range(len(good)) if not silent[k]]
    if not known:
        return good
    filled = good.copy()
    for k in range(len(good)):
        if silent[k]:
            before = [j for j in known if j < k]
            filled[k] = good[before[-1]] if before else good[known[0]]
    return filled


def _runs(good):
    runs, start = [], 0
    for k in range(1, len(good) + 1):
        if k == len(good) or good[k] != good[start]:
            runs.append((start, k - 1, bool(good[start])))
            start = k
    return runs


def _name(value, spans, run, end, model) -> str:
    """A bound of a run named in the dimensions when it moves with them (``M``, ``2*M - 1``)."""
    observed = []
    for dims, good in spans:
        runs = _runs(good)
        if run >= len(runs):
            return str(value)
        observed.append((dims, runs[run][0] if end == "lo" else runs[run][1]))
    if len({v for _, v in observed}) == 1:
        return str(value)
    for name, symbol in model.dimensions.items():
        for a, b in itertools.product((1, 2), (-1, 0)):
            if all(a * dims[name] + b == v for dims, v in observed):
                return str(a * symbol + b)
    return str(value)
