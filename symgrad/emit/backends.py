"""The backends a model's code is generated for: NumPy, PyTorch, JAX and numba.

One table, one row per backend: the array printer that spells the IR (None:
NumPy's, with its passes over the statement IR), the file suffix and the templates.
Every backend's plan comes from the same lowering (``plan_for`` with the
backend's printer); a torch or JAX plan is the plain statements, and this
module adds what their templates need beyond the NumPy plan: which values
the backward reads (what ``forward`` saves for it), where the dimensions and
the values' dtype are read from inside each function. A numba plan is the
NumPy module's statements calling compiled loops; its templates also get the
loops (kernels) and the statements ``loss_and_grad`` needs (``numba_context``).
``rendering`` gives each backend's template and what it needs beyond the plan.

A backend's printer subclasses ``NumPyPrinter`` (``symgrad.lower.numpy_printer``), which
holds a method for every node (``_print_<Node>``) and every statement
(``_print_<Statement>``, ``symgrad.lower.statements``), and overrides the ones its library
spells differently; ``body_printer`` spells elementwise bodies (the table's field named by
its ``spelling``) and ``gradient`` a returned gradient. Its plan (``plan_for`` with the
printer) holds only ``Assign``, ``BlockAdd`` and ``DiagonalAdd`` statements: the in-place
statements come from NumPy's passes, which run for NumPy alone.

>>> from symgrad import catalogue
>>> from symgrad.differentiate.chain_rule import derive
>>> text = render_backend(derive(catalogue.build("ridge_regression")), "symgrad generate x", "torch")
>>> "class DerivedLoss(torch.autograd.Function):" in text
True
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

from symgrad.emit.module_plan import ModulePlan
from symgrad.emit.files import render_module
from symgrad.errors import SymgradError
from symgrad.lower.jax_printer import JaxPrinter
from symgrad.lower.numba_printer import NumbaPrinter
from symgrad.lower.numba_sweeps import SweepWriter
from symgrad.lower.numba_workspace import WorkspaceWriter
from symgrad.lower.statements import reads
from symgrad.lower.torch_printer import TorchPrinter
from symgrad.emit.layer_plan import part_plans, plan_for, template_context


@dataclass(frozen=True)
class Backend:
    name: str
    printer: type | None      # None: NumPy's printer and passes (``symgrad.lower.passes``)
    suffix: str               # the generated file is ``<model><suffix>.py``
    template: str | None      # None: NumPy's own choice (``emit.render_module``)
    stack_template: str | None


BACKENDS = {
    "numpy": Backend("numpy", None, "", None, None),
    "torch": Backend("torch", TorchPrinter, "_torch", "torch_module.py.j2", "torch_stack_module.py.j2"),
    "jax": Backend("jax", JaxPrinter, "_jax", "jax_module.py.j2", "jax_stack_module.py.j2"),
    "numba": Backend("numba", NumbaPrinter, "_numba", "numba_module.py.j2", "numba_stack_module.py.j2"),
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise SymgradError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None


@dataclass(frozen=True)
class FunctionState:
    """What one forward/backward pair of a torch or JAX module shares."""

    saved: tuple[str, ...]        # the inputs and intermediates the backward reads, in plan order
    saved_inputs: tuple[str, ...]
    dim_lines: tuple[str, ...]    # "N = X1.shape[0]": dimensions read inside a function
    dtype_source: str             # the array whose dtype (and device) the values have; "" where no input
                                  # is an array (scalars alone): float64, on the CPU for torch


def function_state(plan: ModulePlan, trusted_dims: tuple = ()) -> FunctionState:
    """The state of ``plan``'s backward: every name its statements and gradients read that the
    forward or the inputs define; the dimensions' sources and one array input always, where the
    model has one (a model of scalars alone computes in float64, on the CPU for torch: the
    templates' ``values_dtype``)."""
    used = set(plan.gradient_reads).union(*(reads(s) for block in plan.backward for s in block.statements))
    arrays = [i.name for i in plan.inputs if not i.is_scalar]
    sources = {source for _, source, _ in plan.dim_reads}
    dtype_source = next((s for _, s, _ in plan.dim_reads), arrays[0] if arrays else "")
    inputs = tuple(i.name for i in plan.inputs if i.name in used | sources | {dtype_source})
    intermediates = tuple(b.name for b in plan.forward if b.name in used)
    return FunctionState(inputs + intermediates, inputs,
                         tuple(f"{dim} = {source}.shape[{axis}]" for dim, source, axis in plan.dim_reads),
                         dtype_source)


@dataclass(frozen=True)
class LiveStatements:
    """The blocks one function of a numba module runs for its results (``live_blocks``), and
    whether they take buffers from the module's workspace (``numba_workspace``); ``hvp()`` also
    runs the tangents after the backward."""

    forward: tuple
    backward: tuple
    workspace: bool = False
    tangents: tuple = ()


def live_blocks(blocks: tuple, live_out: set[str], reads_of) -> tuple:
    """The blocks a function needs for ``live_out``: a block is dropped where no later block and
    no result reads the name it assigns (a block's statements all write its own name);
    ``reads_of``: the names a printed line reads."""
    needed, kept = set(live_out), []
    for block in reversed(blocks):
        if block.name in needed:
            kept.append(block)
            needed |= set().union(*(reads_of(line) for line in block.lines))
    return tuple(reversed(kept))


def live_statements(plan: ModulePlan, printer: NumbaPrinter, sweeps: SweepWriter, tangents: tuple = (),
                    returned: frozenset = frozenset(), prefix: str = "") -> LiveStatements:
    """The statements ``loss_and_grad`` of ``plan`` keeps: only those its loss and gradients need
    (a loop may compute a value again instead of reading it, ``NumbaPrinter.line_reads``;
    ``forward`` keeps every statement), with consecutive kernels over the same rows sharing one
    row loop (``numba_sweeps``) and their large arrays that stay inside in buffers kept between
    calls (``numba_workspace``). For ``hvp()``: ``tangents``, printed blocks run after the
    backward, and ``returned``, the names it returns beside the gradients, its workspace's
    functions named with ``prefix``."""
    live_out = {plan.loss, *plan.gradient_reads, *returned}
    blocks = live_blocks((*plan.forward, *plan.backward, *tangents), live_out, printer.line_reads.__getitem__)
    lines = [line for block in blocks for line in block.lines]
    workspace = WorkspaceWriter(printer, prefix)
    buffered = workspace.rewrite(lines, {*plan.gradient_reads, *returned})      # the loss is returned as a float
    replaced = workspace.taken(sweeps.rewrite(buffered, live_out), sweeps.written_into)
    rewritten = iter(replaced)
    blocks = [replace(b, lines=tuple(new for _ in b.lines for new in next(rewritten))) for b in blocks]
    forward, backward = {b.name for b in plan.forward}, {b.name for b in plan.backward}
    return LiveStatements(tuple(b for b in blocks if b.name in forward), tuple(b for b in blocks if b.name in backward),
                          bool(workspace.taken_slots),
                          tuple(b for b in blocks if b.name not in forward and b.name not in backward))


def numba_context(plan, functions: dict[str, ModulePlan], printer: NumbaPrinter, more_lines=()) -> dict:
    """What the numba templates need beyond the plan: the kernels the statements of every part
    call and, where the printer fused statements (one namespace: a value computed again in a
    later loop), the statements each function pair keeps, by the name the template knows it by
    (a stack's layers are not fused: their templates print every statement); ``more_lines``: the
    printed lines of other functions (``hvp()``, ``hessian()``), whose kernels are printed too."""
    sweeps = SweepWriter(printer)
    kept = {key: live_statements(part, printer, sweeps) for key, part in functions.items()} if printer.one_namespace else {}
    called = [block for live in kept.values() for block in (*live.forward, *live.backward)] if kept else \
        [block for part in part_plans(plan) for block in part.backward]
    forward = [block for part in part_plans(plan) for block in part.forward]    # ``forward`` prints them all
    lines = [*(line for block in (*forward, *called) for line in block.lines), *more_lines]
    return {**kernel_context(plan.model_name, printer.kernel_sources(lines)), **kept}


def kernel_context(model_name: str, kernels: tuple[str, ...]) -> dict:
    """The kernels, and the name of the module their globals live in: the model's name and a
    checksum of their source, so that two modules' kernels never share one (numba's cache finds
    a kernel's globals by that name)."""
    checksum = zlib.crc32("\n".join(kernels).encode("utf-8"))
    return {"kernels": kernels, "kernel_module": f"_symgrad_numba_{model_name}_{checksum:08x}"}


def rendering(plan, row: Backend, printer, more_lines=()) -> tuple[str, dict]:
    """The template backend ``row`` renders ``plan`` (printed by ``printer``) with, and what that
    template needs beyond the plan: each forward/backward pair's state (torch, JAX), or the
    kernels and the statements kept (numba; ``more_lines``: see ``numba_context``)."""
    template, functions = template_context(plan, row.template, row.stack_template)
    if isinstance(printer, NumbaPrinter):
        return template, numba_context(plan, functions, printer, more_lines)
    return template, {key: function_state(part) for key, part in functions.items()}


def render_backend(derivation, command: str, name: str) -> str:
    """The generated module of ``derivation`` for backend ``name``."""
    row = backend(name)
    if row.printer is None:
        return render_module(plan_for(derivation, command))
    printer = row.printer()
    plan = plan_for(derivation, command, printer)
    template, context = rendering(plan, row, printer)
    return render_module(plan, template, **context)
