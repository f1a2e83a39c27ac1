"""A derivation -> the data a generated module is rendered from.

Builds everything ``templates/module.py.j2`` prints: the inputs and how their
shapes are checked, where each dimension is read from, the forward statements,
the backward statements (each with its index formula as a comment) and the
gradients returned, as IR statements (``symgrad.lower.statements``) passed
through NumPy's rewrites (``symgrad.lower.passes``) and then printed. Which
adjoints are computed, and which are folded into their users, is decided by
``symgrad.differentiate.adjoint_folding``. No template does any math.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from symgrad.differentiate.adjoint_folding import ComputedAdjoint, fold_adjoints
from symgrad.differentiate.chain_rule import Derivation
from symgrad.index.conventions import adjoint_name
from symgrad.index.terms import IndexExpr
from symgrad.index.text import formula_text
from symgrad.errors import ModelError
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.differentiate.softmax_value import from_exponentials
from symgrad.lower.latex_names import base_latex
from symgrad.lower.nodes import Add, AxisMax, Elementwise, MatrixFunction, Ones, Slice, Tensor
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.passes import fewer_products, optimized, shared_where_worth
from symgrad.lower.statements import (Allocate, Assign, BlockAssign, Statement, WorkspaceTake, nodes_of,
                                      reads, statements_into, subnodes, unwrapped)
from symgrad.lower.vectorize import lower_both, matrix_view, print_scalar


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
    view: object = ""           # the matrix view: its LaTeX, or what prints it when read (a ``Lowered``, a ``MatrixView``)
    relation_view: object = ""  # for a core: the adjoint it stands for, the same way
    stands_for: IndexExpr | None = None   # for a core: that adjoint, as the outer factors times the core
    lines: tuple[str, ...] = ()         # the statements as printed, once the passes are done

    @property
    def latex(self) -> str:
        """The same value as mathematics (the matrix view); printed when first read, as only the
        documents read it."""
        return _latex(self.view)

    @property
    def relation(self) -> str:
        """For a core: the adjoint it stands for, as mathematics (else empty)."""
        return _latex(self.relation_view)


def _latex(view) -> str:
    return view if isinstance(view, str) else view.latex


def reads_kept_constants(blocks) -> bool:
    """Whether the statements of ``blocks`` read a kept vector of ones (``passes.kept_constants``):
    the module then defines ``_constant``."""
    return any(isinstance(n, Ones) and n.kept for b in blocks for s in b.statements for node in nodes_of(s)
               for n in subnodes(node))


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
    workspace: bool = False                # ``loss_and_grad`` keeps buffers between calls (``_workspace``)
    constants: bool = False                # its statements read kept vectors of ones (``_constant``)

    @property
    def unpack(self) -> str:
        """The names ``_inputs`` returns, in order: dimensions, then inputs."""
        return unpacked([*self.dimensions, *(i.name for i in self.inputs)])


def unpacked(names) -> str:
    """Names as the left side of a tuple assignment (``a, b``; one name: ``a,``)."""
    names = list(names)
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


def _gradient_code(parameter: str, model, derivation: Derivation, printer=None) -> str:
    shape = model.tensors[parameter].shape
    if printer is not None:     # another backend: its zeros, and a scalar stays one of its values
        return printer.gradient(adjoint_name(parameter) if parameter in derivation.adjoints else None, shape)
    if parameter not in derivation.adjoints:  # the loss does not depend on it
        return f"np.zeros({shape_code(shape)})" if shape else "0.0"
    return adjoint_name(parameter) if shape else f"float({adjoint_name(parameter)})"


def _forward_blocks(model, shapes: dict, reserved: set, in_views: bool) -> list[Block]:
    """The forward statements (a softmax from its exponentials, not a second ``exp``: see
    ``softmax_value``). A tensor stacked into a larger one (``Z = [Z1; Z2]``) is computed
    straight into its block of the larger array, which is allocated once, instead of being
    copied there afterwards (large temporaries are the first cost at medium sizes); not so
    without ``in_views`` (another backend, whose statements only assign)."""
    lowered, expressions = {}, {}
    for name, definition in model.definitions.items():
        if definition.origin in ("max", "matrix"):
            continue
        expressions[name] = from_exponentials(name, model) or reuse_forward_values(definition.expr, model, until=name)
        lowered[name] = lower_both(name, expressions[name], model.tensors[name].shape, shapes,
                                   model.space.ranges_of(expressions[name].indices))
    homes = stacked_homes(lowered) if in_views else {}
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
        low, comment = lowered[name], formula_text(name, expressions[name], reserved)
        statements, blocks_above = statements_in_views(name, low, shapes, homes, allocated)
        if blocks_above:
            comment += "   (its blocks were computed in place above)"
        forward.append(Block(name, (comment,), tuple(statements), low))
    return forward


def stacked_homes(lowered: dict) -> dict:
    """Of ``lowered`` (name -> ``Lowered``, in the order they are computed): each tensor that is a
    whole block of exactly one stacked tensor (``Z = [Z1; Z2]``) and is itself a plain sum ->
    (that stacked tensor, the block's bounds). Such a block can be computed straight into its
    part of the stacked array instead of being copied there afterwards (large temporaries are
    the first cost at medium sizes)."""
    stacked_in = [_named(block) for low in lowered.values() for _, block in low.tiles]
    homes = {}
    for name, low in lowered.items():
        for bounds, block in low.tiles:
            code = _named(block)
            if code in lowered and lowered[code].parts and stacked_in.count(code) == 1:
                homes[code] = (name, bounds)
    return homes


def statements_in_views(name: str, low, shapes: dict, homes: dict, allocated: set) -> tuple[list[Statement], bool]:
    """The statements computing ``name`` (``low``: its ``Lowered``), given ``stacked_homes``: a
    block computed into its view of the stacked array (allocated by the first of its blocks:
    ``allocated`` records that), a stacked array given only its other blocks; and whether the
    stacked array's blocks were computed in place above."""
    if name in homes:
        stacked, bounds = homes[name]
        statements = []
        if stacked not in allocated:
            allocated.add(stacked)
            statements.append(Allocate(stacked, shapes[stacked]))
        return [*statements, Assign(name, Slice(Tensor(stacked, shapes[stacked]), bounds)),
                *statements_into(name, Add(low.parts))], False
    if low.tiles and any(homes.get(_named(block)) == (name, bounds) for bounds, block in low.tiles):
        shape = shapes[name]
        statements = [] if name in allocated else [Allocate(name, shape)]
        return statements + [BlockAssign(name, bounds, shape, block) for bounds, block in low.tiles
                             if homes.get(_named(block)) != (name, bounds)], True
    return list(low.statements), False


def _named(block) -> str | None:
    """The tensor a block of a concatenation is, whole, or None."""
    block = unwrapped(block)
    if isinstance(block, Elementwise) and isinstance(block.body, sp.Indexed):
        block = block.operand(block.body)
    return block.name if isinstance(block, Tensor) else None


def _with_fewer_products(forward: tuple, backward: tuple, printer) -> tuple[tuple, tuple]:
    """The blocks of ``loss_and_grad`` with their statements through ``passes.fewer_products``,
    all of them at once (a product computed in two blocks is left for each to compute) and, where
    the printer says which are worth it (``printer.worth_sharing``), the repeated values computed once,
    each a block of its own just before the block that first reads it (in the forward where that
    one is: a function needs a block only where it reads its name, ``emit.backends.live_blocks``)."""
    blocks = (*forward, *backward)
    statements = fewer_products([s for b in blocks for s in b.statements])
    owner = [k for k, b in enumerate(blocks) for _ in b.statements]
    worth = printer.worth_sharing
    pairs = list(enumerate(statements)) if worth is None else shared_where_worth(statements, worth)
    printer.planned([statement for _, statement in pairs])
    rebuilt: list[list] = [[] for _ in blocks]       # per block: shared blocks, then its own statements
    kept: list[list] = [[] for _ in blocks]
    for j, (k, statement) in enumerate(pairs):
        if j + 1 < len(pairs) and pairs[j + 1][0] == k:      # a shared value, before statement k
            if blocks[owner[k]].name in reads(statement):
                raise AssertionError(f"shared {statement.target} reads the block it precedes")
            rebuilt[owner[k]].append(Block(statement.target, (), (statement,)))
        else:
            kept[owner[k]].append(statement)
    out = tuple(b for k, block in enumerate(blocks)
                for b in (*rebuilt[k], replace(block, statements=tuple(kept[k]))))
    count = len(forward) + sum(len(rebuilt[k]) for k in range(len(forward)))
    return out[:count], out[count:]


EXPANDED_LIMIT = 12   # adjoints substituted for a gradient's comment; a deep chain's grows with its depth


def fewer_temporaries(forward: tuple, backward: tuple, model, live_out: set[str], workspace: bool = False):
    """The statements of ``loss_and_grad`` with repeated array expressions computed once and
    elementwise chains evaluated in place (``symgrad.lower.passes``); ``forward`` keeps the model's
    values intact (``forward()`` prints the same statements, so ``loss()`` gives the very same
    number). ``workspace``: the backward's large temporaries in buffers kept between calls."""
    statements = optimized([b.statements for b in (*forward, *backward)], floats={t.name for t in model.inputs},
                           live_out=live_out, protected=set(model.tensors),
                           workspace_from=len(forward) if workspace else None, constants=True)
    blocks = tuple(replace(b, statements=s) for b, s in zip((*forward, *backward), statements))
    return blocks[:len(forward)], blocks[len(forward):]


def _comments(adjoint: ComputedAdjoint, derivation: Derivation, reserved: set) -> tuple[str, ...]:
    """The comments above an adjoint's statements: its index formula (and, for a core, the
    relation to the adjoint it stands for); for a parameter, its gradient expanded down to forward
    values first, where that differs and is not too deep."""
    name, target = adjoint.name, adjoint.target
    if adjoint.relation is None:
        comments = [formula_text(target, adjoint.shown, reserved)]
    else:
        comments = [formula_text(adjoint_name(name), adjoint.relation, reserved),
                    formula_text(target, adjoint.expr, reserved) + "   (computed once; the factor in "
                    "front is applied to the small results below)"]
    if derivation.model.tensors[name].role != "parameter":
        return tuple(comments)
    expanded = derivation.expanded(name, EXPANDED_LIMIT)
    if expanded is None:
        return (f"dLoss/d{name}: more than {EXPANDED_LIMIT} adjoints deep, not expanded here "
                f"(`symgrad show` prints it); the chain below computes it", *comments)
    collapsed = derivation.collapsed_text(name, f"dLoss/d{name}", expanded)
    if collapsed.split(" = ", 1)[1] != comments[0].split(" = ", 1)[1]:
        return (collapsed, *comments)
    return (collapsed,)


def plan_module(derivation: Derivation, command: str, labels: dict[str, str] | None = None,
                share: bool = True, printer=None) -> ModulePlan:
    """Everything the module template needs, as strings.

    ``labels`` names inputs in error messages as code (``'f"W[{l}]"'`` for a list element);
    ``share``: compute repeated array expressions once and evaluate elementwise chains in
    place (``fewer_temporaries``; a layer's plan does that per function instead).
    ``printer``: another backend's array printer (``symgrad.backends``); its plan is the plain
    statements, without the NumPy-only passes (``symgrad.lower.passes``) but with fewer matrix
    products (``passes.fewer_products``).
    """
    labels = labels or {}
    model = derivation.model
    # planning draws fresh index names (substituting folded adjoints, expanding a gradient for its
    # comment): from a copy, so that the derivation is left as it was
    derivation = replace(derivation, space=derivation.space.copy())
    space = derivation.space
    reserved = set(model.tensors) | set(model.dimensions)
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})

    forward = _forward_blocks(model, shapes, reserved, in_views=printer is None)
    parameters = [t.name for t in model.of_role("parameter")]
    backward = []
    for adjoint in fold_adjoints(derivation):
        shapes[adjoint.target] = model.tensors[adjoint.name].shape
        comments = _comments(adjoint, derivation, reserved)
        ranges = space.ranges_of(adjoint.expr.indices)
        lowered = lower_both(adjoint.target, adjoint.expr, model.tensors[adjoint.name].shape, shapes, ranges)
        relation = "" if adjoint.relation is None else matrix_view(
            adjoint.relation, model.tensors[adjoint.name].shape, shapes, ranges)
        backward.append(Block(adjoint.target, comments, lowered.statements, lowered, relation, adjoint.relation))
    gradients = tuple((p, _gradient_code(p, model, derivation, printer)) for p in parameters)
    gradient_reads = tuple(adjoint_name(p) for p in parameters if p in derivation.adjoints)
    if share and printer is None:
        forward, backward = fewer_temporaries(tuple(forward), tuple(backward), model,
                                              {model.loss_name, *gradient_reads}, workspace=True)
    elif printer is not None:
        forward, backward = _with_fewer_products(tuple(forward), tuple(backward), printer)
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
        workspace=any(isinstance(s, WorkspaceTake) for b in backward for s in b.statements),
        constants=reads_kept_constants((*forward, *backward)),
    )
