"""Every gradient of every committed generated module against central finite differences."""
import numpy as np
import pytest

from symgrad.gradcheck import (check_module, dimension_values, finite_difference, kink_margin,
                           relative_error, sample_inputs)


def test_every_gradient_matches_finite_differences(model, generated):
    checks = check_module(model, generated, points=3, seed=1)
    assert [c.parameter for c in checks] == model.parameter_names
    for check in checks:
        assert check.shape_ok, check
        assert check.max_relative_error < 1e-6, check


def test_dimension_sets_are_all_different(model):
    for which in (0, 1):
        values = list(dimension_values(model, which).values())
        assert len(set(values)) == len(values)
    assert dimension_values(model, 0) != dimension_values(model, 1)


def test_points_are_away_from_kinks(model, generated):
    rng = np.random.default_rng(3)
    inputs = sample_inputs(model, generated, dimension_values(model), rng)
    assert kink_margin(model, generated, inputs) > 1e-3


def test_checker_catches_a_wrong_gradient(model, generated):
    """The check itself can fail: a gradient scaled by 1.01 is reported."""
    rng = np.random.default_rng(4)
    inputs = sample_inputs(model, generated, dimension_values(model), rng)
    _, grads = generated.loss_and_grad(**inputs)
    name = generated.PARAMETERS[0]
    expected = finite_difference(generated, inputs, name)
    assert relative_error(grads[name], expected) < 1e-6
    scaled = [g * 1.01 for g in grads[name]] if isinstance(grads[name], list) else np.asarray(grads[name]) * 1.01
    assert relative_error(scaled, expected) > 1e-3


def test_gradients_have_their_parameters_shapes(model, generated):
    rng = np.random.default_rng(5)
    inputs = sample_inputs(model, generated, dimension_values(model, 1), rng)
    value, grads = generated.loss_and_grad(**inputs)
    assert isinstance(value, float)
    assert value == pytest.approx(generated.loss(**inputs), rel=1e-12)
    assert set(grads) == set(generated.PARAMETERS)
    for name, grad in grads.items():
        if isinstance(inputs[name], list):
            assert [g.shape for g in grad] == [v.shape for v in inputs[name]]
        elif np.ndim(inputs[name]) == 0:
            assert isinstance(grad, float)
        else:
            assert grad.shape == inputs[name].shape and grad.dtype == np.float64
