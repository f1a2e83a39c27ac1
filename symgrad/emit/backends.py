"""The backends a model's code is generated for: NumPy, PyTorch and JAX.

One table, one row per backend: the array printer that spells the IR (None:
NumPy's, with its passes over the statement IR), the file suffix and the templates.
Every backend's plan comes from the same lowering (``plan_for`` with the
backend's printer); a torch or JAX plan is the plain statements, and this
module adds what their templates need beyond the NumPy plan: which values
the backward reads (what ``forward`` saves for it), where the dimensions and
the values' dtype are read from inside each function.

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

from dataclasses import dataclass

from symgrad.emit.module_plan import ModulePlan
from symgrad.emit.files import render_module
from symgrad.errors import SymgradError
from symgrad.lower.jax_printer import JaxPrinter
from symgrad.lower.statements import reads
from symgrad.lower.torch_printer import TorchPrinter
from symgrad.emit.layer_plan import plan_for, template_context


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
    dtype_source: str             # the array whose dtype (and device) the values have


def function_state(plan: ModulePlan, trusted_dims: tuple = ()) -> FunctionState:
    """The state of ``plan``'s backward: every name its statements and gradients read that the
    forward or the inputs define; the dimensions' sources and one array input always."""
    used = set(plan.gradient_reads).union(*(reads(s) for block in plan.backward for s in block.statements))
    arrays = [i.name for i in plan.inputs if not i.is_scalar]
    sources = {source for _, source, _ in plan.dim_reads}
    dtype_source = next((s for _, s, _ in plan.dim_reads), arrays[0] if arrays else "")
    inputs = tuple(i.name for i in plan.inputs if i.name in used | sources | {dtype_source})
    intermediates = tuple(b.name for b in plan.forward if b.name in used)
    return FunctionState(inputs + intermediates, inputs,
                         tuple(f"{dim} = {source}.shape[{axis}]" for dim, source, axis in plan.dim_reads),
                         dtype_source)


def render_backend(derivation, command: str, name: str) -> str:
    """The generated module of ``derivation`` for backend ``name``."""
    row = backend(name)
    if row.printer is None:
        return render_module(plan_for(derivation, command))
    plan = plan_for(derivation, command, row.printer())
    template, functions = template_context(plan, row.template, row.stack_template)
    return render_module(plan, template, **{key: function_state(part) for key, part in functions.items()})
