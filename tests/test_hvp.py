"""Second order (``symgrad generate --hvp``): every catalogue and zoo model gets ``hvp()`` and
``hessian()``, checked against central differences of the gradient and HIPS autograd (a model
with layers at depths 1, 2 and 3, and also against torch's forward-over-reverse); the committed
``generated/<model>_hvp.py`` files are what the code writes now."""
import re
import subprocess

import numpy as np
import pytest

from symgrad import Model, catalogue, crelu, maximum, minimum, relu, sum_squares
from symgrad import abs as sg_abs
from symgrad.cli import HVP_SUFFIX, import_generated, main, render_derivation
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.layer_hvp_plan import render_hvp_module
from symgrad.gradcheck import dimension_values, relative_error, sample_inputs
from symgrad.hvpcheck import check_hvp_module, random_tangent

from .backend_support import convert
from .conftest import GENERATED, require, require_program

LAYERED = [n for n in catalogue.names() if catalogue.build(n).stack is not None]
TOLERANCE = 1e-6          # against differences of the gradient (each side ~1e-10 off)
AUTOGRAD_RTOL = 1e-10     # against autograd: both exact up to round-off


def test_the_catalogue_has_models_with_layers():
    assert LAYERED == ["ntk_relu", "softmax_ce"]


@pytest.mark.parametrize("name", catalogue.names())
def test_committed_hvp_modules_are_what_would_be_generated(name):
    text = render_hvp_module(derive(catalogue.build(name)), f"symgrad generate {name} --hvp")
    path = GENERATED / f"{name}{HVP_SUFFIX}.py"
    assert path.read_text() == text, f"{path} is stale: run `symgrad generate --all --hvp`"


@pytest.mark.parametrize("name", catalogue.names())
def test_hvp_agrees_with_differences_of_the_gradient_and_autograd(name):
    require("autograd")
    model = catalogue.build(name)
    module = import_generated(GENERATED / f"{name}{HVP_SUFFIX}.py")
    for check in check_hvp_module(derive(model), module, points=1, seed=3):
        assert check.shape_ok, check
        assert check.against_differences < TOLERANCE, check
        assert check.against_autograd < AUTOGRAD_RTOL, check
        assert check.hessian < AUTOGRAD_RTOL, check


@pytest.mark.parametrize("name", catalogue.names())
def test_hvp_copies_no_broadcast_and_stacks_no_tangent_by_copying(name):
    """A tangent that is the same all along an axis is computed inside the tangents that read it,
    never as a broadcast copied into a whole array; a stacked tangent is computed in views of one
    array, as the forward computes the tensor (hessian(), over a batch axis, does neither). The
    only arrays concatenated are vectors side by side as a matrix product's operands (a sum of
    outer products, ``passes/outer_sums.py``)."""
    text = (GENERATED / f"{name}{HVP_SUFFIX}.py").read_text()
    functions = {chunk.split("(", 1)[0]: chunk for chunk in text.split("\ndef ")[1:]}
    second_order = [body for function, body in functions.items() if "batched" not in function
                    and (function == "hvp" or function.endswith(("_tangents", "_backward_hvp")))]
    assert second_order
    for body in second_order:
        assert "np.broadcast_to" not in body
        for line in (line for line in body.splitlines() if "np.concatenate" in line and not line.lstrip().startswith("#")):
            left, right = line.split(" = ", 1)[1].split(" @ ")
            assert left.startswith("np.concatenate(") and right.startswith("np.concatenate("), line


def _module(name="two_branch_crelu"):
    return catalogue.build(name), import_generated(GENERATED / f"{name}{HVP_SUFFIX}.py")


def test_a_parameter_left_out_of_the_tangents_has_a_zero_tangent():
    model, module = _module()
    rng = np.random.default_rng(0)
    inputs = sample_inputs(model, module, dimension_values(model), rng)
    along_c = {"C": rng.standard_normal(inputs["C"].shape)}
    full = {p: np.zeros(np.shape(inputs[p])) if np.ndim(inputs[p]) else 0.0 for p in module.PARAMETERS}
    value, grads, products = module.hvp(along_c, **inputs)
    _, _, expected = module.hvp({**full, **along_c}, **inputs)
    for p in module.PARAMETERS:
        np.testing.assert_array_equal(products[p], expected[p])
    assert value == module.loss(**inputs)
    _, reference = module.loss_and_grad(**inputs)
    for p in module.PARAMETERS:
        np.testing.assert_allclose(grads[p], reference[p], rtol=1e-14)
    _, _, zero = module.hvp({}, **inputs)
    assert all(not np.any(zero[p]) for p in module.PARAMETERS)
    assert isinstance(products["d"], float) and products["A1"].shape == inputs["A1"].shape


def test_hessian_blocks_have_the_parameters_shapes_and_are_symmetric():
    model, module = _module()
    inputs = sample_inputs(model, module, dimension_values(model, 1), np.random.default_rng(1))
    blocks = module.hessian(**inputs)
    assert set(blocks) == {(p, q) for p in module.PARAMETERS for q in module.PARAMETERS}
    for (p, q), block in blocks.items():
        assert block.shape == np.shape(inputs[p]) + np.shape(inputs[q])
    np.testing.assert_allclose(blocks[("A1", "C")], np.transpose(blocks[("C", "A1")], (2, 3, 0, 1)), atol=1e-14)
    # A1 and A2 feed separate rows of Z, and H is piecewise linear in each: their cross block is 0
    assert not np.any(blocks[("A1", "A2")])


def test_bad_tangents_and_a_large_hessian_are_refused_naming_what_is_wrong():
    model, module = _module()
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(2))
    with pytest.raises(ValueError, match=r"tangents: 'Z' is not a parameter"):
        module.hvp({"Z": 1.0}, **inputs)
    with pytest.raises(ValueError, match=r"input tangent C: expected shape \(1, 2\*M\) = \(1, 8\), got \(1, 7\)"):
        module.hvp({"C": np.zeros((1, 7))}, **inputs)
    with pytest.raises(ValueError, match="expected a dict"):
        module.hvp([1.0], **inputs)
    big = {**inputs, "X1": np.ones((40, 5)), "X2": np.ones((40, 5)), "A1": np.ones((30, 40)),
           "A2": np.ones((30, 40)), "B1": np.ones((30, 1)), "B2": np.ones((30, 1)), "C": np.ones((1, 60))}
    with pytest.raises(ValueError, match=r"hessian: 2521 parameter entries make 6355441 Hessian entries, "
                                         r"more than HESSIAN_LIMIT = 1000000"):
        module.hessian(**big)


def _kinked(function):
    m = Model("kinked")
    n, k = m.dims("n k")
    x = m.constant("x", (n, k))
    w = m.parameter("w", (n, k))
    h = m.define("H", function(w * x))
    m.loss("Loss", sum_squares(h) + (h * x).sum())
    return m


@pytest.mark.parametrize("function, slope", [
    (relu, lambda z: z > 0),
    (lambda z: crelu(z, 1.0), lambda z: (z >= 0) & (z <= 1.0)),
    (sg_abs, lambda z: np.ones_like(z)),
    (lambda z: maximum(z, 0.5), lambda z: z > 0.5),
    (lambda z: minimum(z, 0.5), lambda z: z < 0.5),
])
def test_second_derivatives_at_kinks_follow_pytorch(function, slope):
    """relu'' = crelu'' = 0, and abs'' = maximum'' = minimum'' = 0 away from the kink: the Hessian of
    sum(f(w x)**2) + sum(f(w x) x) is diagonal, 2 f'(w x)**2 x**2 (the linear term's is 0)."""
    model = _kinked(function)
    namespace = {}
    exec(compile(render_hvp_module(derive(model), "symgrad generate kinked --hvp"), "<kinked>", "exec"), namespace)
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    hessian = namespace["hessian"](x=x, w=w)[("w", "w")].reshape(12, 12)
    z = (w * x).ravel()
    np.testing.assert_allclose(hessian, np.diag(2 * slope(z) * x.ravel() ** 2), atol=1e-14)


def test_generate_hvp_check_and_refusals(tmp_path, capsys):
    assert main(["generate", "ridge_regression", "--hvp", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "ridge_regression_hvp.py").read_text() == (GENERATED / "ridge_regression_hvp.py").read_text()
    assert main(["generate", "--all", "--hvp", "--check"]) == 0
    assert main(["generate", "ntk_relu", "--hvp", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "ntk_relu_hvp.py").read_text() == (GENERATED / "ntk_relu_hvp.py").read_text()
    assert main(["generate", "ntk_relu", "--hvp", "--backend", "torch", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "ntk_relu_hvp_torch.py").read_text() == (GENERATED / "ntk_relu_hvp_torch.py").read_text()
    assert main(["generate", "ridge_regression", "--hvp", "--backend", "numba", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "ridge_regression_hvp_numba.py").read_text() == \
        (GENERATED / "ridge_regression_hvp_numba.py").read_text()
    assert main(["generate", "ridge_regression", "--hvp", "--backend", "cuda", "-o", str(tmp_path)]) == 2
    assert "invalid choice: 'cuda'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["two_branch_crelu", "layer_norm", "gaussian_nll", *LAYERED])  # every flat model passed once
def test_second_order_documents_compile_and_show_each_step(name, tmp_path):
    pdflatex = require_program("pdflatex")
    model, text = render_derivation(name, "tex", hvp=True)
    assert text.startswith(f"% GENERATED BY `symgrad latex {name} --hvp`")
    assert "Second order: local partials of the adjoints" in text
    derivation = derive(model)
    for part in derivation.parts:       # a stack: each layer kind's steps
        for parameter in derivation.parameters:
            assert f"{part.section_prefix}Second order: the Hessian-vector product with respect to {parameter}" in text
    (tmp_path / "doc.tex").write_text(text)
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", result.stdout)]
    assert all(width < 10 for width in overfull), overfull


GELU_MLP = '''
import math
from symgrad import Model, sum_squares, tanh
m = Model("gelu_mlp_2", "X @ W1 + b1, GELU (tanh form), H @ W2 + b2, squared error; X a parameter too")
N, D, K, O = m.dims("N D K O")
T = m.constant("T", (N, O))
X, W1, b1 = m.parameter("X", (N, D)), m.parameter("W1", (D, K)), m.parameter("b1", (1, K))
W2, b2 = m.parameter("W2", (K, O)), m.parameter("b2", (1, O))
Z = m.define("Z", X @ W1 + b1)
H = m.define("H", 0.5 * Z * (1 + tanh(math.sqrt(2 / math.pi) * (Z + 0.044715 * Z ** 3))))
m.loss("Loss", sum_squares(H @ W2 + b2 - T) / N)
model = m
'''


def test_a_long_second_order_product_keeps_its_named_tangents(tmp_path):
    """A product whose closed form would be long (a GELU MLP: 180 terms for X, a 254,453-character
    formula) substitutes a named tangent or adjoint only while the sum stays within
    SUBSTITUTED_TERMS terms, and names the ones it keeps, as the first-order document keeps its
    named adjoints; short ones are substituted all the way, as before."""
    from symgrad.differentiate.tangents import derive_tangents
    from symgrad.documents.second_order import SUBSTITUTED_TERMS
    path = tmp_path / "gelu_mlp_2.py"
    path.write_text(GELU_MLP)
    model, text = render_derivation(str(path), "tex", hvp=True)
    tangents = derive_tangents(derive(model).parts[0].derivation)
    kept_somewhere = False
    for parameter in tangents.parameters:
        product = tangents.expanded(parameter, max_terms=SUBSTITUTED_TERMS)
        assert len(product.terms) <= SUBSTITUTED_TERMS
        kept_somewhere |= bool(set(tangents.named_reads(product)) - {f"dot_grad_{parameter}"})
    assert kept_somewhere and re.search(r"stays? named \(computed above\)", text)
    assert len(text) < 100_000
    short = derive_tangents(derive(catalogue.build("two_branch_crelu")))
    closed = short.expanded("d", max_terms=SUBSTITUTED_TERMS)
    assert len(closed.terms) == len(short.expanded("d").terms) and not short.named_reads(closed)

# Models with layers: lists of tangents and products, one array per layer; Hessian blocks by (name, layer)

def _layered(name, depth, which=1, seed=0):
    model = catalogue.build(name)
    module = import_generated(GENERATED / f"{name}{HVP_SUFFIX}.py")
    rng = np.random.default_rng(seed)
    inputs = sample_inputs(model, module, dimension_values(model, which), rng, depth)
    return model, module, inputs, rng


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("name", LAYERED)
def test_layered_hvp_agrees_with_torch_forward_over_reverse(name, depth):
    """Against torch.func.jvp of torch.func.grad of the torch module's plain forward (``_run``,
    which torch differentiates by itself), at a point whose layers' widths all differ."""
    torch = require("torch")
    model, module, inputs, rng = _layered(name, depth)
    torch_module = import_generated(GENERATED / f"{name}_torch.py")
    shapes = {np.shape(v) for value in inputs.values() if isinstance(value, list) for v in value}
    assert all(len(set(shape)) == len(shape) for shape in shapes if 1 not in shape), shapes
    tangent = random_tangent(inputs, module.PARAMETERS, rng)
    value, grads, products = module.hvp(tangent, **inputs)
    tensors = convert(inputs, lambda name, v: torch.tensor(v, dtype=torch.float64))
    along = convert(tangent, lambda name, v: torch.tensor(v, dtype=torch.float64))

    def loss(params):
        return torch_module._run(**{**tensors, **params})[0]
    params = {p: tensors[p] for p in module.PARAMETERS}
    gradient, product = torch.func.jvp(torch.func.grad(loss), (params,), (along,))
    assert value == pytest.approx(float(loss(params)), rel=1e-12)
    for p in module.PARAMETERS:
        assert len(products[p]) == depth and all(np.shape(h) == np.shape(w) for h, w in zip(products[p], inputs[p]))
        assert relative_error(products[p], [t.numpy() for t in product[p]]) < AUTOGRAD_RTOL, p
        assert relative_error(grads[p], [t.numpy() for t in gradient[p]]) < AUTOGRAD_RTOL, p


@pytest.mark.parametrize("name", LAYERED)
def test_layered_hessian_is_symmetric_and_its_rows_are_hvps_along_basis_tangents(name):
    model, module, inputs, rng = _layered(name, 3)
    parameter = module.PARAMETERS[0]
    blocks = module.hessian(**inputs)
    keys = [(parameter, k) for k in range(3)]
    assert set(blocks) == {(a, b) for a in keys for b in keys}
    for (a, b), block in blocks.items():
        assert block.shape == np.shape(inputs[a[0]][a[1]]) + np.shape(inputs[b[0]][b[1]])
        np.testing.assert_allclose(block, np.transpose(blocks[(b, a)], (2, 3, 0, 1)), atol=1e-12, rtol=0)
    scale = max(float(np.abs(b).max()) for b in blocks.values())
    shape = np.shape(inputs[parameter][1])
    for entry in [(0, 0), (shape[0] - 1, shape[1] - 1), (1, 2)]:      # basis tangents of layer 1
        basis = [np.zeros(np.shape(w)) for w in inputs[parameter]]
        basis[1][entry] = 1.0
        _, _, products = module.hvp({parameter: basis}, **inputs)
        for k in range(3):
            np.testing.assert_allclose(blocks[((parameter, 1), (parameter, k))][entry], products[parameter][k],
                                       atol=1e-12 * scale, rtol=0)


def test_layered_tangents_left_out_are_zero_and_bad_ones_are_refused_naming_the_layer():
    model, module, inputs, rng = _layered("ntk_relu", 3, which=0)
    zero = [np.zeros(np.shape(w)) for w in inputs["W"]]
    value, grads, products = module.hvp({}, **inputs)
    assert all(not np.any(h) for h in products["W"]) and len(products["W"]) == 3
    assert value == module.loss(**inputs)
    _, expected = module.loss_and_grad(**inputs)
    assert relative_error(grads["W"], expected["W"]) < 1e-14
    _, _, with_zeros = module.hvp({"W": zero}, **inputs)
    assert all(not np.any(h) for h in with_zeros["W"])
    with pytest.raises(ValueError, match=r"tangents: 'W0' is not a parameter; the parameters are W"):
        module.hvp({"W0": zero}, **inputs)
    with pytest.raises(ValueError, match=r"tangents: 'W' expected a list of 3 arrays, one per layer, got list of length 2"):
        module.hvp({"W": zero[:2]}, **inputs)
    wrong = zero[:1] + [np.zeros((2, 2))] + zero[2:]
    with pytest.raises(ValueError, match=r"input tangent W\[1\]: expected shape \(k_out, k_in\) = \(7, 5\), got \(2, 2\)"):
        module.hvp({"W": wrong}, **inputs)
    wrong = zero[:2] + [np.zeros((1, 2))]
    with pytest.raises(ValueError, match=r"input tangent W\[2\]: expected shape \(1, k\) = \(1, 7\), got \(1, 2\)"):
        module.hvp({"W": wrong}, **inputs)


def test_a_large_layered_hessian_is_refused():
    model, module, inputs, rng = _layered("softmax_ce", 2, which=0)
    big = {**inputs, "X": np.ones((np.shape(inputs["X"])[0], 30)), "Theta": [np.ones((40, 30)), np.ones((np.shape(inputs["Y"])[1], 40))]}
    entries = 40 * 30 + np.shape(inputs["Y"])[1] * 40
    with pytest.raises(ValueError, match=rf"hessian: {entries} parameter entries make {entries * entries} Hessian "
                                         r"entries, more than HESSIAN_LIMIT = 1000000"):
        module.hessian(**big)


@pytest.mark.parametrize("description, subtitle", [
    ("Huber loss, r = X w - y", "Huber loss, r = X w - y. With the second order: "),
    ("ends with a stop.", "ends with a stop. With the second order: "),
    ("", "With the second order: ")])
def test_second_order_documents_start_a_sentence_after_the_description(description, subtitle):
    """A description without a full stop ran into the next sentence: '... r = X w - y With the second order'."""
    from symgrad.documents.second_order import build_hvp_document
    m = Model("described", description)
    (n,) = m.dims("n")
    w = m.parameter("w", (n, 1))
    m.loss("Loss", sum_squares(w))
    assert build_hvp_document(m, derive(m)).subtitle.startswith(subtitle)
