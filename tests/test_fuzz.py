"""Differential fuzzing (issue 6): random models, symgrad against HIPS autograd and finite differences.

A *recipe* is a small graph of ``Node``s with symbolic shapes. From one recipe,
``symgrad_source`` writes the model-building code (the DSL, exactly as a user
would) and ``reference_source`` an independent NumPy function of the same
loss, run under ``autograd.numpy``. Both are plain Python text, so a failing
recipe prints as a standalone reproduction. ``check_recipe`` derives the
model, renders and imports the generated module, draws inputs with
``symgrad.check.sample_inputs`` (away from kinks) and compares the loss and
every gradient with autograd (tight) and central finite differences (loose); every other model,
with layers or without, also has its ``--hvp`` module checked (``check_second_order``:
Hessian-vector products against autograd's of the reference and differences of the gradient,
``hessian()`` against them), and every 20th its torch and JAX ``--hvp`` modules
(``check_framework_second_order``: their ``hvp()`` against the NumPy module's and against
``torch.func.jvp(torch.func.grad)`` / ``jax.jvp(jax.grad)`` of the module's plain forward).

Recipes come from a ``Draw`` (a source of small integers): Hypothesis in this
test, ``random.Random`` in ``scripts/fuzz_long.py``. Options are listed
simplest first, so Hypothesis shrinks a failure toward a small model.

Operations: ``@``, ``+ - * /`` broadcasting size-1 axes and scalars (numbers,
dimension scalars such as ``1/N``, scalar tensors), unary minus, ``.T``,
``.sum()``, ``.sum(axis=0|1)``, ``sum_squares``, ``concat_rows``,
``concat_cols``, ``ones(r, c)``, ``**`` with small integers (negative and 1/2
only of positive bases), ``logsumexp(x, axis)``, relu, crelu (clip level a
number, a scalar constant or a scalar parameter), sigmoid, tanh, exp (of
bounded arguments), log (of positive arguments, including the ``log(sigmoid)``
and ``log(1 - sigmoid)`` rewrites), softplus, sqrt (of positive arguments), abs, ``maximum`` and
``minimum`` (of two tensors, broadcasting, or a tensor and a number), ``mean`` (of all entries
or along an axis), ``softmax`` and ``log_softmax`` along either axis, named intermediates shared by
several consumers, scalar parameters, shapes from 2-4 dimension symbols, and
``stack_layers`` models (depths 1-3, both orientations, optional bias,
anchor and regulariser lists).
"""
from __future__ import annotations

import importlib.util
import linecache
import os
import random
import re
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from .conftest import require

# ---------------------------------------------------------------------------
# sizes and shapes
#
# A size is a sorted tuple of tokens: ("N",) is N, ("1",) is 1, ("M", "N") is
# M + N (a concatenation's size). A shape is () for a scalar or (rows, cols).

ONE = ("1",)
PARENT_DIMS = ("N", "M", "L", "K")


def size_of(*tokens) -> tuple:
    return tuple(sorted(tokens))


def size_text(size: tuple) -> str:
    return " + ".join(size) if len(size) > 1 else size[0]


def shape_text(shape: tuple) -> str:
    if not shape:
        return "()"
    return "(" + ", ".join(size_text(s) for s in shape) + ")"


def transposed(shape: tuple) -> tuple:
    return (shape[1], shape[0])


# ---------------------------------------------------------------------------
# recipes


@dataclass(eq=False)
class Node:
    """One operation of OPS; ``attr`` is its datum: an input's or intermediate's name ("input",
    "define"), a number or dimension scalar as text ("lit"), an axis ("sum", "mean": None, 0 or 1;
    "logsumexp", "softmax", "log_softmax"), an exponent as text ("pow"). Shapes are symbolic (see ``size_of``)."""

    op: str
    args: tuple = ()
    attr: object = None
    shape: tuple = ()


@dataclass
class Input:
    name: str
    role: str            # "parameter" or "constant"
    shape: tuple
    kind: str = "normal"  # "normal", "positive" (uniform 0.5..2), "signed" (a scalar drawn N(0, 1)) or "identity"


@dataclass
class Layer:
    """One layer of a stack: its leaves and its body (hidden: carried output + loss term; output: loss)."""

    kind: str                     # "hidden" or "output"
    dims: tuple                   # the layer's own dimensions, e.g. ("k_in", "k_out")
    carry_shape: tuple
    elements: dict                # list name -> shape in this layer
    shared: list = field(default_factory=list)   # parent constants used here, in order
    out: Node | None = None       # hidden: the carried output; output: the loss
    loss_term: Node | None = None


@dataclass
class Stack:
    orientation: str              # "cols": X_l = f(W_l @ X_{l-1}); "rows": a_l = f(a_{l-1} @ W_l.T)
    lists: dict                   # name -> role
    hidden: Layer
    output: Layer


@dataclass
class Recipe:
    dims: tuple                   # parent dimension names, declaration order
    inputs: dict                  # name -> Input (the parent's; a stack's carry and shared constants)
    loss: Node | None = None      # plain models
    stack: Stack | None = None
    which: int = 0                # dimension set of symgrad.check.dimension_values
    depth: int = 1                # number of layers, for a stack
    seed: int = 0                 # for sample_inputs
    expect_error: str | None = None   # a model symgrad may refuse, with a SymgradError saying this

    def __repr__(self):
        return f"<Recipe which={self.which} depth={self.depth} seed={self.seed}>\n{symgrad_source(self)}"

    def nodes(self):
        roots = [self.loss] if self.stack is None else [
            self.stack.hidden.out, self.stack.hidden.loss_term, self.stack.output.out]
        seen, order = set(), []

        def visit(node):
            if node is None or id(node) in seen:
                return
            seen.add(id(node))
            for a in node.args:
                visit(a)
            order.append(node)
        for root in roots:
            visit(root)
        return order

    def op_counts(self) -> Counter:
        """Operations (and a few variants, such as broadcasting modes) used by this recipe."""
        counts = Counter()
        for node in self.nodes():
            counts[OP_LABELS.get(node.op, node.op)] += 1
            if node.op in BINOPS:
                a, b = (arg.shape for arg in node.args)
                if a != b:
                    counts["broadcast " + _broadcast_kind(a, b)] += 1
            if node.op in ("sum", "mean", "softmax", "log_softmax", "amax", "amin"):
                counts[f"{node.op}(axis={node.attr})"] += 1
            if node.op in PAIRS:
                counts[f"{node.op} with " + ("a number" if node.args[1].op == "lit" else "a tensor")] += 1
            if node.op == "crelu":
                counts["crelu level " + ("number" if node.args[1].op == "lit" else
                                         _role(self, node.args[1]))] += 1
            if node.op == "pow":
                counts[f"** {node.attr}"] += 1
            if node.op == "input" and not node.shape:
                counts["scalar " + _role(self, node)] += 1
        if self.stack is not None:
            counts[f"stack depth {self.depth} ({self.stack.orientation})"] += 1
        counts[f"{len(self.dims)} dimensions"] += 1
        return counts


def _same(x: Node, y: Node) -> bool:
    """The same tensor: one node, or the same input."""
    return x is y or (x.op == y.op == "input" and x.attr == y.attr)


def walk(node: Node):
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            yield n
            stack += list(n.args)


def _role(recipe: Recipe, node: Node) -> str:
    if node.op != "input":
        return "expression"
    spec = recipe.inputs.get(node.attr)
    return spec.role if spec is not None else "layer input"


def _broadcast_kind(a, b) -> str:
    if not a or not b:
        return "scalar"
    if ONE in a and ONE in b and a != (ONE, ONE) and b != (ONE, ONE):
        return "outer (r,1)x(1,c)"
    if a == (ONE, ONE) or b == (ONE, ONE):
        return "(1,1)"
    return "size-1 axis"


BINOPS = ("+", "-", "*", "/")
OPS = ("input", "lit", "ones", "define", *BINOPS, "neg", "matmul", "T", "pow", "sum", "sum_squares",
       "concat_rows", "concat_cols", "logsumexp", "relu", "crelu", "sigmoid", "tanh", "exp", "log", "softplus",
       "sqrt", "abs", "maximum", "minimum", "mean", "softmax", "log_softmax", "amax", "amin", "trace", "diagonal",
       "inv", "det", "logdet")
PAIRS = ("maximum", "minimum")
OP_LABELS = {"+": "+", "-": "-", "*": "*", "/": "/", "matmul": "@", "T": ".T", "neg": "unary -"}

# ---------------------------------------------------------------------------
# the two sources written from a recipe
#
# Each node is printed twice: as DSL (symgrad) and as autograd.numpy (reference).
# Named intermediates ("define") and inputs are printed once and then used by name.


def _expr(node: Node, names: dict, lines: list, dialect: str, layer: str | None = None) -> str:
    """The text of ``node`` in ``dialect`` ("dsl" or "np"); defines append a line to ``lines``."""
    if id(node) in names:
        return names[id(node)]
    args = [_expr(a, names, lines, dialect, layer) for a in node.args]
    op, attr = node.op, node.attr
    if op == "input":
        text = attr
    elif op == "lit":
        text = f"({attr})" if str(attr).startswith("-") else str(attr)
    elif op == "define":
        target = f"{layer}.define" if layer else "m.define"
        lines.append(f'{attr} = {target}("{attr}", {args[0]})' if dialect == "dsl" else f"{attr} = {args[0]}")
        text = attr
    elif op in BINOPS:
        text = f"({args[0]} {op} {args[1]})"
    elif op == "neg":
        text = f"(-{args[0]})"
    elif op == "matmul":
        text = f"({args[0]} @ {args[1]})"
    elif op == "T":
        text = f"{args[0]}.T"
    elif op == "pow":
        text = f"({args[0]} ** {attr})"
    elif op == "ones":
        r, c = (size_text(s) for s in node.shape)
        text = f"ones({r}, {c})" if dialect == "dsl" else f"np.ones(({r}, {c}))"
    elif op == "sum":
        if dialect == "dsl":
            text = f"{args[0]}.sum()" if attr is None else f"{args[0]}.sum(axis={attr})"
        else:
            text = f"np.sum({args[0]})" if attr is None else f"np.sum({args[0]}, axis={attr}, keepdims=True)"
    elif op in ("concat_rows", "concat_cols"):
        if dialect == "dsl":
            text = f"{op}({', '.join(args)})"
        else:
            text = f"np.concatenate([{', '.join(args)}], axis={0 if op == 'concat_rows' else 1})"
    elif op in ("sum_squares", "relu", "sigmoid", "tanh", "exp", "log", "softplus", "sqrt", "abs"):
        text = f"{op}({args[0]})"
    elif op in PAIRS:
        text = f"{op}({args[0]}, {args[1]})"
    elif op == "mean":
        text = f"mean({args[0]})" if attr is None else f"mean({args[0]}, axis={attr})"
    elif op in ("softmax", "log_softmax", "amax", "amin"):
        text = f"{op}({args[0]}, axis={attr})"
    elif op in ("trace", "diagonal", "inv", "det", "logdet"):
        text = f"{op}({args[0]})"
    elif op == "crelu":
        text = f"crelu({args[0]}, {args[1]})"
    elif op == "logsumexp":
        text = f"logsumexp({args[0]}, axis={attr})"
    else:
        raise AssertionError(f"unknown op {op}")
    if op in ("define", "input"):
        names[id(node)] = text
    return text


def _declare(spec: Input, target: str = "m") -> list[str]:
    shape = "" if not spec.shape else f", ({', '.join(size_text(s) for s in spec.shape)})"
    lines = [f'{spec.name} = {target}.{spec.role}("{spec.name}"{shape})']
    if spec.kind == "positive":
        lines.append(f'{target}.sample_with("{spec.name}", positive)')
    elif spec.kind == "signed":
        lines.append(f'{target}.sample_with("{spec.name}", signed)')
    elif spec.kind == "identity":
        lines.append(f'{target}.sample_with("{spec.name}", identity)')
    return lines


SYMGRAD_PREAMBLE = """\
import numpy as np
from symgrad import (Model, abs, amax, amin, concat_cols, concat_rows, crelu, diagonal, exp, log, log_softmax,
                     logsumexp, maximum, mean, minimum, ones, relu, sigmoid, softmax, softplus, sqrt, stack_layers, sum_squares,
                     tanh, trace, inv, det, logdet)

positive = lambda rng, shape: rng.uniform(0.5, 2.0, shape) if shape else float(rng.uniform(0.5, 2.0))
signed = lambda rng, shape: float(rng.standard_normal())
identity = lambda rng, shape: np.eye(shape[0])
"""

REFERENCE_PREAMBLE = """\
import autograd.numpy as np

relu = lambda x: np.maximum(x, 0.0)
crelu = lambda x, t: np.minimum(np.maximum(x, 0.0), t)
sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))
tanh = np.tanh
exp = np.exp
log = np.log
softplus = lambda x: np.logaddexp(0.0, x)
sum_squares = lambda x: np.sum(x ** 2)


def logsumexp(x, axis):
    shift = np.max(x, axis=axis, keepdims=True)
    return shift + np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True))


sqrt, abs, maximum, minimum = np.sqrt, np.abs, np.maximum, np.minimum
mean = lambda x, axis=None: np.mean(x) if axis is None else np.mean(x, axis=axis, keepdims=True)
log_softmax = lambda x, axis: x - logsumexp(x, axis)
softmax = lambda x, axis: np.exp(log_softmax(x, axis))
amax = lambda x, axis: np.max(x, axis=axis, keepdims=True)      # autograd splits ties evenly too
amin = lambda x, axis: np.min(x, axis=axis, keepdims=True)
trace = np.trace
diagonal = lambda x: np.sum(x * np.eye(x.shape[0]), axis=1, keepdims=True)   # autograd's np.diagonal has no vjp
inv, det = np.linalg.inv, np.linalg.det
logdet = lambda x: np.linalg.slogdet(x)[1]
"""


def symgrad_source(recipe: Recipe) -> str:
    """The model, written with the DSL; ``build()`` returns it."""
    lines = ["def build():", '    m = Model("fuzz")']
    dims = " ".join(recipe.dims)
    lines.append(f'    {", ".join(recipe.dims)}, = m.dims("{dims}")')
    body: list[str] = []
    if recipe.stack is None:
        for spec in recipe.inputs.values():
            body += _declare(spec)
        names: dict = {}
        loss = _expr(recipe.loss, names, body, "dsl")
        body.append(f'm.loss("Loss", {loss})')
    else:
        stack = recipe.stack
        for spec in recipe.inputs.values():
            body += _declare(spec)
        for name, role in stack.lists.items():
            body.append(f'{name} = m.{role}_list("{name}")')
        body.append(f'stack = stack_layers(m, X, {", ".join(stack.lists)})')
        for layer in (stack.hidden, stack.output):
            body.append("")
            body.append(f"{layer.kind} = stack.{layer.kind}")
            body.append(f'{", ".join(layer.dims)}, = {layer.kind}.dims("{" ".join(layer.dims)}")')
            body.append(f'X_prev = {layer.kind}.carry_in("X_prev", {shape_text(layer.carry_shape)})')
            for name, shape in layer.elements.items():
                body.append(f"{name}_l = {layer.kind}.element({name}, {shape_text(shape)})")
            for name in layer.shared:
                body.append(f"{name}_l = {layer.kind}.use({name})")
            names = {}
            out = _expr(layer.out, names, body, "dsl", layer.kind)
            if layer.kind == "hidden":
                body.append(f'hidden.carry_out(hidden.define("X_out", {out}))')
                if layer.loss_term is not None:
                    term = _expr(layer.loss_term, names, body, "dsl", layer.kind)
                    body.append(f'hidden.loss_term("reg", {term})')
            else:
                body.append(f'output.loss("Loss", {out})')
    lines += ["    " + line if line else "" for line in body]
    lines.append("    return m")
    return "\n".join(lines) + "\n"


def reference_source(recipe: Recipe) -> str:
    """The same loss in autograd.numpy: ``reference(inputs, dims)``."""
    lines = []
    if recipe.stack is None:
        lines.append("def reference(inputs, dims):")
        body = [f'{d} = dims["{d}"]' for d in recipe.dims]
        body += [f'{name} = inputs["{name}"]' for name in recipe.inputs]
        names: dict = {}
        loss = _expr(recipe.loss, names, body, "np")
        body.append(f"return {loss}")
        lines += ["    " + b for b in body]
        return "\n".join(lines) + "\n"
    stack = recipe.stack
    rows = 0 if stack.orientation == "cols" else 1
    for layer in (stack.hidden, stack.output):
        arguments = ["X_prev"] + [f"{n}_l" for n in layer.elements] + [f"{n}_l" for n in layer.shared]
        lines.append(f"def {layer.kind}({', '.join(arguments)}, dims):")
        body = [f'{d} = dims["{d}"]' for d in recipe.dims]
        # the layer's own sizes, read from the arrays as the generated module does
        carry_dim = [s for s in layer.carry_shape if s[0] in layer.dims]
        if carry_dim:
            body.append(f"{carry_dim[0][0]} = X_prev.shape[{rows}]")
        for name, shape in layer.elements.items():
            for axis, s in enumerate(shape):
                if s[0] in layer.dims and not (carry_dim and s == carry_dim[0]):
                    body.append(f"{s[0]} = {name}_l.shape[{axis}]")
        names = {}
        out = _expr(layer.out, names, body, "np")
        if layer.kind == "hidden":
            term = "0.0" if layer.loss_term is None else _expr(layer.loss_term, names, body, "np")
            body.append(f"return {out}, {term}")
        else:
            body.append(f"return {out}")
        lines += ["    " + b for b in body]
        lines.append("")
    lists = list(stack.lists)
    lines.append("def reference(inputs, dims):")
    shared_h = ", ".join(f'inputs["{n}"]' for n in stack.hidden.shared)
    shared_o = ", ".join(f'inputs["{n}"]' for n in stack.output.shared)
    lines.append('    carry, total = inputs["X"], 0.0')
    lines.append(f'    for l in range(len(inputs["{lists[0]}"]) - 1):')
    args = ", ".join(["carry"] + [f'inputs["{n}"][l]' for n in lists] + ([shared_h] if shared_h else []))
    lines.append(f"        carry, term = hidden({args}, dims)")
    lines.append("        total = total + term")
    args = ", ".join(["carry"] + [f'inputs["{n}"][-1]' for n in lists] + ([shared_o] if shared_o else []))
    lines.append(f"    return output({args}, dims) + total")
    return "\n".join(lines) + "\n"


_SOURCE_COUNTER = [0]


def _exec(source: str, preamble: str, name: str):
    _SOURCE_COUNTER[0] += 1
    filename = f"<fuzz {name} {_SOURCE_COUNTER[0]}>"
    text = preamble + "\n" + source
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 (our own generated text)
    return namespace


def build_symgrad(recipe: Recipe):
    """The symgrad model of the recipe (by running ``symgrad_source``)."""
    return _exec(symgrad_source(recipe), SYMGRAD_PREAMBLE, "model")["build"]()


def build_reference(recipe: Recipe):
    """``reference(inputs, dims) -> loss`` in autograd.numpy (by running ``reference_source``)."""
    return _exec(reference_source(recipe), REFERENCE_PREAMBLE, "reference")["reference"]


# ---------------------------------------------------------------------------
# drawing recipes


class Draw:
    """A source of small integers; everything else is built from ``integer``.
    Zero is the simplest answer: the first option, "no"."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options):
        options = list(options)
        return options[self.integer(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        return self.integer(0, 99) >= 100 - percent

    def weighted(self, pairs):
        """``pairs``: (weight, value); weights of 0 are skipped."""
        pairs = [(w, v) for w, v in pairs if w > 0]
        k = self.integer(0, sum(w for w, _ in pairs) - 1)
        for w, v in pairs:
            if k < w:
                return v
            k -= w
        raise AssertionError


class RandomDraw(Draw):
    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def integer(self, lo, hi):
        return self.random.randint(lo, hi)


class HypothesisDraw(Draw):
    def __init__(self, draw):
        from hypothesis import strategies as st
        self.draw, self.st = draw, st

    def integer(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))


class Scope:
    """Where leaves come from: a plain model creates inputs on demand; a layer has its own leaves
    (carried input, list elements) and uses the parent's constants."""

    def __init__(self, recipe: Recipe, sizes: tuple, layer: Layer | None = None):
        self.recipe, self.sizes, self.layer = recipe, sizes, layer
        self.pool: dict = {}            # shape -> named intermediates of that shape
        self.leaves: dict = {}          # layer leaves: name -> Node


class Generator:
    """Draws random expressions of a requested shape. ``budget`` bounds the number of operations."""

    def __init__(self, draw: Draw, recipe: Recipe, avoid=frozenset()):
        self.d, self.recipe, self.avoid = draw, recipe, frozenset(avoid)
        self.names = Counter()
        self.focus: str | None = None

    # names ----------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.names[prefix] += 1
        return f"{prefix}{self.names[prefix] - 1}"

    # sizes ----------------------------------------------------------------
    def size(self, scope: Scope) -> tuple:
        """A size for a new axis: a dimension, sometimes 1 or a sum of two (a concatenation's size)."""
        kind = self.d.weighted([(8, "dim"), (1, "one"), (3, "sum")])
        if kind == "one":
            return ONE
        if kind == "sum":
            return size_of(self.d.choice(scope.sizes), self.d.choice(scope.sizes + ("1",)))
        return (self.d.choice(scope.sizes),)

    def matrix_shape(self, scope: Scope) -> tuple:
        return (self.size(scope), self.size(scope))

    # leaves ---------------------------------------------------------------
    def new_input(self, shape, role, kind="normal") -> Node:
        recipe = self.recipe
        name = self.fresh("P" if role == "parameter" else "C")
        recipe.inputs[name] = Input(name, role, shape, kind)
        return Node("input", attr=name, shape=shape)

    def reuse_input(self, shape, role=None, kind=None):
        found = [s for s in self.recipe.inputs.values() if s.shape == shape and s.name != "X"
                 and (role is None or s.role == role) and (kind is None or s.kind == kind)]
        if not found:
            return None
        spec = self.d.choice(found)
        return Node("input", attr=spec.name, shape=shape)

    def leaf(self, shape, scope: Scope) -> Node:
        if scope.layer is not None:
            return self.layer_leaf(shape, scope)
        if not shape:
            kind = self.d.weighted([(4, "parameter"), (2, "constant"), (1, "signed")])
            role = "constant" if kind == "signed" else kind
            if self.d.chance(30):
                found = self.reuse_input((), role)
                if found is not None:
                    return found
            return self.new_input((), role, "signed" if kind == "signed" else "normal")
        kind = self.d.weighted([(5, "parameter"), (2, "constant"), (2, "reuse"), (1, "ones")])
        if kind == "reuse":
            found = self.reuse_input(shape)
            if found is not None:
                return found
            kind = "parameter"
        if kind == "ones":
            return Node("ones", shape=shape)
        return self.new_input(shape, kind)

    def shared(self, shape, scope: Scope, kind="normal") -> Node:
        """A parent constant used in a layer (created on first use)."""
        found = self.reuse_input(shape, "constant", kind)
        spec = None
        if found is not None and self.d.chance(60):
            spec = self.recipe.inputs[found.attr]
        if spec is None:
            name = self.fresh("C")
            spec = self.recipe.inputs[name] = Input(name, "constant", shape, kind)
        if spec.name not in scope.layer.shared:
            scope.layer.shared.append(spec.name)
        return Node("input", attr=f"{spec.name}_l", shape=shape)

    def parent_only(self, shape, scope: Scope) -> bool:
        return all(tok in self.recipe.dims or tok == "1" for s in shape for tok in s)

    def layer_leaf(self, shape, scope: Scope) -> Node:
        exact = [n for n in scope.leaves.values() if n.shape == shape]
        flipped = [n for n in scope.leaves.values() if shape and n.shape == transposed(shape)]
        options = [(6 if exact else 0, "exact"), (3 if flipped else 0, "flipped"),
                   (3 if self.parent_only(shape, scope) else 0, "shared"), (1, "ones")]
        kind = self.d.weighted(options)
        if kind == "exact":
            return self.d.choice(exact)
        if kind == "flipped":
            return Node("T", (self.d.choice(flipped),), shape=shape)
        if kind == "shared":
            return self.shared(shape, scope, "positive" if not shape else "normal")
        if not shape:
            return self.shared(shape, scope, "normal")
        return Node("ones", shape=shape)

    def lit(self, scope: Scope, positive=False) -> Node:
        """A number, or a dimension scalar (``N``, ``1/N``)."""
        dims = [d for d in scope.sizes if d != "1"]
        options = ["2", "0.5", "3"] + dims[:1]
        if not positive:
            options += ["-1.5", "0.3"]
        if dims and self.d.chance(20):
            return Node("lit", attr=f"1/{self.d.choice(dims)}", shape=())
        return Node("lit", attr=self.d.choice(options), shape=())

    # expressions ----------------------------------------------------------
    def named(self, node: Node, scope: Scope, percent=30) -> Node:
        """Sometimes make ``node`` a named intermediate others can share."""
        if node.op in ("input", "lit", "ones", "define") or not self.d.chance(percent):
            return node
        prefix = "V" if scope.layer is None else f"{scope.layer.kind[0].upper()}"
        named = Node("define", (node,), self.fresh(prefix), node.shape)
        scope.pool.setdefault(node.shape, []).append(named)
        return named

    def split(self, budget: int) -> tuple[int, int]:
        left = self.d.integer(0, max(budget - 1, 0))
        return left, max(budget - 1 - left, 0)

    def expr(self, shape, scope: Scope, budget: int, root: bool = False) -> Node:
        if budget <= 0 or (not root and self.d.chance(15)):
            if scope.pool.get(shape) and self.d.chance(40):
                return self.d.choice(scope.pool[shape])
            return self.leaf(shape, scope)
        node = self.scalar_op(scope, budget) if not shape else self.matrix_op(shape, scope, budget)
        return self.named(node, scope)

    def matrix_op(self, shape, scope: Scope, budget: int, force: str | None = None) -> Node:
        r, c = shape
        d = self.d
        op = force or d.weighted([
            (6, "binop"), (4, "matmul"), (2, "T"), (1, "neg"),
            (4 if r == ONE or c == ONE else 0, "sum_axis"),
            (2 if r == ONE or c == ONE else 0, "logsumexp"),
            (1 if r == ONE or c == ONE else 0, "mean_axis"),
            (1 if r == ONE or c == ONE else 0, "amax"), (1 if r == ONE or c == ONE else 0, "amin"),
            (1 if c == ONE and r != ONE else 0, "diagonal"),
            (1 if r == c and scope.layer is None else 0, "inv"),
            (6 if len(r) > 1 else 0, "concat_rows"), (6 if len(c) > 1 else 0, "concat_cols"),
            (1, "ones_matmul"), (2, "pow"), (1, "relu"), (1, "crelu"), (1, "sigmoid"), (1, "tanh"),
            (1, "softplus"), (1, "exp"), (1, "log"), (1, "sqrt"), (1, "abs"), (1, "maximum"), (1, "minimum"),
            (1, "softmax"), (1, "log_softmax"),
            (3 if scope.pool.get(shape) else 0, "reuse"),
        ])
        b1, b2 = self.split(budget)
        if op == "binop":
            return self.binop(shape, scope, budget)
        if op == "matmul":
            k = self.size(scope)
            return Node("matmul", (self.expr((r, k), scope, b1), self.expr((k, c), scope, b2)), shape=shape)
        if op == "T":
            return Node("T", (self.expr((c, r), scope, budget - 1),), shape=shape)
        if op == "neg":
            return Node("neg", (self.expr(shape, scope, budget - 1),), shape=shape)
        if op == "diagonal":
            return Node("diagonal", (self.expr((r, r), scope, budget - 1),), shape=shape)
        if op == "inv":
            return Node("inv", (self.well_conditioned(r, scope, budget),), shape=shape)
        if op in ("sum_axis", "logsumexp", "mean_axis", "amax", "amin"):
            axes = [ax for ax, s in enumerate(shape) if s == ONE]
            axis = d.choice(axes)   # with both axes of size 1 (only if (1, 1) is allowed), either
            inner = list(shape)
            inner[axis] = self.size(scope)
            arg = self.expr(tuple(inner), scope, budget - 1)
            return Node({"sum_axis": "sum", "mean_axis": "mean"}.get(op, op), (arg,), axis, shape)
        if op in ("softmax", "log_softmax"):
            return Node(op, (self.expr(shape, scope, budget - 1),), d.choice([0, 1]), shape)
        if op in PAIRS:
            return self.pair(op, shape, scope, budget)
        if op in ("concat_rows", "concat_cols"):
            axis = 0 if op == "concat_rows" else 1
            tokens = list(shape[axis])
            parts = []
            if len(tokens) > 2 and d.chance(50):
                groups = [[t] for t in tokens]   # one block per token
            else:
                cut = d.integer(1, len(tokens) - 1)
                groups = [tokens[:cut], tokens[cut:]]
            budgets = [budget // len(groups)] * len(groups)
            for group in groups:
                part = list(shape)
                part[axis] = size_of(*group)
                block = self.expr(tuple(part), scope, budgets.pop())
                parts.append(block)
            return Node(op, tuple(parts), shape=shape)
        if op == "ones_matmul":
            form = d.choice(["inner", "col", "row"])   # ones(r, k) @ x, b @ ones(1, c), ones(r, 1) @ x
            if form == "col":
                return Node("matmul", (self.expr((r, ONE), scope, budget - 1), Node("ones", shape=(ONE, c))),
                            shape=shape)
            if form == "row":
                return Node("matmul", (Node("ones", shape=(r, ONE)), self.expr((ONE, c), scope, budget - 1)),
                            shape=shape)
            k = self.size(scope)
            return Node("matmul", (Node("ones", shape=(r, k)), self.expr((k, c), scope, budget - 1)), shape=shape)
        if op == "reuse":
            return self.d.choice(scope.pool[shape])
        return self.unary(op, shape, scope, budget)

    def well_conditioned(self, n, scope: Scope, budget: int) -> Node:
        """``I + E Eᵀ``, ``E`` random of shape (n, k): symmetric with eigenvalues at least 1, so that
        inv, det and logdet are far from a singular matrix at every random point."""
        identity = self.reuse_input((n, n), "constant", "identity") or self.new_input((n, n), "constant", "identity")
        k = self.size(scope)
        factor = self.expr((n, k), scope, budget - 1)
        gram = Node("matmul", (factor, Node("T", (factor,), shape=(k, n))), shape=(n, n))
        return Node("+", (identity, gram), shape=(n, n))

    def scalar_op_forced(self, op: str, scope: Scope, budget: int) -> Node:
        n = self.size(scope)
        return Node(op, (self.expr((n, n), scope, budget - 1),), shape=())

    def scalar_op(self, scope: Scope, budget: int) -> Node:
        op = self.d.weighted([
            (5, "sum_all"), (4, "sum_squares"), (4, "binop"), (1, "neg"), (1, "pow"),
            (1, "relu"), (1, "crelu"), (1, "sigmoid"), (1, "tanh"), (1, "softplus"), (1, "exp"), (1, "log"),
            (1, "mean_all"), (1, "sqrt"), (1, "abs"), (1, "maximum"), (1, "minimum"), (1, "trace"),
            (1 if scope.layer is None else 0, "det"), (1 if scope.layer is None else 0, "logdet"),
            (2 if scope.pool.get(()) else 0, "reuse"),
        ])
        if op == "trace":
            return self.scalar_op_forced("trace", scope, budget)
        if op in ("det", "logdet"):
            return Node(op, (self.well_conditioned(self.size(scope), scope, budget),), shape=())
        if op in ("sum_all", "mean_all"):
            return Node(op[:-4], (self.expr(self.matrix_shape(scope), scope, budget - 1),), None, ())
        if op in PAIRS:
            return self.pair(op, (), scope, budget)
        if op == "sum_squares":
            inner = () if self.d.chance(5) else self.matrix_shape(scope)
            return Node("sum_squares", (self.expr(inner, scope, budget - 1),), shape=())
        if op == "binop":
            return self.binop((), scope, budget)
        if op == "neg":
            return Node("neg", (self.expr((), scope, budget - 1),), shape=())
        if op == "reuse":
            return self.d.choice(scope.pool[()])
        return self.unary(op, (), scope, budget)

    def unary(self, op, shape, scope: Scope, budget: int) -> Node:
        d = self.d
        if op == "pow":
            if d.chance(30):
                p = d.choice(["-1", "-2", "0.5"])
                return Node("pow", (self.positive(shape, scope, budget - 1),), p, shape)
            p = d.weighted([(6, "2"), (3, "3"), (1, "1")])
            return Node("pow", (self.expr(shape, scope, budget - 1),), p, shape)
        if op == "exp":
            return Node("exp", (self.bounded(shape, scope, budget - 1),), shape=shape)
        if op == "log":
            return Node("log", (self.positive(shape, scope, budget - 1, for_log=True),), shape=shape)
        if op == "sqrt":
            return Node("sqrt", (self.positive(shape, scope, budget - 1),), shape=shape)
        if op == "crelu":
            return self.crelu(self.expr(shape, scope, budget - 1), scope)
        return self.apply(op, self.expr(shape, scope, budget - 1), scope)

    def pair(self, op: str, shape, scope: Scope, budget: int) -> Node:
        """maximum(a, b) or minimum(a, b): ``b`` a number, or a tensor of ``a``'s shape or one
        broadcasting against it (a row, a column, a scalar), never ``a`` itself (a tie everywhere)."""
        d = self.d
        b1, b2 = self.split(budget)
        a = self.expr(shape, scope, b1)
        if d.chance(35):
            return Node(op, (a, Node("lit", attr=d.choice(["0.5", "-0.3", "1.0"]), shape=())), shape=shape)
        modes = [(3, shape)] + ([] if not shape else [(1, (ONE, shape[1])), (1, (shape[0], ONE)), (1, ())])
        b = self.expr(d.weighted(modes), scope, b2)
        if _same(a, b):
            b = Node("+", (b, Node("lit", attr="0.25", shape=())), shape=b.shape)
        return Node(op, (a, b), shape=shape)

    def apply(self, op: str, x: Node, scope: Scope) -> Node:
        """``op(x)`` for a one-argument function of the table."""
        return Node(op, (x,), shape=x.shape)

    def crelu(self, x: Node, scope: Scope) -> Node:
        """crelu(x, t), with a level t that x does not contain: crelu(relu(t), t) sits on its kink."""
        level = self.level(scope)
        inside = {n.attr for n in walk(x) if n.op in ("input", "lit")}
        if level.attr in inside or not any(n.op == "input" for n in walk(x)):
            level = Node("lit", attr="0.75", shape=())
            if not any(n.op == "input" for n in walk(x)):  # x is a constant such as ones: shift it
                x = Node("+", (x, Node("lit", attr="0.1", shape=())), shape=x.shape)
        return Node("crelu", (x, level), shape=x.shape)

    def level(self, scope: Scope) -> Node:
        """crelu's clip level: a number, or a (positive) scalar constant or parameter."""
        kind = self.d.weighted([(2, "number"), (2, "constant"), (2 if scope.layer is None else 0, "parameter")])
        if self.focus and self.focus.startswith("crelu level "):
            kind = self.focus.split()[-1]
        if kind == "number":
            return Node("lit", attr=self.d.choice(["1.0", "0.5", "2"]), shape=())
        if scope.layer is not None:
            return self.shared((), scope, "normal")
        return self.reuse_input((), kind, "normal") or self.new_input((), kind)

    def positive(self, shape, scope: Scope, budget: int, for_log: bool = False) -> Node:
        """An expression with positive entries, away from 0 (a divisor, a negative power). Under a log,
        also sigmoid(x) and 1 - sigmoid(x), which can be tiny but whose logs symgrad rewrites."""
        kind = self.d.weighted([(3, "1+x^2"), (2, "exp"), (2, "softplus+"), (1 if for_log else 0, "sigmoid"),
                                (1 if for_log else 0, "1-sigmoid"), (2, "data")])
        x = lambda: self.expr(shape, scope, budget - 1)  # noqa: E731
        if kind == "1+x^2":
            return Node("+", (Node("lit", attr="1", shape=()), Node("pow", (x(),), "2", shape)), shape=shape)
        if kind == "exp":
            return self.named(Node("exp", (self.bounded(shape, scope, budget - 1),), shape=shape), scope)
        if kind == "softplus+":
            return Node("+", (self.apply("softplus", x(), scope), Node("lit", attr="0.5", shape=())),
                        shape=shape)
        if kind == "sigmoid":   # log(sigmoid(s)) is rewritten as -softplus(-s)
            return self.named(self.apply("sigmoid", x(), scope), scope, 50)
        if kind == "1-sigmoid":  # log(1 - sigmoid(s)) is rewritten as -softplus(s)
            sig = self.named(self.apply("sigmoid", x(), scope), scope, 50)
            return Node("-", (Node("lit", attr="1", shape=()), sig), shape=shape)
        if scope.layer is not None:
            if self.parent_only(shape, scope):
                return self.shared(shape, scope, "positive")
            return Node("+", (Node("lit", attr="1", shape=()), Node("pow", (x(),), "2", shape)), shape=shape)
        if not shape:
            return self.reuse_input((), "parameter", "normal") or self.new_input((), "parameter")
        return self.reuse_input(shape, "constant", "positive") or self.new_input(shape, "constant", "positive")

    def bounded(self, shape, scope: Scope, budget: int) -> Node:
        """An expression of modest size (exp's argument)."""
        kind = self.d.weighted([(2, "tanh"), (1, "sigmoid"), (1, "crelu"), (2, "leaf"), (1, "-softplus")])
        if kind == "leaf":
            return Node("*", (Node("lit", attr="0.5", shape=()), self.leaf(shape, scope)), shape=shape)
        x = self.expr(shape, scope, budget)
        if kind == "crelu":
            return self.crelu(x, scope)
        if kind == "-softplus":
            return Node("neg", (self.apply("softplus", x, scope),), shape=shape)
        return self.apply(kind, x, scope)

    def binop(self, shape, scope: Scope, budget: int, op: str | None = None, mode: str | None = None) -> Node:
        d = self.d
        op = op or d.weighted([(3, "+"), (2, "-"), (3, "*"), (2, "/")])
        if not shape:
            a_shape = b_shape = ()
        else:
            r, c = shape
            mode = mode or d.weighted([(4, "same"), (2 if r != ONE else 0, "row"), (2 if c != ONE else 0, "col"),
                                       (3, "scalar"), (1 if r != ONE and c != ONE else 0, "outer"),
                                       (1 if shape != (ONE, ONE) else 0, "1x1")])
            a_shape, b_shape = {
                "same": (shape, shape), "row": (shape, (ONE, c)), "col": (shape, (r, ONE)),
                "scalar": (shape, ()), "outer": ((r, ONE), (ONE, c)), "1x1": (shape, (ONE, ONE)),
            }[mode]
            if d.chance(40) and mode != "outer":
                a_shape, b_shape = b_shape, a_shape
        b1, b2 = self.split(budget)
        literal = lambda s: not s and d.chance(50)  # noqa: E731  (a number or dimension scalar)
        if op == "/":
            a = self.lit(scope) if literal(a_shape) and b_shape else self.expr(a_shape, scope, b1)
            b = self.lit(scope, positive=True) if literal(b_shape) and a_shape else \
                self.positive(b_shape, scope, b2)
        else:
            a = self.lit(scope) if literal(a_shape) and b_shape else self.expr(a_shape, scope, b1)
            b = self.lit(scope) if literal(b_shape) and a.op != "lit" else self.expr(b_shape, scope, b2)
            if op == "-" and _same(a, b):   # x - x is 0: a relu of it would sit on its kink everywhere
                op = "+"
        return Node(op, (a, b), shape=shape)

    # models ---------------------------------------------------------------
    def focused(self, focus: str, scope: Scope, budget: int) -> Node:
        """A scalar built around one operation ``focus`` (one of FOCUS), the rest random."""
        d, size = self.d, lambda: self.size(scope)  # noqa: E731
        two = lambda: size_of(d.choice(scope.sizes), d.choice(scope.sizes))  # noqa: E731  (a sum)
        if focus == "scalar parameter":
            s = self.reuse_input((), "parameter") or self.new_input((), "parameter")
            return self.binop((), scope, budget, op=d.choice(["+", "*", "/"])) if d.chance(30) else Node(
                d.choice(["+", "*"]), (s, self.expr((), scope, budget)), shape=())
        if focus == "sum_squares":
            return Node("sum_squares", (self.expr(self.matrix_shape(scope), scope, budget - 1),), shape=())
        if focus in ("concat_rows", "concat_cols"):
            shape = (two(), size()) if focus == "concat_rows" else (size(), two())
            node = self.matrix_op(shape, scope, budget, focus)
        elif focus == "trace":
            node = self.scalar_op_forced("trace", scope, budget)
        elif focus == "diagonal":
            node = self.matrix_op((size(), ONE), scope, budget, "diagonal")
        elif focus in ("det", "logdet"):
            node = Node(focus, (self.well_conditioned(size(), scope, budget),), shape=())
        elif focus == "inv":
            n = size()
            node = self.matrix_op((n, n), scope, budget, "inv")
        elif focus in ("sum(axis=0)", "sum(axis=1)", "logsumexp", "mean", "amax", "amin"):
            axis = int(focus[-2]) if focus.startswith("sum") else d.choice([0, 1])
            shape = (ONE, size()) if axis == 0 else (size(), ONE)
            node = self.matrix_op(shape, scope, budget, {"logsumexp": "logsumexp", "mean": "mean_axis",
                                                         "amax": "amax", "amin": "amin"}.get(focus, "sum_axis"))
            if node.attr != axis:   # a size-1 other axis offered a second choice
                node = Node(node.op, node.args, axis, node.shape)
        elif focus in BINOPS or focus == "broadcast outer":
            shape = ((d.choice(scope.sizes),), (d.choice(scope.sizes),))
            mode = "outer" if focus == "broadcast outer" else None
            node = self.binop(shape, scope, budget, None if mode else focus, mode)
        elif focus.startswith("crelu level "):
            node = self.matrix_op(self.matrix_shape(scope), scope, budget, "crelu")
        else:
            force = {"@": "matmul", ".T": "T", "unary -": "neg", "ones": "ones_matmul"}.get(focus, focus)
            node = self.matrix_op(self.matrix_shape(scope), scope, budget, force)
        node = self.named(node, scope)
        return Node(d.choice(["sum", "sum_squares"]), (node,), None, ())

    def plain(self, budget: int) -> Recipe:
        recipe = self.recipe
        scope = Scope(recipe, recipe.dims)
        if self.focus:
            loss = self.focused(self.focus, scope, budget)
            if self.d.chance(40):
                loss = Node("+", (loss, self.expr((), scope, budget // 2)), shape=())
        else:
            loss = self.expr((), scope, budget, root=True)
        if not any(s.role == "parameter" for s in recipe.inputs.values()):
            loss = self.anchor(loss, self.matrix_shape(scope))
        # every dimension must be the size of some input's axis, or the module cannot read it:
        # usually add an input that shows it; sometimes leave it, and expect symgrad to say so
        unread = self.unread_dimensions(loss)
        if unread and self.d.chance(20):
            recipe.expect_error = "is not the size of any axis of an input"
        else:
            for name in unread:
                loss = self.anchor(loss, ((name,), ONE))
        recipe.loss = loss
        return recipe

    def anchor(self, loss: Node, shape) -> Node:
        anchor = self.new_input(shape, "parameter")
        return Node("+", (loss, Node("sum_squares", (anchor,), shape=())), shape=())

    def unread_dimensions(self, loss: Node) -> list[str]:
        used = set()
        stack, seen = [loss], set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack += list(node.args)
            used |= {tok for s in node.shape for tok in s}
            if node.op == "lit":
                used |= {tok for tok in self.recipe.dims if tok in str(node.attr)}
        read = {s[0] for spec in self.recipe.inputs.values() for s in spec.shape if len(s) == 1}
        return sorted(used - read - {"1"})

    def stacked(self, budget: int) -> Recipe:
        recipe, d = self.recipe, self.d
        orientation = d.choice(["cols", "rows"])
        width, samples = recipe.dims[0], recipe.dims[1]
        extra = recipe.dims[2] if len(recipe.dims) > 2 else None
        carry_shape = ((width,), (samples,)) if orientation == "cols" else ((samples,), (width,))
        recipe.inputs["X"] = Input("X", "constant", carry_shape)
        lists = {"W": "parameter"}
        if d.chance(40):
            lists["b"] = "parameter"
        if d.chance(30):
            lists["W0"] = "constant"
        out_rows = ONE if extra is None or d.chance(40) else (extra,)
        layers = []
        for kind, dims in (("hidden", ("k_in", "k_out")), ("output", ("k",))):
            k_in = (dims[0],)
            k_out = (dims[1],) if kind == "hidden" else out_rows
            shape = lambda rows, cols: (rows, cols) if orientation == "cols" else (cols, rows)  # noqa: E731
            elements = {"W": (k_out, k_in)}
            if "b" in lists:
                elements["b"] = shape(k_out, ONE)
            if "W0" in lists:
                elements["W0"] = (k_out, k_in)
            layer = Layer(kind, dims, shape(k_in, (samples,)), elements)
            # Unsupported: a parent dimension that no input of the layer shows (N * x in a layer whose
            # inputs have no axis of size N) is refused, "dimension N is not the size of any axis of an
            # input". Layers use only the sizes their own inputs show.
            sizes = tuple(dict.fromkeys(dims + (samples,) + (out_rows if kind == "output" else ())))
            sizes = tuple(t for t in sizes if t != "1")
            scope = Scope(recipe, sizes, layer)
            carry = scope.leaves["X_prev"] = Node("input", attr="X_prev", shape=layer.carry_shape)
            for name, s in elements.items():
                scope.leaves[name] = Node("input", attr=f"{name}_l", shape=s)
            a = self.mix(carry, scope, budget // 3)
            w = scope.leaves["W"]
            if "W0" in lists and d.chance(30):
                w = Node("-", (w, scope.leaves["W0"]), shape=w.shape)
            z = (Node("matmul", (w, a), shape=shape(k_out, (samples,))) if orientation == "cols"
                 else Node("matmul", (a, Node("T", (w,), shape=transposed(w.shape))), shape=shape(k_out, (samples,))))
            if "b" in lists:
                z = Node("+", (z, scope.leaves["b"]), shape=z.shape)
            z = self.named(z, scope, 50)
            if kind == "hidden":
                layer.out = self.activation(z, scope, budget // 3)
                if "W0" in lists:
                    reg = Node("sum_squares", (Node("-", (scope.leaves["W"], scope.leaves["W0"]),
                                                    shape=elements["W"]),), shape=())
                    layer.loss_term = Node("*", (self.lit(scope, positive=True), reg), shape=())
                elif d.chance(40):
                    layer.loss_term = self.expr((), scope, budget // 3)
            else:
                layer.out = self.head(z, scope, budget // 2)
                if "W0" in lists:
                    reg = Node("sum_squares", (Node("-", (scope.leaves["W"], scope.leaves["W0"]),
                                                    shape=elements["W"]),), shape=())
                    layer.out = Node("+", (layer.out, reg), shape=())
            layers.append(layer)
        recipe.stack = Stack(orientation, lists, *layers)
        # a parent dimension in a parent input's shape must also be the size of some parent input's
        # axis: symgrad reads the parent's dimensions from the parent's inputs only (not list elements)
        shown = {s[0] for spec in recipe.inputs.values() for s in spec.shape if len(s) == 1}
        used = {tok for spec in recipe.inputs.values() for s in spec.shape for tok in s}
        for name in sorted(used - shown - {"1"}):
            recipe.inputs[f"A{name}"] = Input(f"A{name}", "constant", ((name,), ONE))   # read, never used
        return recipe

    def mix(self, carry: Node, scope: Scope, budget: int) -> Node:
        """What a layer does to its carried input before the product: often nothing."""
        kind = self.d.weighted([(4, "carry"), (2, "unary"), (2, "binop")])
        if kind == "carry":
            return carry
        if kind == "unary":
            return self.apply(self.d.choice(["tanh", "sigmoid", "relu", "softplus"]), carry, scope)
        other = self.expr(self.d.choice([carry.shape, (), (ONE, carry.shape[1]), (carry.shape[0], ONE)]),
                          scope, budget)
        return Node(self.d.choice(["+", "*", "-"]), (carry, other), shape=carry.shape)

    def activation(self, z: Node, scope: Scope, budget: int) -> Node:
        """The hidden layer's output from its pre-activation, kept of modest size for deep stacks."""
        kind = self.d.weighted([(3, "relu"), (2, "tanh"), (2, "sigmoid"), (1, "crelu"), (1, "softplus"),
                                (1, "identity"), (2, "random")])
        if kind == "identity":
            return z
        if kind == "crelu":
            return self.crelu(z, scope)
        if kind == "random":   # a bounded function of z and something else
            other = self.expr(z.shape, scope, budget)
            return Node("tanh", (Node(self.d.choice(["+", "*"]), (z, other), shape=z.shape),), shape=z.shape)
        return self.apply(kind, z, scope)

    def head(self, z: Node, scope: Scope, budget: int) -> Node:
        """The output layer's loss from its output ``z``."""
        kind = self.d.weighted([(3, "squares"), (2, "softmax_ce"), (2, "random")])
        if kind == "squares":
            target = self.expr(z.shape, scope, budget)
            return Node("/", (Node("sum_squares", (Node("-", (z, target), shape=z.shape),), shape=()),
                              self.lit(scope, positive=True)), shape=())
        if kind == "softmax_ce":
            axis = self.d.choice([0, 1])
            reduced = tuple(ONE if ax == axis else s for ax, s in enumerate(z.shape))
            lse = self.named(Node("logsumexp", (z,), axis, reduced), scope, 50)
            labels = self.layer_leaf(z.shape, scope) if self.d.chance(50) else self.expr(z.shape, scope, budget)
            log_p = Node("-", (z, lse), shape=z.shape)
            return Node("neg", (Node("sum", (Node("*", (labels, log_p), shape=z.shape),), None, ()),), shape=())
        other = self.expr(self.d.choice([z.shape, ()]), scope, budget)
        mixed = Node(self.d.choice(["+", "*", "-"]), (z, other), shape=z.shape)
        return Node(self.d.choice(["sum", "sum_squares"]), (mixed,), None, ())


# what a recipe can be built around (``focus``): every operation, so a short run still covers each
FOCUS = ("@", "+", "-", "*", "/", "broadcast outer", ".T", "unary -", "sum(axis=0)", "sum(axis=1)",
         "sum_squares", "concat_rows", "concat_cols", "ones", "pow", "logsumexp", "relu", "crelu level number",
         "crelu level constant", "crelu level parameter", "sigmoid", "tanh", "exp", "log", "softplus",
         "sqrt", "abs", "maximum", "minimum", "mean", "softmax", "log_softmax", "amax", "amin", "trace",
         "diagonal", "inv", "det", "logdet", "scalar parameter", "stack")


def draw_recipe(draw: Draw, stack_percent: int = 25, max_budget: int = 8, avoid=frozenset(),
                focus: str | None = None) -> Recipe:
    """One random model; ``avoid``: names of KNOWN_BUGS whose triggers are not generated;
    ``focus``: an operation of FOCUS the model is built around (None: anything)."""
    n_dims = draw.integer(2, 4)
    recipe = Recipe(dims=PARENT_DIMS[:n_dims], inputs={})
    recipe.which = draw.integer(0, 1)
    recipe.seed = draw.integer(0, 2 ** 16)
    generator = Generator(draw, recipe, avoid)
    generator.focus = focus if focus != "stack" else None
    budget = draw.integer(2, max_budget)
    if focus == "stack" or (focus is None and draw.chance(stack_percent)):
        recipe.depth = draw.integer(1, 3)
        generator.stacked(budget)
    else:
        generator.plain(budget)
    return recipe


# ---------------------------------------------------------------------------
# known symgrad bugs found by this fuzzer
#
# A bug that cannot be fixed at once is entered here, with a standalone reproduction
# marked as a strict xfail (once the bug is fixed that test fails); when it is fixed, its
# reproduction moves to FIXED (a regression test) and its entry here goes, with the
# generator's avoidance of its trigger. The CI fuzz test does not generate the triggers of avoidable bugs;
# ``scripts/fuzz_long.py --include-known`` does. A crash whose message matches a bug's
# signature (a regular expression) is counted as that bug, not failed.

@dataclass(frozen=True)
class KnownBug:
    summary: str
    signature: str | None    # regex of the crash it causes; None: it gives wrong numbers, no crash
    avoidable: bool          # the generator can leave its trigger out (``avoid``)


KNOWN_BUGS: dict[str, KnownBug] = {}   # none open (the last two, second order, are fixed: see FIXED)


# the bugs whose triggers the generator leaves out unless told otherwise
AVOIDABLE = frozenset(name for name, bug in KNOWN_BUGS.items() if bug.avoidable)


def known_bug(error: "Disagreement", avoided=AVOIDABLE) -> str | None:
    """The known bug a failure looks like, or None; a bug whose trigger was avoided cannot be the cause
    (so a crash with its signature is news)."""
    for name, bug in KNOWN_BUGS.items():
        if name in avoided or bug.signature is None:
            continue
        if error.stage.startswith("crash") and re.search(bug.signature, error.message):
            return name
    return None


# ---------------------------------------------------------------------------
# checking one recipe

AUTOGRAD_RTOL = 1e-8      # symgrad against autograd: both exact up to round-off
FD_RTOL = 1e-5            # against central differences: truncation and round-off
FD_ATOL = 1e-6            # times 1 + |loss|: central differences of a gradient that is exactly 0
VALUE_RTOL = 1e-10


class Disagreement(AssertionError):
    """symgrad's module disagrees with the reference (or crashed on a valid model)."""

    def __init__(self, stage: str, message: str, recipe: Recipe):
        self.stage, self.message, self.recipe = stage, message, recipe
        super().__init__(f"[{stage}] {message}\n\nmodel:\n{symgrad_source(recipe)}\nreference:\n"
                         f"{reference_source(recipe)}\nwhich={recipe.which} depth={recipe.depth} "
                         f"seed={recipe.seed}")


class BadRecipe(Exception):
    """The recipe cannot be checked at its drawn point (the reference itself overflows): not a finding."""


def _flat(value):
    if isinstance(value, (list, tuple)):
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in value]) if value else np.zeros(0)
    return np.ravel(np.asarray(value, dtype=float))


def mismatch(got, expected, rtol: float, atol: float) -> float:
    """How far ``got`` is from ``expected`` in units of the allowed error (> 1: a disagreement).
    Scaled like ``symgrad.check.relative_error``, with an absolute floor for gradients that are ~0."""
    from symgrad.gradcheck import relative_error
    g, e = _flat(got), _flat(expected)
    if g.shape != e.shape:
        return np.inf
    if not np.all(np.isfinite(g)):
        return np.inf
    scale = max(float(np.max(np.abs(e), initial=0.0)), float(np.max(np.abs(g), initial=0.0)))
    error = relative_error(g, e) * max(scale, 1e-12)
    return error / (rtol * scale + atol)


def _same_structure(gradient, value) -> bool:
    if isinstance(value, list):
        return isinstance(gradient, list) and len(gradient) == len(value) and all(
            _same_structure(g, v) for g, v in zip(gradient, value))
    if np.ndim(value) == 0:
        return isinstance(gradient, float)
    return isinstance(gradient, np.ndarray) and gradient.shape == np.shape(value)


def check_recipe(recipe: Recipe, workdir: Path, finite_differences: bool = True, second_order: bool = True,
                 frameworks: bool = False) -> dict:
    """Derive, generate, import and run the recipe's model; compare with autograd and finite differences.
    With ``second_order``, the model also gets its ``--hvp`` module checked
    (``check_second_order``), and with ``frameworks`` too its torch and JAX ``--hvp`` modules
    (``check_framework_second_order``). Returns the worst errors; raises ``Disagreement`` on any
    disagreement or crash."""
    import autograd
    from symgrad import SymgradError
    from symgrad.differentiate.chain_rule import derive
    from symgrad.gradcheck import dimension_values, relative_error, sample_inputs
    from symgrad.cli import import_generated
    from symgrad.emit.files import render_module, write_atomic
    from symgrad.emit.layer_plan import plan_for

    stage = "build"
    try:
        model = build_symgrad(recipe)
        stage = "derive"
        derivation = derive(model)
        stage = "generate"
        try:
            text = render_module(plan_for(derivation, "fuzz"))
        except SymgradError as error:
            if recipe.expect_error and recipe.expect_error in str(error):
                return {"refused": str(error)}
            raise
        # no error: the dimension may have vanished (ones(M, 1) - ones(1, M) is 0); the run decides
        path = workdir / f"fuzz_{_SOURCE_COUNTER[0]}.py"
        write_atomic(path, text)
        stage = "import"
        module = import_generated(path)
        stage = "sample_inputs"
        dims = dimension_values(model, recipe.which)
        rng = np.random.default_rng(recipe.seed)
        try:
            inputs = sample_inputs(model, module, dims, rng, recipe.depth)
        except RuntimeError as error:
            # No point away from the kinks: relu(relu(x)) and crelu(relu(x), t) have their outer
            # argument exactly 0 wherever x < 0, relu(P ** 3) crowds near 0, ... symgrad.check's limit,
            # not a wrong gradient. Such recipes cannot be checked.
            if "away from the kinks" in str(error):
                raise BadRecipe(str(error)) from error
            raise
        stage = "run"
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                value, grads = module.loss_and_grad(**inputs)
                plain_value = module.loss(**inputs)
        except FloatingPointError as error:
            # overflow or log(0) at this point: a finding only if the plain reference is finite there
            with np.errstate(all="ignore"):
                if not np.isfinite(float(build_reference(recipe)(dict(inputs), dims))):
                    raise BadRecipe(f"{error}; the reference is not finite either") from error
            raise
    except (Disagreement, BadRecipe):
        raise
    except Exception as error:  # a crash on a valid model is a finding, whatever its type
        raise Disagreement(f"crash in {stage}", f"{type(error).__name__}: {error}\n"
                           + "".join(traceback.format_exception(error)[-4:]), recipe) from error

    reference = build_reference(recipe)
    names = list(module.PARAMETERS)
    constants = {k: v for k, v in inputs.items() if k not in names}

    def loss_of(params):
        return reference({**constants, **params}, dims)

    params = {k: inputs[k] for k in names}
    expected_value = float(loss_of(params))
    if not np.isfinite(expected_value):   # e.g. log(1 - sigmoid(40)) in the plain reference
        raise BadRecipe(f"the reference loss is {expected_value}")
    scale = 1.0 + abs(expected_value)
    result = {"value": abs(value - expected_value) / scale}
    if abs(value - expected_value) > VALUE_RTOL * scale or value != plain_value:
        if _ill_conditioned(reference, inputs, dims, expected_value, scale):
            raise BadRecipe("the reference loss changes in extended precision (cancellation)")
        raise Disagreement("value", f"loss {value!r} (loss(): {plain_value!r}), autograd reference "
                           f"{expected_value!r}", recipe)
    if set(grads) != set(names):
        raise Disagreement("gradients", f"gradients for {sorted(grads)}, parameters {names}", recipe)
    expected_grads = autograd.grad(loss_of)(params)
    for name in names:
        got, want = grads[name], expected_grads[name]
        if not _same_structure(got, inputs[name]):
            raise Disagreement("gradient shape", f"{name}: got {type(got).__name__} "
                               f"{[np.shape(g) for g in got] if isinstance(got, list) else np.shape(got)}, "
                               f"input {np.shape(inputs[name]) if not isinstance(got, list) else '(list)'}",
                               recipe)
        result[f"autograd {name}"] = relative_error(got, want)
        fd = None
        if mismatch(got, want, AUTOGRAD_RTOL, 1e-12 * scale) > 1:
            fd = _central_differences(module, inputs, name, got, scale)
            if mismatch(got, fd, FD_RTOL, FD_ATOL * scale) <= 1:
                # the loss agrees with the reference, and the gradient with the loss's central
                # differences: autograd's own round-off (an ill-conditioned reference), not symgrad's
                raise BadRecipe(f"autograd's gradient of {name} is off, central differences agree")
            raise Disagreement("autograd", f"gradient {name}: relative error {relative_error(got, want):.3g}"
                               f"\n got {got}\n autograd {want}", recipe)
        if finite_differences:
            fd = _central_differences(module, inputs, name, got, scale) if fd is None else fd
            result[f"fd {name}"] = relative_error(got, fd)
            if mismatch(got, fd, FD_RTOL, FD_ATOL * scale) > 1:
                raise Disagreement("finite differences", f"gradient {name}: relative error "
                                   f"{relative_error(got, fd):.3g}\n got {got}\n central differences {fd}",
                                   recipe)
    if second_order:
        result.update(check_second_order(recipe, derivation, inputs, loss_of, scale, workdir, frameworks))
    return result


HVP_STEP = 1e-5     # central differences of the generated gradient along the tangent


def check_second_order(recipe: Recipe, derivation, inputs: dict, loss_of, scale: float, workdir: Path,
                       frameworks: bool = False) -> dict:
    """The recipe's ``--hvp`` module: ``hvp()`` along a random tangent against autograd's
    ``hessian_vector_product`` of the independent reference (tight) and central differences of
    the generated gradient (loose), and ``hessian()`` against ``hvp()`` (tight); with
    ``frameworks``, then the torch and JAX ``--hvp`` modules along the same tangent."""
    from symgrad.cli import import_generated
    from symgrad.emit.files import write_atomic
    from symgrad.emit.layer_hvp_plan import render_hvp_module
    from symgrad.gradcheck import relative_error
    from symgrad.hvpcheck import autograd_hvp, central_difference, hessian_error, moved, random_tangent

    names = list(derivation.parameters)
    rng = np.random.default_rng(recipe.seed + 1)
    tangent = random_tangent(inputs, names, rng)
    try:
        path = workdir / f"fuzz_{_SOURCE_COUNTER[0]}_hvp.py"
        write_atomic(path, render_hvp_module(derivation, "fuzz --hvp"))
        module = import_generated(path)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            _, _, products = module.hvp(tangent, **inputs)
            hessian = hessian_error(module, inputs, tangent, products, floor=scale)
            shifted = [module.loss_and_grad(**{**inputs, **{p: moved(inputs[p], tangent[p], sign * HVP_STEP)
                                                            for p in names}})[1] for sign in (1, -1)]
    except FloatingPointError as error:
        raise BadRecipe(f"second order: {error}") from error
    except Exception as error:
        raise Disagreement("crash in second order", f"{type(error).__name__}: {error}\n"
                           + "".join(traceback.format_exception(error)[-4:]), recipe) from error
    expected = autograd_hvp(loss_of, {p: inputs[p] for p in names}, tangent)
    size = max(max(float(np.max(np.abs(_flat(v)), initial=0.0)) for v in expected.values()), 1.0) * scale
    result = {"hessian": hessian}
    if hessian > 1e-9:
        raise Disagreement("hessian", f"hessian() against hvp(): {hessian:.3g}", recipe)
    for name in names:
        got = products[name]
        difference = central_difference(shifted[0][name], shifted[1][name], HVP_STEP)
        result[f"hvp autograd {name}"] = relative_error(got, expected[name])
        fd_off = mismatch(got, difference, FD_RTOL, FD_ATOL * size)
        if mismatch(got, expected[name], AUTOGRAD_RTOL, 1e-12 * size) > 1:
            if fd_off <= 1:
                raise BadRecipe(f"autograd's Hessian-vector product of {name} is off, differences agree")
            raise Disagreement("hvp autograd", f"{name}: relative error {relative_error(got, expected[name]):.3g}"
                               f"\n got {got}\n autograd {expected[name]}", recipe)
        if fd_off > 1:
            raise Disagreement("hvp differences", f"{name}: relative error {relative_error(got, difference):.3g}"
                               f"\n got {got}\n differences of the gradient {difference}", recipe)
    if frameworks or FRAMEWORK_SCHEDULE.due():
        result.update(check_framework_second_order(recipe, derivation, inputs, tangent, products, size, workdir))
        FRAMEWORK_SCHEDULE.checked["models"] += 1
        FRAMEWORK_SCHEDULE.checked["with layers"] += recipe.stack is not None
    return result


class _FrameworkSchedule:
    """Which second-order checks also check the torch and JAX modules: every ``every``-th (0: none)."""

    def __init__(self):
        self.every, self.seen, self.checked = 0, 0, Counter()

    def due(self) -> bool:
        if not self.every:
            return False
        self.seen += 1
        return self.seen % self.every == 0


FRAMEWORK_SCHEDULE = _FrameworkSchedule()


def _framework_hvps(backend: str, module, inputs: dict, tangent: dict, names: list, loss_name: str | None):
    """(the module's ``hvp()`` products, the framework's forward-over-reverse of the module's plain
    forward along ``tangent``), as NumPy values: torch.func.jvp of torch.func.grad, or jax.jvp
    of jax.grad under jax.jit. The plain forward (``forward()``, its ``loss_name``; ``_run()``
    for a stack, ``loss_name`` None) is
    symgrad's printing of the model, but the framework differentiates it itself."""
    def arrays(values, array):
        return {k: [array(x) for x in v] if isinstance(v, list) else array(v) if isinstance(v, np.ndarray) else v
                for k, v in values.items()}

    def numpy_of(values, to_numpy):
        return {k: [to_numpy(x) for x in v] if isinstance(v, list) else to_numpy(v) for k, v in values.items()}

    if backend == "torch":
        import torch
        from torch.func import grad, jvp
        tensor = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
        given = arrays(inputs, tensor)
        along = {p: [tensor(x) for x in v] if isinstance(v, list) else tensor(np.asarray(v)) for p, v in tangent.items()}
        params = {p: given[p] if not isinstance(given[p], float) else tensor(given[p]) for p in names}
        rest = {k: v for k, v in given.items() if k not in params}
        loss = (lambda ps: module._run(**rest, **ps)[0]) if loss_name is None else \
            (lambda ps: module.forward(**rest, **ps)[loss_name])
        _, _, products = module.hvp(along, **given)
        reference = jvp(grad(loss), (params,), (along,))[1]
        to_numpy = lambda t: t.detach().numpy()  # noqa: E731
        return numpy_of(products, to_numpy), numpy_of(reference, to_numpy)
    import jax
    jnp = jax.numpy
    given = arrays(inputs, jnp.asarray)
    params = {p: given[p] for p in names}
    rest = {k: v for k, v in given.items() if k not in params}
    along = {p: [jnp.asarray(x) for x in v] if isinstance(v, list) else jnp.asarray(v) for p, v in tangent.items()}
    loss = (lambda ps, rs: module._run(**rs, **ps)[0]) if loss_name is None else \
        (lambda ps, rs: module.forward(**rs, **ps)[loss_name])
    products, reference = jax.jit(lambda ps, ts, rs: (      # one compile for both (eager costs more)
        module.hvp(ts, **rs, **ps)[2], jax.jvp(lambda q: jax.grad(loss)(q, rs), (ps,), (ts,))[1]))(params, along, rest)
    return numpy_of(products, np.asarray), numpy_of(reference, np.asarray)


def check_framework_second_order(recipe: Recipe, derivation, inputs: dict, tangent: dict, expected: dict,
                                 size: float, workdir: Path) -> dict:
    """The recipe's torch and JAX ``--hvp`` modules (float64): ``hvp()`` along the NumPy check's
    tangent against the NumPy module's products ``expected`` (checked against autograd just
    before) and against the framework's own forward-over-reverse of the module's plain forward,
    both tight."""
    from symgrad.cli import import_generated
    from symgrad.emit.backend_hvp import render_backend_hvp
    from symgrad.emit.files import write_atomic
    from symgrad.gradcheck import relative_error
    import jax

    names, result = list(derivation.parameters), {}
    for backend in ("torch", "jax"):
        try:
            path = workdir / f"fuzz_{_SOURCE_COUNTER[0]}_hvp_{backend}.py"
            write_atomic(path, render_backend_hvp(derivation, f"fuzz --hvp --backend {backend}", backend))
            module = import_generated(path)
            with jax.enable_x64(True):
                loss_name = None if recipe.stack is not None else derivation.model.loss_name   # a stack: _run()
                products, reference = _framework_hvps(backend, module, inputs, tangent, names, loss_name)
        except Exception as error:
            raise Disagreement(f"crash in {backend} second order", f"{type(error).__name__}: {error}\n"
                               + "".join(traceback.format_exception(error)[-4:]), recipe) from error
        for name in names:
            for what, want in (("NumPy's", expected[name]), (f"{backend}'s own", reference[name])):
                if mismatch(products[name], want, AUTOGRAD_RTOL, 1e-12 * size) > 1:
                    raise Disagreement(f"{backend} hvp", f"{name} against {what}: relative error "
                                       f"{relative_error(products[name], want):.3g}\n got {products[name]}\n"
                                       f" {what} {want}", recipe)
            result[f"hvp {backend} {name}"] = relative_error(products[name], reference[name])
    return result


def _central_differences(module, inputs, name, got, scale):
    """Central differences of the module's loss; at a second step if the first disagrees (steep
    curvature makes step 1e-5 too coarse, round-off makes a smaller one too noisy elsewhere)."""
    from symgrad.gradcheck import finite_difference
    fd = finite_difference(module, inputs, name)
    if mismatch(got, fd, FD_RTOL, FD_ATOL * scale) > 1:
        finer = finite_difference(module, inputs, name, 1e-6)
        if mismatch(got, finer, FD_RTOL, FD_ATOL * scale) < mismatch(got, fd, FD_RTOL, FD_ATOL * scale):
            fd = finer
    return fd


def _ill_conditioned(reference, inputs, dims, value: float, scale: float) -> bool:
    """The reference loss moves when recomputed in extended precision (np.longdouble)."""
    def extended(x):
        if isinstance(x, list):
            return [extended(v) for v in x]
        return np.asarray(x, dtype=np.longdouble) if np.ndim(x) else np.longdouble(x)
    with np.errstate(all="ignore"):
        precise = reference({k: extended(v) for k, v in inputs.items()}, dims)
    return abs(float(precise) - value) > VALUE_RTOL * scale


# ---------------------------------------------------------------------------
# shrinking a failing recipe (for reports; Hypothesis shrinks by itself in the test)


def _rebuilt(recipe: Recipe, old: Node, new: Node) -> Recipe:
    """A copy of ``recipe`` with ``old`` replaced by ``new`` everywhere, unused inputs dropped."""
    import copy
    memo: dict = {}

    def clone(node):
        if node is None:
            return None
        if node is old:
            return clone(new) if new is not old else node
        if id(node) not in memo:
            memo[id(node)] = Node(node.op, tuple(clone(a) for a in node.args), node.attr, node.shape)
        return memo[id(node)]

    out = copy.copy(recipe)
    out.inputs = dict(recipe.inputs)
    if recipe.stack is None:
        out.loss = clone(recipe.loss)
    else:
        stack = copy.copy(recipe.stack)
        stack.hidden, stack.output = copy.copy(stack.hidden), copy.copy(stack.output)
        for layer in (stack.hidden, stack.output):
            layer.out, layer.loss_term = clone(layer.out), clone(layer.loss_term)
        out.stack = stack
    used = {n.attr for n in out.nodes() if n.op == "input"}
    used |= {name[:-2] for name in used if name.endswith("_l")}
    out.inputs = {k: v for k, v in out.inputs.items() if k in used or k == "X"}
    if out.stack is not None:
        for layer in (out.stack.hidden, out.stack.output):
            layer.shared = [n for n in layer.shared if f"{n}_l" in used]
    return out


def shrink_recipe(recipe: Recipe, fails, rounds: int = 200) -> Recipe:
    """Greedily replace operations by their arguments of the same shape (or a fresh parameter)
    while ``fails(recipe)`` stays true; returns the smallest recipe found."""
    for _ in range(rounds):
        for node in sorted(recipe.nodes(), key=lambda n: -len(list(walk(n)))):
            candidates = [a for a in node.args if a.shape == node.shape]
            if recipe.stack is None and node.op not in ("input", "lit", "ones"):
                candidates.append(Node("input", attr="_fresh", shape=node.shape))
            for candidate in candidates:
                if candidate.op == "input" and candidate.attr == "_fresh":
                    name = f"S{len(recipe.inputs)}"
                    while name in recipe.inputs:
                        name += "x"
                    candidate = Node("input", attr=name, shape=node.shape)
                    smaller = _rebuilt(recipe, node, candidate)
                    smaller.inputs[name] = Input(name, "parameter", node.shape)
                else:
                    smaller = _rebuilt(recipe, node, candidate)
                if len(smaller.nodes()) < len(recipe.nodes()) and fails(smaller):
                    recipe = smaller
                    break
            else:
                continue
            break
        else:
            return recipe
    return recipe


# ---------------------------------------------------------------------------
# the test

SUPPRESSED = {"too_slow", "data_too_large", "large_base_example"}   # models take ~50 ms and many draws
PER_FOCUS = 11   # models per operation of FOCUS: 41 x 11 = 451 models, about a minute
# every 10th second-order check (every 20th model) also checks the torch and JAX --hvp modules: ~22
# models, ~0.9 s of CPU each (most of it jax tracing and compiling), and the two imports: ~20 s in all.
# Scheduled outside the Hypothesis test function: its source seeds the derandomized draws.
FRAMEWORK_EVERY = 10
# SYMGRAD_FUZZ_STRICT=1: generate the triggers of known bugs too, and fail on them
STRICT = os.environ.get("SYMGRAD_FUZZ_STRICT") == "1"


@pytest.mark.filterwarnings("ignore::symgrad.SymgradWarning")   # a drawn parameter may not reach the loss
def test_fuzz_models_agree_with_autograd_and_finite_differences(tmp_path_factory):
    """Random models built around each operation: loss and every gradient as autograd and central
    differences have them, and for every other model (with layers or without) the Hessian-vector product
    and the Hessian (``check_second_order``). Known bugs (KNOWN_BUGS, none open) are counted, not failed."""
    require("hypothesis")
    require("autograd")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    workdir = tmp_path_factory.mktemp("fuzz")
    avoid = frozenset() if STRICT else AVOIDABLE
    frameworks = os.environ.get("CI") == "true" or all(importlib.util.find_spec(m) for m in ("torch", "jax"))
    counts, known = Counter(), Counter()

    def checker(focus):
        @settings(max_examples=PER_FOCUS, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[h for h in HealthCheck if h.name in SUPPRESSED])
        @given(st.data())
        def check(data):
            recipe = draw_recipe(HypothesisDraw(data.draw), avoid=avoid, focus=focus)
            counts["models"] += 1
            counts.update(recipe.op_counts())
            try:    # second order on every other model: it about doubles a model's cost
                result = check_recipe(recipe, workdir, second_order=counts["models"] % 2 == 0)
            except BadRecipe:
                counts["not checkable"] += 1
                return
            except Disagreement as error:
                bug = None if STRICT else known_bug(error, avoid)
                if bug is None:
                    raise
                known[bug] += 1     # reproduced by its own strict-xfail test
                return
            counts["agreed"] += 1
            if "hessian" in result and recipe.stack is not None:
                counts["second order with layers"] += 1
        return check

    FRAMEWORK_SCHEDULE.every = FRAMEWORK_EVERY if frameworks else 0
    try:
        for focus in FOCUS:
            checker(focus)()
    finally:
        FRAMEWORK_SCHEDULE.every = 0
    counts["second order in torch and JAX"] = FRAMEWORK_SCHEDULE.checked["models"]
    counts["... of them with layers"] = FRAMEWORK_SCHEDULE.checked["with layers"]
    print(f"\nfuzz: {counts['models']} models, {counts['agreed']} agreed with autograd and finite "
          f"differences ({counts['second order with layers']} of them with layers at second order; "
          f"{counts['second order in torch and JAX']} at second order in torch and JAX too, "
          f"{counts['... of them with layers']} with layers), "
          f"{counts['not checkable']} not checkable, known bugs hit: {dict(known)}")
    assert counts["agreed"] >= 200, counts
    for op in ("@", "+", "-", "*", "/", ".T", "unary -", "sum(axis=0)", "sum(axis=1)", "sum(axis=None)",
               "sum_squares", "concat_rows", "concat_cols", "ones", "pow", "logsumexp", "relu", "crelu",
               "sigmoid", "tanh", "exp", "log", "softplus", "define", "broadcast scalar",
               "broadcast size-1 axis", "broadcast outer (r,1)x(1,c)", "scalar parameter",
               "crelu level parameter", "crelu level constant", "crelu level number", "sqrt", "abs",
               "maximum with a number", "maximum with a tensor", "minimum with a number", "minimum with a tensor",
               "mean(axis=None)", "mean(axis=0)", "mean(axis=1)", "softmax(axis=0)", "softmax(axis=1)",
               "log_softmax(axis=0)", "log_softmax(axis=1)", "amax(axis=0)", "amax(axis=1)", "amin(axis=0)",
               "amin(axis=1)", "trace", "diagonal", "inv", "det", "logdet"):
        assert counts[op] > 0, f"no model used {op}: {sorted(counts)}"
    assert sum(v for k, v in counts.items() if k.startswith("stack depth")) > 0
    assert counts["second order with layers"] > 0, counts
    if frameworks:
        assert counts["second order in torch and JAX"] >= 10, counts     # layered ones when drawn (0 of 21 here)


# ---------------------------------------------------------------------------
# bugs found by this fuzzer, each as a standalone model kept as a regression test


def _generate(model, workdir: Path):
    from symgrad.differentiate.chain_rule import derive
    from symgrad.cli import import_generated
    from symgrad.emit.files import render_module, write_atomic
    from symgrad.emit.layer_plan import plan_for
    path = workdir / f"{model.name}.py"
    write_atomic(path, render_module(plan_for(derive(model), "found by fuzzing")))
    return import_generated(path)


def _agrees(model, reference, workdir: Path, depth: int = 1, seed: int = 0):
    """The generated module's loss and gradients equal autograd's on ``reference(inputs, dims)``."""
    import autograd
    from symgrad.gradcheck import dimension_values, sample_inputs
    module = _generate(model, workdir)
    dims = dimension_values(model)
    inputs = sample_inputs(model, module, dims, np.random.default_rng(seed), depth)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grads = module.loss_and_grad(**inputs)
    names = list(module.PARAMETERS)
    constants = {k: v for k, v in inputs.items() if k not in names}
    loss = lambda params: reference({**constants, **params}, dims)  # noqa: E731
    params = {k: inputs[k] for k in names}
    assert value == pytest.approx(float(loss(params)), rel=1e-10)
    expected = autograd.grad(loss)(params)
    for name in names:
        assert mismatch(grads[name], expected[name], AUTOGRAD_RTOL, 1e-12) <= 1, name


def _hvp_agrees(model, workdir: Path, why: str):
    """The model's generated ``--hvp`` module: every product agrees with autograd's and with central
    differences of the gradient, and ``hessian()`` with the products."""
    from symgrad.cli import import_generated
    from symgrad.differentiate.chain_rule import derive
    from symgrad.emit.files import write_atomic
    from symgrad.emit.layer_hvp_plan import render_hvp_module
    from symgrad.hvpcheck import check_hvp_module
    derivation = derive(model)
    path = workdir / f"{model.name}_hvp.py"
    write_atomic(path, render_hvp_module(derivation, why))
    for check in check_hvp_module(derivation, import_generated(path)):
        assert check.shape_ok and check.against_autograd < 1e-10 and check.hessian < 1e-10, check
        assert check.against_differences < 1e-6, check


def _model(name, dims="N M"):
    from symgrad import Model
    m = Model(name)
    return m, m.dims(dims)


def found_one_by_one(tmp_path):
    """(1, 1) tensors: KeyError in vectorize._placement (fixed in a43e8e2)."""
    from symgrad import sum_squares
    m, (N, M) = _model("one_by_one")
    W = m.parameter("W", (1, N))
    m.loss("Loss", sum_squares(W @ W.T))
    _agrees(m, lambda i, d: anp().sum((i["W"] @ i["W"].T) ** 2), tmp_path)


def found_no_matrix_input(tmp_path):
    """Scalar inputs only: the module had a syntax error (fixed in a43e8e2)."""
    m, _ = _model("no_matrix_input")
    s = m.parameter("s")
    m.loss("Loss", s * s)
    _agrees(m, lambda i, d: i["s"] * i["s"], tmp_path)


def found_unread_dimension(tmp_path):
    """A dimension only a scalar uses: NameError at run time, now a ModelError (fixed in a43e8e2)."""
    from symgrad import SymgradError, sum_squares
    m, (N, L) = _model("unread_dimension", "N L")
    W = m.parameter("W", (N, 1))
    m.loss("Loss", sum_squares(W) / L)    # L is the size of no input's axis: refuse the model
    with pytest.raises(SymgradError, match="dimension L"):
        _generate(m, tmp_path)


def found_parent_dimension_in_layer(tmp_path):
    """A parent dimension no input of a layer shows: NameError in the layer function; now refused
    (ModelError) or computed (fixed in a43e8e2)."""
    from symgrad import SymgradError, stack_layers, sum_squares, tanh
    m, (N, M) = _model("parent_dimension_in_layer")
    X = m.constant("X", (N, M))
    W = m.parameter_list("W")
    stack = stack_layers(m, X, W)
    hidden = stack.hidden
    k_in, k_out = hidden.dims("k_in k_out")
    X_prev = hidden.carry_in("X_prev", (k_in, M))
    hidden.carry_out(hidden.define("X_out", tanh(hidden.element(W, (k_out, k_in)) @ X_prev)))
    output = stack.output
    (k,) = output.dims("k")
    X_last = output.carry_in("X_prev", (k, M))
    output.loss("Loss", sum_squares(output.element(W, (1, k)) @ X_last) / N)   # N: only X shows it

    def reference(i, d):
        X = i["X"]
        for w in i["W"][:-1]:
            X = anp().tanh(w @ X)
        return anp().sum((i["W"][-1] @ X) ** 2) / d["N"]
    try:
        _generate(m, tmp_path)
    except SymgradError as error:
        assert "dimension N" in str(error)
        return
    _agrees(m, reference, tmp_path, depth=2)


def found_sigmoid_of_sum(tmp_path):
    """sigmoid(P - 2) printed as 0.5 * (np.tanh(0.5 * P - 2) + 1.0) (fixed in a43e8e2)."""
    from symgrad import sigmoid
    m, (N, M) = _model("sigmoid_of_sum")
    P = m.parameter("P", (N, M))
    m.loss("Loss", sigmoid(P - 2).sum())
    _agrees(m, lambda i, d: anp().sum(1 / (1 + anp().exp(2 - i["P"]))), tmp_path)


def found_repeated_concat_block(tmp_path):
    """A named tensor stacked twice: one block left as np.empty garbage (fixed in a43e8e2)."""
    from symgrad import concat_cols
    m, (N, M) = _model("repeated_concat_block")
    P = m.parameter("P", (N, M))
    V = m.define("V", P ** 2)
    W = m.define("W", concat_cols(V, V))
    m.loss("Loss", W.sum())
    _agrees(m, lambda i, d: 2 * anp().sum(i["P"] ** 2), tmp_path)


def found_negated_mask(tmp_path):
    """-(W > 0): TypeError, numpy boolean negative (fixed in a43e8e2)."""
    from symgrad import relu
    m, (N, M) = _model("negated_mask")
    W = m.parameter("W", (N, M))
    m.loss("Loss", (-relu(W)).sum())
    _agrees(m, lambda i, d: -anp().sum(anp().maximum(i["W"], 0.0)), tmp_path)


def found_einsum_missing_output(tmp_path):
    """An einsum whose output index is in no operand (fixed in a43e8e2)."""
    m, (N, M) = _model("einsum_missing_output")
    A, b, B = m.constant("A", (M, N)), m.constant("b", (N, 1)), m.constant("B", (M, N))
    C = m.parameter("C", (N, N))
    m.loss("Loss", ((A @ b) * (B @ C)).sum())
    _agrees(m, lambda i, d: anp().sum((i["A"] @ i["b"]) * (i["B"] @ i["C"])), tmp_path)


def found_forward_reuse_order(tmp_path):
    """V = exp(tanh(P)) rewritten as np.exp(W) before W is computed (fixed in a43e8e2)."""
    from symgrad import exp, tanh
    m, (N, M) = _model("forward_reuse_order")
    P = m.parameter("P", (N, M))
    V = m.define("V", exp(tanh(P)))
    W = m.define("W", tanh(P))
    m.loss("Loss", V.sum() + W.sum())
    _agrees(m, lambda i, d: anp().sum(anp().exp(anp().tanh(i["P"]))) + anp().sum(anp().tanh(i["P"])),
            tmp_path)


def found_reciprocal_in_matmul(tmp_path):
    """grad_P = 2 * V @ 1/C.T, parsed as (2*V @ 1) / C.T (fixed in a43e8e2)."""
    from symgrad import sum_squares
    m, (N, M) = _model("reciprocal_in_matmul")
    P, C = m.parameter("P", (M, 1)), m.constant("C", (1, N))
    m.sample_with("C", lambda rng, shape: rng.uniform(0.5, 2.0, shape))
    V = m.define("V", P / C)
    m.loss("Loss", sum_squares(V))
    _agrees(m, lambda i, d: anp().sum((i["P"] / i["C"]) ** 2), tmp_path)


def found_scalar_log_sigmoid(tmp_path):
    """log(V), V = sigmoid(s) a named scalar, not rewritten as -softplus(-s): log(0) (fixed in a43e8e2)."""
    from symgrad import log, sigmoid, sum_squares
    m, (N, M) = _model("scalar_log_sigmoid")
    P = m.parameter("P", (N, M))
    s = m.define("s", -100 * sum_squares(P))
    V = m.define("V", sigmoid(s))
    m.loss("Loss", log(V))
    _agrees(m, lambda i, d: -anp().logaddexp(0.0, 100 * anp().sum(i["P"] ** 2)), tmp_path)


def found_reuse_index_leak(tmp_path):
    """A crelu mask rewritten with an entry Loss_1[i3, 0] of a broadcast forward value: the index
    leaked into the code, NameError (fixed in 9e4f967)."""
    from symgrad import crelu, ones
    m, (N, M) = _model("reuse_index_leak")
    Q, A = m.parameter("Q", (1, 1)), m.constant("A", (N, M))
    m.loss("Loss", ((ones(N, 1) @ crelu(Q, 1.0)) @ ones(1, M)).sum() + A.sum())
    _agrees(m, lambda i, d: d["N"] * d["M"] * anp().sum(anp().clip(i["Q"], 0.0, 1.0)) + anp().sum(i["A"]),
            tmp_path)


def found_scalar_negated_mask(tmp_path):
    """relu(tanh(s)), s a scalar: grad + (-grad*tanh(s)**2) with grad a numpy bool, TypeError (fixed in c67c976)."""
    from symgrad import relu, tanh
    m, _ = _model("scalar_negated_mask")
    s = m.parameter("s")
    m.loss("Loss", relu(tanh(s)))
    _agrees(m, lambda i, d: anp().maximum(anp().tanh(i["s"]), 0.0), tmp_path, seed=1)   # s > 0 here


def found_concat_int_dtype(tmp_path):
    """3 + concat_rows(Q, P) written in place into an integer array: UFuncTypeError (fixed in c67c976)."""
    from symgrad import concat_rows, sum_squares
    m, (N, M) = _model("concat_int_dtype")
    P, Q = m.parameter("P", (N, N)), m.parameter("Q", (M, N))
    V = m.define("V", 3 + concat_rows(Q, P))
    m.loss("Loss", sum_squares(V))
    _agrees(m, lambda i, d: anp().sum((3 + anp().concatenate([i["Q"], i["P"]], axis=0)) ** 2), tmp_path)


def found_bool_mask_einsum(tmp_path):
    """An einsum (optimize=True) summing a bool mask over an index first, in bool: a logical or, wrong gradient (fixed in c67c976)."""
    from symgrad import relu
    m, (N, M) = _model("bool_mask_einsum")
    p, C, W = m.parameter("p", (1, N)), m.constant("C", (M, N)), m.constant("W", (N, N))
    m.loss("Loss", relu((p + C) @ W).sum())
    _agrees(m, lambda i, d: anp().sum(anp().maximum((i["p"] + i["C"]) @ i["W"], 0.0)), tmp_path)


def found_expanded_two_adjoint_accesses(tmp_path):
    """Derivation.expanded met two entries of one adjoint in a term: ValueError (fixed in c67c976)."""
    from symgrad import concat_cols, sum_squares, tanh
    m, (N, M) = _model("expanded_two_adjoint_accesses")
    C, P = m.constant("C", (N, M)), m.parameter("P", (N, 1))
    V = m.define("V", C - P)
    W = m.define("W", tanh(V))
    m.loss("Loss", sum_squares(concat_cols(V, W)))
    _agrees(m, lambda i, d: anp().sum((i["C"] - i["P"]) ** 2) + anp().sum(anp().tanh(i["C"] - i["P"]) ** 2),
            tmp_path)


def found_bool_mask_sum(tmp_path):
    """(P > 0) + (P > 0) computed as a logical or: a bool gradient, 1 where it is 2 (fixed in c67c976)."""
    from symgrad import relu
    m, (N, M) = _model("bool_mask_sum")
    P = m.parameter("P", (N, M))
    m.loss("Loss", relu(P + P).sum())
    _agrees(m, lambda i, d: anp().sum(anp().maximum(2 * i["P"], 0.0)), tmp_path)


def found_buffer_read_twice(tmp_path):
    """An in-place chain reused an array that another operand of the same statement still read:
    grad_P3 = shared_2; grad_P3 *= ...; grad_P3 -= 2 * shared_2 * ... (wrong loss and gradient)."""
    from symgrad import sum_squares
    m, (N, M) = _model("buffer_read_twice")
    P0, P1, P2, P3, P4 = (m.parameter(f"P{k}", (N, N)) for k in range(5))
    m.loss("Loss", sum_squares(P0 + (P1 @ (P2 + P3)) / (1 + P4 ** 2)))
    _agrees(m, lambda i, d: anp().sum((i["P0"] + (i["P1"] @ (i["P2"] + i["P3"])) / (1 + i["P4"] ** 2)) ** 2),
            tmp_path)


def found_gradients_sharing_one_array(tmp_path):
    """Sharing a repeated expression made grad_P1 and grad_P2 one array (grad_P2 = shared_1;
    grad_P1 = shared_1), which the in-place pass then overwrote for both."""
    m, (N, M) = _model("gradients_sharing_one_array")
    P0, P1, P2, P3 = (m.parameter(f"P{k}", (N, N)) for k in range(4))
    m.loss("Loss", (P0 + (P1 + P2) / (1 + P3 ** 2)).sum())
    _agrees(m, lambda i, d: anp().sum(i["P0"] + (i["P1"] + i["P2"]) / (1 + i["P3"] ** 2)), tmp_path)
    module = _generate(m, tmp_path)
    from symgrad.gradcheck import dimension_values, sample_inputs
    inputs = sample_inputs(m, module, dimension_values(m), np.random.default_rng(0), 1)
    grads = list(module.loss_and_grad(**inputs)[1].values())
    assert not any(np.shares_memory(a, b) for k, a in enumerate(grads) for b in grads[k + 1:])


def found_product_broadcast_into_block(tmp_path):
    """A block of a concatenation, P1 @ C1 - P2 (a column minus a row), was computed by
    np.matmul(P1, C1, out=V2) into the whole block: ValueError (found by scripts/fuzz_long.py)."""
    from symgrad import concat_cols, sum_squares
    m, (N, L) = _model("product_broadcast_into_block", "N L")
    P0, P1 = m.parameter("P0", (L, N)), m.parameter("P1", (L, L))
    C1, P2 = m.constant("C1", (L, 1)), m.parameter("P2", (1, N))
    V2 = m.define("V2", P1 @ C1 - P2)
    m.loss("Loss", sum_squares(concat_cols(P0, V2)))
    _agrees(m, lambda i, d: anp().sum(i["P0"] ** 2) + anp().sum((i["P1"] @ i["C1"] - i["P2"]) ** 2), tmp_path)


def found_merged_denominator(tmp_path):
    """SymPy merged 1/C1[a, b] * 1/(1 + P0[b, c]**2) into 1/(C1[a, b]*P0[b, c]**2 + C1[a, b]), a factor
    spanning three indices: LoweringError 'not vectorizable' (found by scripts/fuzz_long.py)."""
    from symgrad import sum_squares
    m, (K, L) = _model("merged_denominator", "K L")
    C0, C1 = m.constant("C0"), m.constant("C1", (K, K))
    m.sample_with("C1", lambda rng, shape: rng.uniform(0.5, 2.0, shape))
    P0 = m.parameter("P0", (K, L))
    m.loss("Loss", sum_squares((C0 / C1) @ (P0 / (1 + P0 ** 2))))
    _agrees(m, lambda i, d: anp().sum(((i["C0"] / i["C1"]) @ (i["P0"] / (1 + i["P0"] ** 2))) ** 2), tmp_path)


def found_delta_not_collapsed(tmp_path):
    """A local partial kept a Kronecker delta nested in a sum, tanh(P[a,b])**2*KroneckerDelta(c,b) + 1,
    beside a top-level delta factor; lowering failed, 'spans 3 indices: not vectorizable' (fixed in 5ca1732)."""
    from symgrad import tanh
    m, (N, L) = _model("delta_not_collapsed", "N L")
    P = m.parameter("P", (N, L))
    m.loss("Loss", ((P - tanh(P) + P.sum(axis=1)) ** 3).sum())
    _agrees(m, lambda i, d: anp().sum((i["P"] - anp().tanh(i["P"]) + anp().sum(i["P"], axis=1, keepdims=True))
                                      ** 3), tmp_path)


def found_second_order_diagonal_of_block(tmp_path):
    """Found by the second-order fuzzing: the tangent of ``grad_P1`` read the adjoint of a
    concatenation computed as its core (``2 * Loss_1[i] * delta(i, j)``) through its definition,
    which left ``delta(j, N + i)`` between free indices; the lowering refused it (fixed: a core
    adjoint is read through the core array, as first order reads it)."""
    from symgrad import concat_rows, diagonal, sum_squares
    m, (N, M) = _model("second_order_diagonal_of_block")
    P0, P1 = m.parameter("P0", (N, N + N)), m.parameter("P1", (N, N + N))
    m.loss("Loss", sum_squares(diagonal(concat_rows(P0, P1 * P1))))
    _hvp_agrees(m, tmp_path, "found by fuzzing")


def found_second_order_logdet_of_a_gram_matrix(tmp_path):
    """Found by the second-order fuzzing (a model without layers): the tangent of an adjoint of
    logdet(C0 + G G^T), G = sigmoid(minimum(P0, V0)) + C1, had its like terms combined into a
    factored sum reading G at rows a and b and column j together, three indices, which the
    lowering refuses (fixed: like terms stay as written when factoring them would do that)."""
    from symgrad import logdet, minimum, sigmoid, sum_squares
    m, (N, M, L) = _model("second_order_logdet_of_a_gram_matrix", "N M L")
    C0, C1 = m.constant("C0", (L, L)), m.constant("C1", (L, M))
    P0, P1 = m.parameter("P0", (L, M)), m.parameter("P1", (M, M))
    V0 = m.define("V0", P1.sum(axis=0))
    gram = sigmoid(minimum(P0, V0)) + C1
    m.loss("Loss", sum_squares(logdet(C0 + gram @ gram.T)))
    _hvp_agrees(m, tmp_path, "found by fuzzing")


def found_second_order_det_of_a_log_gram_matrix(tmp_path):
    """The hvp of det(C + G G^T), G = log(1 + V1 * V1) (a user's model; the fuzzer's draws of the
    same family, det/logdet/inv of a Gram matrix of log(1 + V**2)): differentiating an adjoint
    term that reads log(1 + V1[b, j]**2) / (1 + V1[a, j]**2) gave a sum whose parts each held a
    delta, and multiplying it out (SymPy's expand_mul) also multiplied the two denominators into
    one, 1/(V1[a, j]**2 V1[b, j]**2 + V1[a, j]**2 + V1[b, j]**2 + 1): a factor over three
    indices, 'not vectorizable' (fixed: sums are multiplied out with each denominator kept)."""
    from symgrad import det, log
    m, (N, M, L) = _model("det_gram", "N M L")
    C, V1 = m.constant("C", (L, L)), m.parameter("V1", (L, M))
    G = log(1 + V1 * V1)
    m.loss("Loss", det(C + G @ G.T))
    _hvp_agrees(m, tmp_path, "found as a user")


def found_inverse_of_a_rational_gram_matrix(tmp_path):
    """The gradient (first order already) of trace(inv(C + G G^T)), G = V / (1 + V * V): collapsing
    the deltas of a chain-rule step multiplied out a sum holding them, and with it the denominators
    1/(1 + V[a, j]**2) and 1/(1 + V[b, j]**2) into one factor over three indices, 'not vectorizable'
    (fixed as found_second_order_det_of_a_log_gram_matrix)."""
    from symgrad import inv, trace
    m, (M, L) = _model("inverse_of_a_rational_gram_matrix", "M L")
    C, V = m.constant("C", (L, L)), m.parameter("V", (L, M))
    m.sample_with("C", lambda rng, shape: 2 * np.eye(shape[0]) + 0.1 * rng.standard_normal(shape))
    G = V / (1 + V * V)
    m.loss("Loss", trace(inv(C + G @ G.T)))

    def reference(i, d):
        g = i["V"] / (1 + i["V"] ** 2)
        return anp().trace(anp().linalg.inv(i["C"] + g @ g.T))
    _agrees(m, reference, tmp_path)
    _hvp_agrees(m, tmp_path, "found as a user")


def found_hessian_of_a_number_in_an_einsum(tmp_path):
    """Found by the second-order fuzzing (seeds 9182 and 9259, `--focus /`): hessian() crashed
    with "cannot reshape array of size 396 into shape (3,4,1,1)". A (1, 1) parameter read as a
    number inside a full contraction was an einsum operand of shape (BATCH, 1, 1) under `...`, so
    its two axes of size 1 broadcast against the other operands' batch axis (fixed: a number
    enters a batched einsum without them)."""
    from symgrad import sum_squares
    m, (N, M, L) = _model("hessian_of_a_number_in_an_einsum", "N M L")
    C0, C1 = m.constant("C0", (N, M)), m.constant("C1", (1, 1))
    P0, P1, P2 = m.parameter("P0", (N, M)), m.parameter("P1", (M, L)), m.parameter("P2", (1, 1))
    m.loss("Loss", sum_squares((C0 + P0) @ ((P1 / P2) / C1)))
    _hvp_agrees(m, tmp_path, "found by fuzzing")


def found_an_index_typed_as_a_number(tmp_path):
    """A user's mixture of two experts read its softmax gate's columns in index notation,
    ``G[i, 0] * E1[i, j] + G[i, 1] * E2[i, j]``: the adjoint of G is nonzero in one column per
    term, ``delta(0, j) * ...``, and the lowering refused it as 'a Kronecker delta between free
    indices ... a Jacobian' (fixed: such a delta is the block ``[0 <= j <= 0]``, a column write)."""
    from symgrad import softmax, sum_squares, tanh
    m, (N, M) = _model("index_typed_as_a_number")
    X, W1, W2 = m.constant("X", (N, M)), m.parameter("W1", (M, M)), m.parameter("W2", (M, M))
    G = m.define("G", softmax(X @ m.parameter("Wg", (M, 3)), axis=1))
    E1, E2 = m.define("E1", tanh(X @ W1)), m.define("E2", X @ W2)
    out = m.define("out", shape=(N, M), index=lambda i, j: G[i, 0] * E1[i, j] + G[i, 2] * E2[i, j])
    m.loss("Loss", sum_squares(out))

    def reference(i, d):
        z = i["X"] @ i["Wg"]
        g = anp().exp(z) / anp().sum(anp().exp(z), axis=1, keepdims=True)
        mix = g[:, 0:1] * anp().tanh(i["X"] @ i["W1"]) + g[:, 2:3] * (i["X"] @ i["W2"])
        return anp().sum(mix ** 2)
    _agrees(m, reference, tmp_path)
    _hvp_agrees(m, tmp_path, "found as a user")


FIXED = [found_one_by_one, found_no_matrix_input, found_unread_dimension, found_parent_dimension_in_layer,
         found_sigmoid_of_sum, found_repeated_concat_block, found_negated_mask, found_einsum_missing_output,
         found_forward_reuse_order, found_reciprocal_in_matmul, found_scalar_log_sigmoid,     # a43e8e2
         found_reuse_index_leak,                                                              # 9e4f967
         found_scalar_negated_mask, found_concat_int_dtype, found_bool_mask_einsum,
         found_expanded_two_adjoint_accesses, found_bool_mask_sum,                            # c67c976
         found_delta_not_collapsed,                                                           # 5ca1732
         found_buffer_read_twice, found_gradients_sharing_one_array,                          # eea6248
         found_product_broadcast_into_block, found_merged_denominator,
         found_second_order_diagonal_of_block, found_second_order_logdet_of_a_gram_matrix,
         found_second_order_det_of_a_log_gram_matrix, found_inverse_of_a_rational_gram_matrix,
         found_hessian_of_a_number_in_an_einsum, found_an_index_typed_as_a_number]


@pytest.mark.parametrize("reproduce", FIXED, ids=[f.__name__[len("found_"):] for f in FIXED])
def test_bug_found_by_fuzzing_stays_fixed(reproduce, tmp_path):
    require("autograd")
    reproduce(tmp_path)


def anp():
    return require("autograd.numpy")
