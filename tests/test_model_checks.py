"""Names and shapes that would break generated code are refused while the model is built;
a parameter that does not reach the loss is told as a warning."""
import ast
import warnings

import numpy as np
import pytest
import sympy as sp

from symgrad import (Model, ModelError, ShapeError, SymgradWarning, catalogue, derive, ones, relu, stack_layers,
                     sum_squares)
from symgrad.model.names import refusal

from .conftest import GENERATED


def _model():
    m = Model("m")
    N, L = m.dims("N L")
    return m, N, L


@pytest.mark.parametrize("name, reason", [
    ("float", "a Python builtin; generated code would shadow it"),
    ("type", "a Python builtin"),
    ("range", "a Python builtin"),
    ("len", "a Python builtin"),
    ("lambda", "a Python keyword"),
    ("None", "a Python keyword"),
    ("2x", "not a Python identifier"),
    ("a-b", "not a Python identifier"),
    ("\ufb01", "not ASCII; Python rewrites non-ASCII identifiers"),
    ("\u03b8", "not ASCII"),
    ("np", "reserved: the generated module uses this name itself"),
    ("INPUTS", "reserved: the generated module uses this name itself"),
    ("loss_and_grad", "reserved: the generated module uses this name itself"),
    ("forward", "reserved: the generated module uses this name itself"),
    ("_matrix", "reserved: a leading underscore"),
    ("_", "reserved: a leading underscore"),
    ("grad_W", "reserved: grad_ starts"),
    ("shared_1", "reserved: shared_ starts"),
    ("Z_core", "reserved: _core ends"),
])
def test_a_name_that_breaks_generated_code_is_refused_naming_it_and_why(name, reason):
    m, N, L = _model()
    with pytest.raises(ModelError, match=rf"^tensor '{name}': {reason}.*; rename it$"):
        m.parameter(name, (N, L))
    with pytest.raises(ModelError, match=rf"^dimension '{name}': {reason}"):
        m.dims(name)
    W = m.parameter("W", (N, L))
    with pytest.raises(ModelError, match=rf"^tensor '{name}': {reason}"):
        m.define(name, relu(W))


def test_a_name_that_is_not_a_string_is_refused():
    m, N, L = _model()
    with pytest.raises(ModelError, match=r"^tensor 3: a int, not a string"):
        m.constant(3)


def test_the_model_name_must_be_an_importable_module_name():
    with pytest.raises(ModelError, match=r"model name 'class': a Python keyword"):
        Model("class")
    with pytest.raises(ModelError, match=r"model name 'my-model': not a Python identifier; it names the "
                                         r"generated module"):
        Model("my-model")
    with pytest.raises(ModelError, match=r"model name 'numpy': the name of NumPy"):
        Model("numpy")


def _layered(extra: str):
    m = Model("layered")
    d, n = m.dims("d n")
    X = m.constant("X", (d, n))
    W = m.parameter_list("W")
    m.constant(extra)
    return m, X, W


def test_the_names_of_a_layered_models_driver_are_refused_in_layered_models_only():
    plain, N, L = _model()
    plain.constant("l")            # hw1's loss is called l: fine without layers
    for name in ("depth", "carry", "l", "state"):
        m, X, W = _layered(name)
        with pytest.raises(ModelError, match=rf"tensor '{name}': reserved: the generated module of a "
                                             "model with layers uses this name itself"):
            stack_layers(m, X, W)
    m, X, W = _layered("r")
    stack = stack_layers(m, X, W)
    with pytest.raises(ModelError, match=r"tensor 'l': reserved"):
        stack.hidden.constant("l")
    with pytest.raises(ModelError, match=r"tensor 'vjp': reserved"):
        stack.hidden.constant("vjp")


def test_soft_keywords_match_and_case_are_ordinary_names():
    m, N, L = _model()
    match, case = m.parameter("match", (N, L)), m.constant("case", (N, L))
    m.loss("Loss", sum_squares(relu(match) - case) / L)
    module = derive(m).module()
    rng = np.random.default_rng(0)
    value, grads = module.loss_and_grad(match=rng.normal(size=(3, 4)), case=rng.normal(size=(3, 4)))
    assert np.isfinite(value) and grads["match"].shape == (3, 4)


def _names_beside_the_models(path) -> set[str]:
    """Every name of a generated module that shares a scope with the model's names: module-level
    names, and those of every function but the input helpers (whose names are their own)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found.add(node.name)
            if node.name in ("_matrix", "_scalar", "_size", "_tangent", "_scalar_tangent", "_layer_tangents",
                             "_stacked", "_workspace", "_keep"):
                continue
            local = {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
                     for n in ast.walk(c.target) if isinstance(n, ast.Name)}
            found |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - local
            found |= {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        elif isinstance(node, ast.Assign):
            found |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import):
            found |= {alias.asname or alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("suffix", ["", "_hvp"])
@pytest.mark.parametrize("name", catalogue.names())
def test_every_name_a_generated_module_uses_itself_is_refused(name, suffix):
    model = catalogue.build(name)
    models = [model] if model.stack is None else [model, model.stack.hidden, model.stack.output]
    own = set().union(*(set(m.tensors) | set(m.dimensions) | set(m.lists) for m in models))
    theirs = _names_beside_the_models(GENERATED / f"{name}{suffix}.py") - own
    assert theirs, "the scan found nothing"
    allowed = sorted(n for n in theirs if refusal(n, stacked=model.stack is not None) is None)
    assert allowed == [], f"names generated/{name}{suffix}.py uses that a model could take: {allowed}"


@pytest.mark.parametrize("size, message", [
    (0, r"axis 1 has size 0; sizes must be positive integers or dimensions"),
    (-3, r"axis 1 has size -3; sizes must be positive integers or dimensions"),
    (np.int64(0), r"axis 1 has size 0;"),
    (1.5, r"axis 1 has size 1\.5, a float; sizes must be positive integers or dimensions"),
    (1.0, r"axis 1 has size 1\.0, a float;"),
    (True, r"axis 1 has size True, a bool;"),
    ("L", r"axis 1 has size 'L', a str;"),
    (sp.Rational(3, 2), r"axis 1 has size 3/2, not an integer;"),
    (sp.Float(2.0), r"axis 1 has size 2\.0+, not an integer;"),
    ("N - 3", r"axis 1 has size N - 3, which is not positive for every value of N;"),
    ("N - L", r"axis 1 has size -L \+ N, which is not positive for every value of L, N;"),
    ("N / 2", r"axis 1 has size N/2, which is not an integer for every value of N;"),
    ("K", r"axis 1 has size K, and K is not a dimension of the model \(declare it with dims\(\.\.\.\)\)"),
])
def test_a_size_that_is_not_a_positive_integer_is_refused_naming_tensor_axis_and_value(size, message):
    m, N, L = _model()
    if isinstance(size, str) and size != "L":
        size = sp.sympify(size, locals={"N": N, "L": L, "K": sp.Symbol("K", positive=True, integer=True)})
    with pytest.raises(ShapeError, match=rf"^tensor 'W': {message}"):
        m.parameter("W", (N, size))
    with pytest.raises(ShapeError, match=rf"^tensor 'Z': {message}"):
        m.define("Z", shape=(N, size), index=lambda i, j: sp.Integer(1))


def test_sizes_in_the_dimensions_that_are_positive_are_accepted():
    m, N, L = _model()
    for shape in ((2 * N, L + 1), (np.int64(3), sp.Integer(2)), (1, N * L)):
        m.constant(f"C{len(m.tensors)}", shape)
    assert m.tensors["C1"].shape == (sp.Integer(3), sp.Integer(2))
    with pytest.raises(ShapeError, match=r"^ones\(0, L\): axis 0 has size 0;"):
        ones(0, L)
    with pytest.raises(ShapeError, match=r"^ones\(L, 0\.5\): axis 1 has size 0\.5, a float;"):
        ones(L, 0.5)


def test_a_layer_may_size_its_tensors_by_the_parents_dimensions():
    m = Model("layered")
    d, n = m.dims("d n")
    X = m.constant("X", (d, n))
    W = m.parameter_list("W")
    stack = stack_layers(m, X, W)
    (k,) = stack.hidden.dims("k")
    stack.hidden.carry_in("X_prev", (k, n))
    with pytest.raises(ShapeError, match=r"tensor 'Q': axis 1 has size n - 1, which is not positive"):
        stack.hidden.constant("Q", (k, n - 1))


def _unused_bias():
    m, N, L = _model()
    X = m.constant("X", (N, L))
    w, b = m.parameter("w", (1, N)), m.parameter("b")
    m.loss("Loss", sum_squares(w @ X) / L)
    return m


def test_a_parameter_that_does_not_reach_the_loss_is_a_warning_and_gets_a_zero_gradient():
    with pytest.warns(SymgradWarning, match=r"^parameter 'b' does not affect the loss 'Loss'; its gradient "
                                            r"is zero$"):
        derived = derive(_unused_bias())
    rng = np.random.default_rng(0)
    _, grads = derived.module().loss_and_grad(X=rng.normal(size=(3, 4)), w=rng.normal(size=(1, 3)), b=0.5)
    assert grads["b"] == 0.0


def _layered_model(output_loss):
    m = Model("layered")
    d, n = m.dims("d n")
    X = m.constant("X", (d, n))
    W = m.parameter_list("W")
    stack = stack_layers(m, X, W)
    k_in, k_out = stack.hidden.dims("k_in k_out")
    X_prev = stack.hidden.carry_in("X_prev", (k_in, n))
    W_l = stack.hidden.element(W, (k_out, k_in))
    stack.hidden.carry_out(stack.hidden.define("X_l", relu(W_l @ X_prev)))
    (k,) = stack.output.dims("k")
    X_last = stack.output.carry_in("X_prev", (k, n))
    W_L = stack.output.element(W, (1, k))
    stack.output.loss("Loss", output_loss(X_last, W_L) / n)
    return m


@pytest.mark.parametrize("output_loss, where", [
    (lambda X, W: sum_squares(X), "in the output layer; its gradient there is zero"),
    (lambda X, W: sum_squares(W), "in the hidden layers; its gradients there are zero"),   # X unused
])
def test_a_list_parameter_that_a_layer_does_not_bring_to_the_loss_is_a_warning(output_loss, where):
    with pytest.warns(SymgradWarning) as record:
        derive(_layered_model(output_loss))
    assert [str(w.message) for w in record] == [f"parameter 'W' does not affect the loss 'Loss' {where}"]


def test_no_catalogue_model_warns():
    from symgrad.differentiate.chain_rule import derive as derive_model
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymgradWarning)
        for name in catalogue.names():
            derive_model(catalogue.build(name))
