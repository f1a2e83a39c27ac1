"""A derivation -> the data a generated module is rendered from.

Builds, as plain strings, everything ``templates/module.py.j2`` prints: the
inputs and how their shapes are checked, where each dimension is read from,
the forward statements, the backward statements (each with its index formula
as a comment) and the gradients returned. No template does any math.

Adjoints that are only a scalar multiple of another tensor (``grad_Y =
-grad_Delta``) are folded into their users instead of being computed, so
shared intermediates (the error, the masks) are computed once and nothing
is copied for nothing.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import sympy as sp

from symgrad.index.deltas import collapse
from symgrad.differentiate.chain_rule import Derivation, substitute
from symgrad.index.conventions import CORE_SUFFIX, adjoint_name
from symgrad.index.text import formula_text
from symgrad.errors import ModelError
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.differentiate.softmax_value import softmax_values
from symgrad.index.terms import IndexExpr, Term
from symgrad.lower.latex_names import base_latex
from symgrad.lower.nodes import Add, AxisMax, Elementwise, MatrixFunction, Slice, Tensor
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.passes import optimized
from symgrad.lower.statements import Allocate, Assign, BlockAssign, Statement, statements_into, unwrapped
from symgrad.lower.vectorize import lower_both, print_scalar


@dataclass(frozen=True)
class InputSpec:
    name: str
    role: str
    is_scalar: bool
    shape_text: str      # "(N, L)"
    shape_code: str      # "(N, L)" evaluated in the generated code
    shape_names: str     # '("N", "L")', the shape as data
    label: str           # how error messages name it: '"X1"', or 'f"W[{l}]"' for a list element


@dataclass(frozen=True)
class Block:
    name: str
    comments: tuple[str, ...]
    statements: tuple[Statement, ...]   # the IR (``symgrad.lower.statements``)
    latex: str = ""          # the same value as mathematics (the matrix view)
    relation: str = ""       # for a core: the adjoint it stands for, as mathematics
    lines: tuple[str, ...] = ()         # the statements as printed, once the passes are done


def printed(blocks, printer) -> tuple[Block, ...]:
    """``blocks`` with their statements printed by ``printer``."""
    return tuple(replace(b, lines=tuple(printer.print_statement(s) for s in b.statements)) for b in blocks)


@dataclass(frozen=True)
class ModulePlan:
    model_name: str
    description: str
    command: str
    inputs: tuple[InputSpec, ...]
    dim_reads: tuple[tuple[str, str, int], ...]   # (dimension, input, axis)
    forward: tuple[Block, ...]
    backward: tuple[Block, ...]
    intermediates: tuple[str, ...]
    loss: str
    gradients: tuple[tuple[str, str], ...]        # (parameter, expression)
    dimensions: tuple[str, ...]
    gradient_reads: tuple[str, ...] = ()          # the names the gradients' expressions read

    @property
    def unpack(self) -> str:
        """The names ``_inputs`` returns, in order: dimensions, then inputs."""
        names = [*self.dimensions, *(i.name for i in self.inputs)]
        return ", ".join(names) + ("," if len(names) == 1 else "")


def shape_text(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def shape_code(shape) -> str:
    return "(" + ", ".join(print_scalar(n) for n in shape) + ")"


def dimension_reads(model) -> tuple[tuple[str, str, int], ...]:
    reads = []
    used = {s for t in model.tensors.values() for n in t.shape for s in sp.sympify(n).free_symbols}
    used |= {s for d in model.definitions.values() for t in d.expr.terms
             for s in t.factor.free_symbols if s in set(model.dimensions.values())}
    for name, symbol in model.dimensions.items():
        if symbol not in used:
            continue
        source = next(((t.name, axis) for t in model.inputs for axis, n in enumerate(t.shape)
                       if n == symbol), None)
        if source is None:
            raise ModelError(f"model {model.name!r}: dimension {name} is not the size of any axis of "
                             "an input, so it cannot be read from the inputs")
        reads.append((name, *source))
    return tuple(reads)


def _is_alias(name: str, expr: IndexExpr, model, shapes: dict) -> bool:
    """A single-term, unsummed, scalar multiple of one whole tensor, in the same orientation."""
    if name in {t.name for t in model.of_role("parameter")} or len(expr.terms) != 1:
        return False
    term = expr.terms[0]
    if term.bound or term.conditions:
        return False
    accesses = [a for a in sp.Mul.make_args(term.factor) if isinstance(a, sp.Indexed)]
    others = [a for a in sp.Mul.make_args(term.factor) if not isinstance(a, sp.Indexed)]
    if len(accesses) != 1 or any(a.free_symbols - set(model.dimensions.values()) for a in others):
        return False
    access = accesses[0]
    return tuple(access.indices) == tuple(expr.indices) and all(
        sp.expand(a - b) == 0 for a, b in zip(shapes[str(access.base)], model.tensors[name].shape))


def _is_constant(name: str, expr: IndexExpr, model) -> bool:
    """An adjoint that is a plain number, like the 1 of a loss term added to the loss."""
    return (name not in {t.name for t in model.of_role("parameter")} and len(expr.terms) == 1
            and not expr.terms[0].bound and not expr.terms[0].conditions and expr.terms[0].factor.is_number)


def _is_separable(name: str, expr: IndexExpr, model) -> bool:
    """A single unsummed product in which no factor spans all of the adjoint's indices
    (an outer product such as ``C[0, i] * grad_Y[0, j]``): cheaper folded into its users,
    where it is multiplied in anyway and NumPy can reuse the temporary."""
    if name in {t.name for t in model.of_role("parameter")} or len(expr.terms) != 1:
        return False
    term = expr.terms[0]
    labels = {i for i in expr.indices if i != 0}
    if term.bound or term.conditions or len(labels) < 2:
        return False
    return all(not (labels <= arg.free_symbols) for arg in sp.Mul.make_args(term.factor))


def _on_diagonal(name: str, expr: IndexExpr, model, derivation: Derivation) -> bool:
    """An adjoint that lives on the diagonal (of a ``trace`` or ``diagonal``): every term a multiple
    of ``delta(p, q)`` between its two indices. Folded into its users, where the delta collapses,
    instead of a dense diagonal matrix in their matrix products; kept as an array (its diagonal
    written into zeros) where a user reads it at an offset (a block of a concatenation), which the
    collapsed delta would turn into a diagonal at an offset."""
    indices = set(expr.indices) - {0}
    if name in {t.name for t in model.of_role("parameter")} or len(indices) != 2 or not expr.terms:
        return False
    if not all(any(isinstance(f, sp.KroneckerDelta) and set(f.args) == indices
                   for f in sp.Mul.make_args(t.factor)) for t in expr.terms):
        return False
    base = adjoint_name(name)
    return all(all(i == 0 or i.is_Symbol for i in access.indices)
               for other in derivation.adjoints.values() for t in other.terms
               for access in t.factor.atoms(sp.Indexed) if str(access.base) == base)


def _contracted_axes(name: str, derivation: Derivation, memo: dict) -> set[int]:
    """Axes of ``grad_<name>`` that some later adjoint sums over, looking through the adjoints
    that only copy or slice it (``grad_Z1 = grad_Z[:M]``). ``memo``: one dict per derivation
    (each name is looked at once: the adjoints form a DAG, and a chain of layers would
    otherwise be walked once per path)."""
    if name in memo:
        return memo[name]
    if None not in memo:        # adjoint base name -> (user, user's indices, bound symbols, access)
        reads: dict[str, list] = {}
        for user, expr in derivation.adjoints.items():
            for term in expr.terms:
                bound = set(term.bound_symbols)
                for access in term.factor.atoms(sp.Indexed):
                    reads.setdefault(str(access.base), []).append((user, expr.indices, bound, access))
        memo[None] = reads      # None: no tensor's name
    memo[name] = set()          # a guard while this name is being computed
    axes = set()
    for user, indices, bound, access in memo[None].get(adjoint_name(name), ()):
        for axis, index in enumerate(access.indices):
            if index.free_symbols & bound:
                axes.add(axis)
            elif index in indices and index != 0 and user != name:
                if indices.index(index) in _contracted_axes(user, derivation, memo):
                    axes.add(axis)
    memo[name] = axes
    return axes


def _pull_out(name: str, expr: IndexExpr, model, derivation, memo: dict) -> tuple[sp.Expr, sp.Expr] | None:
    """For a one-term adjoint ``outer * core``: the factors that no later adjoint sums over (a
    scalar, a row or column vector), kept out of the big array and applied to the small results
    downstream. Returns (outer, core) or None."""
    if name in {t.name for t in model.of_role("parameter")} or len(expr.terms) != 1:
        return None
    term = expr.terms[0]
    labels = [i for i in expr.indices if i != 0]
    if term.bound or term.conditions or len(labels) != 2:
        return None
    contracted = _contracted_axes(name, derivation, memo)
    keep = {i for axis, i in enumerate(expr.indices) if i != 0 and axis not in contracted}
    outer, core = [], []
    for factor in sp.Mul.make_args(term.factor):
        used = factor.free_symbols & set(labels)
        (outer if used <= keep and used != set(labels) else core).append(factor)
    if not any(f.free_symbols & set(labels) for f in outer) or not any(set(labels) <= f.free_symbols for f in core):
        return None   # a scalar alone is cheaper folded into the one pass that computes the core
    return sp.Mul(*outer), sp.Mul(*core)


def _gradient_code(parameter: str, model, derivation: Derivation, printer=None) -> str:
    shape = model.tensors[parameter].shape
    if printer is not None:     # another backend: its zeros, and a scalar stays one of its values
        return printer.gradient(adjoint_name(parameter) if parameter in derivation.adjoints else None, shape)
    if parameter not in derivation.adjoints:  # the loss does not depend on it
        return f"np.zeros({shape_code(shape)})" if shape else "0.0"
    return adjoint_name(parameter) if shape else f"float({adjoint_name(parameter)})"


def _forward_blocks(model, shapes: dict, reserved: set, in_views: bool) -> list[Block]:
    """The forward statements. A tensor stacked into a larger one (``Z = [Z1; Z2]``) is computed
    straight into its block of the larger array, which is allocated once, instead of being
    copied there afterwards (large temporaries are the first cost at medium sizes); not so
    without ``in_views`` (another backend, whose statements only assign)."""
    lowered, expressions = {}, {}
    for name, definition in model.definitions.items():
        if definition.origin in ("max", "matrix"):
            continue
        expressions[name] = reuse_forward_values(definition.expr, model, until=name)
        lowered[name] = lower_both(name, expressions[name], model.tensors[name].shape, shapes,
                                   model.space.ranges_of(expressions[name].indices))
    home = {}   # block tensor -> (stacked tensor, bounds), for a tensor stacked exactly once
    stacked_in = [_named(block) for low in lowered.values() for _, block in low.tiles] if in_views else []
    for name, low in lowered.items():
        for bounds, block in low.tiles:
            code = _named(block)
            if code in lowered and lowered[code].parts and stacked_in.count(code) == 1:
                home[code] = (name, bounds)
    forward, allocated = [], set()
    for name, definition in model.definitions.items():
        shape = model.tensors[name].shape
        if definition.origin == "max":
            source, axis = definition.reduce
            forward.append(Block(name, (f"{name} = max over axis {axis} of {source} (a constant shift)",),
                                 (Assign(name, AxisMax(Tensor(source, shapes[source]), axis)),),
                                 rf"\max_{{\mathrm{{axis}}\,{axis}}} {base_latex(source)}"))
            continue
        if definition.origin == "matrix":
            opaque = definition.opaque
            value = MatrixFunction(opaque, Tensor(opaque.source, shapes[opaque.source]), shape)
            forward.append(Block(name, (f"{name} = {opaque.function.name}({opaque.source})",),
                                 (Assign(name, value),), opaque.latex()))
            continue
        low, statements = lowered[name], []
        comment = formula_text(name, expressions[name], reserved)
        if name in home:
            stacked, bounds = home[name]
            stacked_shape = model.tensors[stacked].shape
            if stacked not in allocated:
                allocated.add(stacked)
                statements.append(Allocate(stacked, stacked_shape))
            statements += [Assign(name, Slice(Tensor(stacked, stacked_shape), bounds)),
                           *statements_into(name, Add(low.parts))]
        elif low.tiles and any(home.get(_named(block)) == (name, bounds) for bounds, block in low.tiles):
            if name not in allocated:
                statements.append(Allocate(name, shape))
            statements += [BlockAssign(name, bounds, shape, block) for bounds, block in low.tiles
                           if home.get(_named(block)) != (name, bounds)]
            comment += "   (its blocks were computed in place above)"
        else:
            statements = list(low.statements)
        forward.append(Block(name, (comment,), tuple(statements), low.latex))
    return forward


def _named(block) -> str | None:
    """The tensor a block of a concatenation is, whole, or None."""
    block = unwrapped(block)
    if isinstance(block, Elementwise) and isinstance(block.body, sp.Indexed):
        block = block.operand(block.body)
    return block.name if isinstance(block, Tensor) else None


EXPANDED_LIMIT = 12   # adjoints substituted for a gradient's comment; a deep chain's grows with its depth


def fewer_temporaries(forward: tuple, backward: tuple, model, live_out: set[str]):
    """The statements of ``loss_and_grad`` with repeated array expressions computed once and
    elementwise chains evaluated in place (``symgrad.lower.passes``); ``forward`` keeps the model's
    values intact."""
    statements = optimized([b.statements for b in (*forward, *backward)], floats={t.name for t in model.inputs},
                           live_out=live_out, protected=set(model.tensors))
    blocks = tuple(replace(b, statements=s) for b, s in zip((*forward, *backward), statements))
    return blocks[:len(forward)], blocks[len(forward):]


def _with_folded(terms, folded: dict, derivation: Derivation, indices) -> tuple:
    """``terms`` with each folded adjoint substituted in turn, collapsed after each substitution.
    Collapsing is a pure function of the terms: once it leaves them as they are, it is skipped
    until a substitution changes them (a folded adjoint they do not read leaves them alone)."""
    ranges = derivation.space.ranges_of(indices)
    read, read_by, settled = set(), None, False
    for other, definition in folded.items():
        if read_by is not terms:
            read, read_by = {str(getattr(s, "base", s)) for t in terms for s in t.factor.free_symbols}, terms
        base = adjoint_name(other)
        if base not in read:
            if settled:
                continue
            substituted = terms
        else:
            substituted = substitute(terms, base, definition, derivation.space)
        terms = collapse(substituted, ranges)
        settled = terms == substituted
    return terms


def plan_module(derivation: Derivation, command: str, labels: dict[str, str] | None = None,
                share: bool = True, printer=None) -> ModulePlan:
    """Everything the module template needs, as strings.

    ``labels`` names inputs in error messages as code (``'f"W[{l}]"'`` for a list element);
    ``share``: compute repeated array expressions once and evaluate elementwise chains in
    place (``fewer_temporaries``; a layer's plan does that per function instead).
    ``printer``: another backend's array printer (``symgrad.backends``); its plan is the plain
    statements, without the NumPy-only passes (``symgrad.lower.passes``).
    """
    labels = labels or {}
    model = derivation.model
    # planning draws fresh index names (substituting folded adjoints, expanding a gradient for its
    # comment): from a copy, so that the derivation is left as it was
    derivation = replace(derivation, space=copy.deepcopy(derivation.space))
    space = derivation.space
    reserved = set(model.tensors) | set(model.dimensions)
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})

    forward = _forward_blocks(model, shapes, reserved, in_views=printer is None)
    parameters = [t.name for t in model.of_role("parameter")]
    backward, folded, axes_memo = [], {}, {}
    softmax_parts = {part for found in softmax_values(model) for part in (found.total, found.exp)}
    for name in reversed(derivation.order):
        if name == model.loss_name:
            continue
        expr = derivation.adjoints[name]
        expr = IndexExpr(expr.indices, _with_folded(expr.terms, folded, derivation, expr.indices))
        shown = reuse_forward_values(expr, model, cheaper=False)
        expr = reuse_forward_values(expr, model)
        if _is_alias(name, expr, model, shapes) or _is_separable(name, expr, model) \
                or _is_constant(name, expr, model) or _on_diagonal(name, expr, model, derivation) \
                or name in softmax_parts:    # folded: its exp / sum then reads as the softmax value
            folded[name] = expr
            continue
        target = adjoint_name(name)
        comments = [formula_text(target, shown, reserved)]
        split = _pull_out(name, expr, model, derivation, axes_memo)
        if split is not None:   # compute the core once; the outer factors go to the small results
            outer, core = split
            target = f"{target}{CORE_SUFFIX}"
            shapes[target] = model.tensors[name].shape
            entry = sp.IndexedBase(target)[expr.indices]
            folded[name] = IndexExpr(expr.indices, (Term(outer * entry),))
            expr = IndexExpr(expr.indices, (Term(core),))
            comments = [formula_text(adjoint_name(name), folded[name], reserved),
                        formula_text(target, expr, reserved) + "   (computed once; the factor in "
                        "front is applied to the small results below)"]
        expanded = derivation.expanded(name, EXPANDED_LIMIT) if name in parameters else None
        if name in parameters and expanded is None:
            comments.insert(0, f"dLoss/d{name}: more than {EXPANDED_LIMIT} adjoints deep, not expanded "
                               f"here (`symgrad show` prints it); the chain below computes it")
        elif name in parameters:
            collapsed = derivation.collapsed_text(name, f"dLoss/d{name}", expanded)
            if collapsed.split(" = ", 1)[1] != comments[0].split(" = ", 1)[1]:
                comments.insert(0, collapsed)
            else:
                comments = [collapsed]
        lowered = lower_both(target, expr, model.tensors[name].shape, shapes, space.ranges_of(expr.indices))
        relation = "" if split is None else lower_both(
            adjoint_name(name), folded[name], model.tensors[name].shape, shapes,
            space.ranges_of(expr.indices)).latex
        backward.append(Block(target, tuple(comments), lowered.statements, lowered.latex, relation))
    gradients = tuple((p, _gradient_code(p, model, derivation, printer)) for p in parameters)
    gradient_reads = tuple(adjoint_name(p) for p in parameters if p in derivation.adjoints)
    if share and printer is None:
        forward, backward = fewer_temporaries(tuple(forward), tuple(backward), model,
                                              {model.loss_name, *gradient_reads})
    printer = printer or NumPyPrinter()
    return ModulePlan(
        model_name=model.name,
        description=model.description,
        command=command,
        inputs=tuple(InputSpec(t.name, t.role, not t.shape, shape_text(t.shape), shape_code(t.shape),
                               repr(tuple(str(n) for n in t.shape)), labels.get(t.name, f'"{t.name}"'))
                     for t in model.inputs),
        dim_reads=dimension_reads(model),
        forward=printed(forward, printer),
        backward=printed(backward, printer),
        intermediates=tuple(model.definitions),
        loss=model.loss_name,
        gradients=gradients,
        dimensions=tuple(d for d, _, _ in dimension_reads(model)),
        gradient_reads=gradient_reads,
    )
