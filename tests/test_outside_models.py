"""Models nobody tuned symgrad to, written as a user writes them from the README alone: model files
(``tests/outside_models/*.py``: the operator DSL, an unrolled recurrence, index notation) and losses
typed on one line (``ONE_LINE``). Each is generated as symgrad generates it (NumPy, ``--hvp``, torch,
JAX, numba, and the torch and JAX ``--hvp`` modules) and checked, at points away from the kinks of
both dimension sets (all sizes different), against the loss written again here in ``jax.numpy``:

- the value, the gradient (``jax.grad``) and a Hessian-vector product (``jax.jvp`` of ``jax.grad``)
  of every backend, in float64;
- the gradient against central differences of the loss, the product against central differences
  of the gradient;
- at logits of about 1e3 (a parameter scaled up), where the model's own formulation allows it:
  finite, no overflow, invalid or divide-by-zero warning, and still the reference's gradient.

Backends missing from the environment are skipped on a developer machine and fail under CI=true.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from symgrad.cli import import_generated
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.backend_hvp import render_backend_hvp
from symgrad.emit.backends import render_backend
from symgrad.emit.layer_hvp_plan import render_hvp_module
from symgrad.gradcheck import dimension_values, finite_difference, sample_inputs
from symgrad.hvpcheck import random_tangent

from .conftest import require
from .outside_cases import BY_NAME, CASES, MODELS, Case

REFERENCE_RTOL = 1e-9        # float64 against jax's autodiff of the loss written again
DIFFERENCE_RTOL = 1e-6       # against central differences (step 1e-6)
HVP_STEP = 1e-5


FILES_COVERED = sorted(case.name for case in CASES if case.one_line is None)


def test_every_model_file_has_a_case():
    assert sorted(p.stem for p in MODELS.glob("*.py") if p.stem != "__init__") == FILES_COVERED


class Generated:
    """One case's model, derivation and every generated module, written to a folder and imported."""

    KINDS = {"numpy": "", "hvp": "_hvp", "torch": "_torch", "jax": "_jax", "numba": "_numba",
             "hvp_torch": "_hvp_torch", "hvp_jax": "_hvp_jax"}

    def __init__(self, case: Case, folder: Path):
        self.model = case.model()
        self.derivation = derive(self.model)
        self.folder = folder
        self._modules = {}

    def source(self, kind: str) -> str:
        command = f"symgrad generate {self.model.name}"
        if kind == "hvp":
            return render_hvp_module(self.derivation, command + " --hvp")
        if kind.startswith("hvp_"):
            backend = kind[len("hvp_"):]
            return render_backend_hvp(self.derivation, command + f" --hvp --backend {backend}", backend)
        return render_backend(self.derivation, command if kind == "numpy" else command + f" --backend {kind}", kind)

    def module(self, kind: str):
        if kind not in self._modules:
            path = self.folder / f"{self.model.name}{self.KINDS[kind]}.py"
            path.write_text(self.source(kind))
            self._modules[kind] = import_generated(path)
        return self._modules[kind]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    made = {}

    def get(name: str) -> Generated:
        if name not in made:
            made[name] = Generated(BY_NAME[name], tmp_path_factory.mktemp(name))
        return made[name]
    return get


@pytest.fixture(scope="module")
def jax():
    jax = require("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _points(gen: Generated, seed: int = 5):
    """(inputs, tangent) at one point of each dimension set, away from the kinks."""
    rng = np.random.default_rng(seed)
    numpy_module = gen.module("numpy")
    for which in (0, 1):
        inputs = sample_inputs(gen.model, numpy_module, dimension_values(gen.model, which), rng)
        yield inputs, random_tangent(inputs, numpy_module.PARAMETERS, rng)


def _reference(jax, case: Case, inputs: dict, tangent: dict):
    """(value, gradient, Hessian-vector product) of the case's jax.numpy loss, float64."""
    jnp = jax.numpy
    parameters = {p: jnp.asarray(inputs[p], dtype=jnp.float64) for p in tangent}
    rest = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items() if k not in tangent}
    loss = lambda ps: case.reference(jnp, {**rest, **ps})  # noqa: E731
    value, grads = jax.value_and_grad(loss)(parameters)
    along = {p: jnp.asarray(v, dtype=jnp.float64) for p, v in tangent.items()}
    products = jax.jvp(jax.grad(loss), (parameters,), (along,))[1]
    as_numpy = lambda d: {k: np.asarray(v) for k, v in d.items()}  # noqa: E731
    return float(value), as_numpy(grads), as_numpy(products)


def _close(got: dict, expected: dict, rtol: float, what: str):
    """Each parameter's array within ``rtol`` of its largest entry, or of the largest entry of all
    of ``expected`` where the parameter's own is round-off (a part that is 0 in exact arithmetic)."""
    overall = max(float(np.max(np.abs(v))) for v in expected.values()) or 1.0
    for key, value in expected.items():
        got_value = np.asarray(got[key], dtype=np.float64)
        assert got_value.shape == np.shape(value), (what, key, got_value.shape)
        scale = max(float(np.max(np.abs(value))), 1e-6 * overall) or 1.0
        error = float(np.max(np.abs(got_value - value))) / scale
        assert error < rtol, f"{what} {key}: error {error:.2e} of its largest entry"


def _hvp_difference(module, inputs: dict, tangent: dict) -> dict:
    moved = lambda sign: {**inputs, **{p: inputs[p] + sign * HVP_STEP * v for p, v in tangent.items()}}  # noqa: E731
    up, down = module.loss_and_grad(**moved(1))[1], module.loss_and_grad(**moved(-1))[1]
    return {p: (np.asarray(up[p]) - np.asarray(down[p])) / (2 * HVP_STEP) for p in tangent}


@pytest.mark.parametrize("name", BY_NAME)
def test_numpy_gradient_and_hvp_agree_with_jax_and_differences(jax, generated, name):
    gen, case = generated(name), BY_NAME[name]
    numpy_module, hvp_module = gen.module("numpy"), gen.module("hvp")
    for inputs, tangent in _points(gen):
        expected_value, expected_grads, expected_products = _reference(jax, case, inputs, tangent)
        value, grads = numpy_module.loss_and_grad(**inputs)
        assert value == pytest.approx(expected_value, rel=1e-12)
        _close(grads, expected_grads, REFERENCE_RTOL, "gradient vs jax.grad")
        differences = {p: finite_difference(numpy_module, inputs, p) for p in numpy_module.PARAMETERS}
        _close(grads, differences, DIFFERENCE_RTOL, "gradient vs differences")
        hvp_value, hvp_grads, products = hvp_module.hvp(tangent, **inputs)
        assert hvp_value == pytest.approx(expected_value, rel=1e-12)
        _close(hvp_grads, expected_grads, REFERENCE_RTOL, "hvp module's gradient vs jax.grad")
        _close(products, expected_products, REFERENCE_RTOL, "hvp vs jax.jvp(jax.grad)")
        _close(products, _hvp_difference(numpy_module, inputs, tangent), DIFFERENCE_RTOL,
               "hvp vs differences of the gradient")


NUMBA_BUGS: dict[str, str] = {}   # open bugs this test finds, each failing here until fixed (strict: a fix makes it pass)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=NUMBA_BUGS[n], strict=True))
                                  if n in NUMBA_BUGS else n for n in BY_NAME])
def test_numba_module_agrees_with_jax(jax, generated, name):
    require("numba")
    gen, case = generated(name), BY_NAME[name]
    module = gen.module("numba")
    for inputs, tangent in _points(gen):
        expected_value, expected_grads, _ = _reference(jax, case, inputs, tangent)
        value, grads = module.loss_and_grad(**inputs)
        assert value == pytest.approx(expected_value, rel=1e-12)
        _close(grads, expected_grads, REFERENCE_RTOL, "numba gradient vs jax.grad")


@pytest.mark.parametrize("name", BY_NAME)
def test_torch_modules_agree_with_jax(jax, generated, name):
    torch = require("torch")
    gen, case = generated(name), BY_NAME[name]
    module, hvp_module = gen.module("torch"), gen.module("hvp_torch")
    tensor = lambda v: torch.tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v  # noqa: E731
    for inputs, tangent in _points(gen):
        expected_value, expected_grads, expected_products = _reference(jax, case, inputs, tangent)
        given = {k: tensor(v) for k, v in inputs.items()}
        value, grads = module.loss_and_grad(**given)
        assert float(value) == pytest.approx(expected_value, rel=1e-12)
        _close({p: g.numpy() if hasattr(g, "numpy") else g for p, g in grads.items()}, expected_grads,
               REFERENCE_RTOL, "torch loss_and_grad vs jax.grad")
        leaves = {p: torch.tensor(inputs[p], dtype=torch.float64, requires_grad=True) for p in tangent}
        module.loss(**{**given, **leaves}).backward()        # the derived backward, DerivedLoss
        _close({p: leaf.grad.numpy() for p, leaf in leaves.items()}, expected_grads, REFERENCE_RTOL,
               "torch DerivedLoss.backward vs jax.grad")
        along = {p: torch.tensor(v, dtype=torch.float64) for p, v in tangent.items()}
        _, _, products = hvp_module.hvp(along, **given)
        _close({p: v.numpy() for p, v in products.items()}, expected_products, REFERENCE_RTOL,
               "torch hvp vs jax.jvp(jax.grad)")


@pytest.mark.parametrize("name", BY_NAME)
def test_jax_modules_under_jit_agree_with_jax(jax, generated, name):
    jnp = jax.numpy
    gen, case = generated(name), BY_NAME[name]
    module, hvp_module = gen.module("jax"), gen.module("hvp_jax")
    for inputs, tangent in _points(gen):
        expected_value, expected_grads, expected_products = _reference(jax, case, inputs, tangent)
        params = {p: jnp.asarray(inputs[p]) for p in tangent}
        rest = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items() if k not in params}
        value, grads = jax.jit(lambda ps, rs: module.loss_and_grad(**rs, **ps))(params, rest)
        assert float(value) == pytest.approx(expected_value, rel=1e-12)
        _close(grads, expected_grads, REFERENCE_RTOL, "jax loss_and_grad vs jax.grad")
        through_vjp = jax.jit(jax.grad(lambda ps, rs: module.loss(**rs, **ps)))(params, rest)   # custom_vjp
        _close(through_vjp, expected_grads, REFERENCE_RTOL, "jax.grad of the custom_vjp loss vs jax.grad")
        along = {p: jnp.asarray(v) for p, v in tangent.items()}
        _, _, products = jax.jit(lambda ps, ts, rs: hvp_module.hvp(ts, **rs, **ps))(params, along, rest)
        _close(products, expected_products, REFERENCE_RTOL, "jax hvp vs jax.jvp(jax.grad)")


LOUD_BUGS: dict[str, str] = {}    # open bugs this test finds, each failing here until fixed (strict: a fix makes it pass)
LOUD = [pytest.param(case.name, marks=pytest.mark.xfail(reason=LOUD_BUGS[case.name], strict=True))
        if case.name in LOUD_BUGS else case.name for case in CASES if case.loud]


@pytest.mark.parametrize("name", LOUD)
def test_logits_of_a_thousand_are_finite_and_right(jax, generated, name):
    """Its parameters in ``loud`` scaled by 1e3: no overflow, invalid or divide-by-zero in the NumPy
    and numba modules, and the value, gradient and product still the reference's (the product
    computed, and compared where the case's ``loud_hvp`` says it is well-conditioned)."""
    gen, case = generated(name), BY_NAME[name]
    inputs, tangent = next(_points(gen, seed=7))
    inputs = {**inputs, **{p: inputs[p] * 1e3 for p in case.loud}}
    expected_value, expected_grads, expected_products = _reference(jax, case, inputs, tangent)
    assert np.isfinite(expected_value)
    kinds = ["numpy", "hvp"] + (["numba"] if _have("numba") else [])
    for kind in kinds:
        module = gen.module(kind)
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            value, grads = module.loss_and_grad(**inputs)
            products = module.hvp(tangent, **inputs)[2] if kind == "hvp" else None
        assert value == pytest.approx(expected_value, rel=1e-10), kind
        _close(grads, expected_grads, 1e-8, f"{kind} gradient at logits of 1e3")
        if products is not None and case.loud_hvp:
            _close(products, expected_products, 1e-8, "hvp at logits of 1e3")


def _have(module: str) -> bool:
    try:
        require(module)
        return True
    except pytest.skip.Exception:
        return False
