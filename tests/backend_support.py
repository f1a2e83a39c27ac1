"""What the torch and JAX backend tests share: the committed backend modules, inputs drawn as
the NumPy checks draw them (away from kinks, all dimensions different), and error measures."""
from __future__ import annotations

import ast

import numpy as np

from symgrad import catalogue
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated

from .conftest import GENERATED

STACK_DEPTH = 2          # a layered model: one hidden layer and the output layer
AGREEMENT_RTOL = 1e-10   # derived gradient vs the backend's own autodiff of the forward, float64


def modules(name: str, backend: str):
    """(NumPy module, the backend's module) of a catalogue model, as committed."""
    return import_generated(GENERATED / f"{name}.py"), import_generated(GENERATED / f"{name}_{backend}.py")


def numpy_point(name: str, which: int = 0, seed: int = 0):
    """(model, inputs as NumPy values) at a point away from the kinks."""
    model = catalogue.build(name)
    numpy_module = import_generated(GENERATED / f"{name}.py")
    depth = STACK_DEPTH if model.stack is not None else 1
    inputs = sample_inputs(model, numpy_module, dimension_values(model, which), np.random.default_rng(seed),
                           depth=depth)
    return model, inputs


def convert(inputs: dict, array):
    """Each array (and each array of a list input) through ``array(name, value)``; scalars stay floats."""
    out = {}
    for name, value in inputs.items():
        if isinstance(value, list):
            out[name] = [array(name, v) for v in value]
        elif isinstance(value, np.ndarray):
            out[name] = array(name, value)
        else:
            out[name] = value
    return out


def relative_error(got, expected) -> float:
    """max |got - expected| / max |expected| over every entry (lists: over every element)."""
    if isinstance(expected, list):
        return max(relative_error(g, e) for g, e in zip(got, expected))
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    scale = np.abs(expected).max()
    return float(np.abs(got - expected).max() / (scale if scale > 0 else 1.0))


HELPERS = ("_tensor", "_dtype_of", "_matrix", "_scalar", "_size", "_save", "_restore", "_scaled", "_array",
           "_compiled", "_compiled_sum")


def names_beside_the_models(path, helpers=HELPERS) -> set[str]:
    """Every name of a backend module that shares a scope with the model's names (as
    tests/test_model_checks.py scans the NumPy modules; the input and saving helpers have their own)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:     # module-level functions and classes (a method's name is the class's own)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name not in helpers:
            local = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
                     for n in ast.walk(c.target) if isinstance(n, ast.Name)}
            found |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - local
            found |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            found |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return found
