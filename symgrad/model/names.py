"""Which names a model may give its tensors, dimensions and list inputs.

Every name becomes a variable of the generated module, so a name that Python
or the generated code already means something by is refused when the model
is built, with the reason::

    >>> refusal("float")
    'a Python builtin; generated code would shadow it'
    >>> refusal("W1") is None
    True

The soft keywords ``match`` and ``case`` stay allowed: they are ordinary
variable names everywhere outside a ``match`` statement, and generated code
has none (``type`` is refused as a builtin, ``_`` by its underscore). ``tests/test_model_checks.py`` checks that every name a generated
module of the catalogue uses itself is refused here.
"""
from __future__ import annotations

import builtins
import keyword

from symgrad.index.conventions import ADJOINT_PREFIX, CORE_SUFFIX, SHARED_PREFIX, TANGENT_PREFIX

# The generated module's own names (templates/module.py.j2, macros.j2): its import, its
# module-level names, and the names it has always kept from models.
GENERATED_NAMES = frozenset({
    "np", "numpy", "INPUTS", "PARAMETERS", "LISTS", "SHAPES", "forward", "loss", "loss_and_grad",
    "inputs", "grads", "value",
    # the torch and JAX modules (templates/torch_*.j2, jax_*.j2): imports, the Function, its context
    "torch", "jax", "jnp", "math", "DerivedLoss", "ctx",
    "numba",   # the numba module (templates/numba_*.j2)
    # second order (``--hvp``: templates/hvp.py.j2)
    "hvp", "hessian", "tangents", "hvps", "HESSIAN_LIMIT",
})

# The variables a layered model's driver keeps beside the model's names (stack_module.py.j2):
# refused in models with a stack and in their layers only (hw1's loss is called ``l``).
STACK_NAMES = frozenset({
    "carry", "depth", "hidden_loss", "states", "state", "added", "last", "l", "need_input",
    "hidden_names", "output_names", "first", "lists", "lengths", "name",
    "vjp",   # the loss symgrad gives a stack's hidden layer (symgrad/model/layers.py)
})

# Families of names the code generator makes: (prefix, suffix, reason).
GENERATED_FAMILIES = (
    ("_", "", "reserved: a leading underscore marks the generated module's helpers (_inputs, _matrix)"),
    (ADJOINT_PREFIX, "", "reserved: grad_ starts the names of the generated adjoints (grad_W)"),
    (SHARED_PREFIX + "_", "", "reserved: shared_ starts the names of values the generated code computes once"),
    (TANGENT_PREFIX, "", "reserved: dot_ starts the names of the generated tangents (dot_W, dot_grad_W)"),
    ("", CORE_SUFFIX, "reserved: _core ends the names of generated adjoint cores (grad_Z_core)"),
)

BUILTINS = frozenset(dir(builtins))


def refusal(name, stacked: bool = False) -> str | None:
    """Why ``name`` cannot name a tensor, dimension or list input of a model (``stacked``: one
    with layers); None when it can."""
    if not isinstance(name, str):
        return f"a {type(name).__name__}, not a string"
    if not name.isidentifier():
        return "not a Python identifier"
    if not name.isascii():
        return ("not ASCII; Python rewrites non-ASCII identifiers (NFKC), so the generated function "
                "would not take it as a keyword, and pdflatex cannot typeset it")
    if keyword.iskeyword(name):
        return "a Python keyword; generated code would not parse"
    if name in BUILTINS:
        return "a Python builtin; generated code would shadow it"
    if name in GENERATED_NAMES:
        return "reserved: the generated module uses this name itself"
    if stacked and name in STACK_NAMES:
        return "reserved: the generated module of a model with layers uses this name itself"
    for prefix, suffix, reason in GENERATED_FAMILIES:
        if (prefix and name.startswith(prefix)) or (suffix and name.endswith(suffix)):
            return reason
    return None


def model_name_refusal(name) -> str | None:
    """Why ``name`` cannot name a model (it names the generated module and its file); None when it can."""
    if not isinstance(name, str) or not name.isidentifier():
        return "not a Python identifier; it names the generated module"
    if not name.isascii():
        return "not ASCII; it names the generated module and its file"
    if keyword.iskeyword(name):
        return "a Python keyword; the generated module could not be imported by that name"
    if name == "numpy":
        return "the name of NumPy, which the generated module imports"
    return None
