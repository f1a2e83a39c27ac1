"""The collector's thresholds while symgrad derives and generates, and after."""
import doctest
import gc

import pytest

from symgrad.differentiate import chain_rule
from symgrad.emit import files, layer_plan
from symgrad.index import collector
from symgrad.index.collector import FULL_COLLECTION_EVERY, fewer_full_collections


@pytest.fixture
def thresholds():
    """Python's default thresholds for the test, and whatever they were put back after it."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_raises_only_the_oldest_generation_and_restores_it(thresholds):
    with fewer_full_collections():
        assert gc.get_threshold() == (700, 10, FULL_COLLECTION_EVERY)
    assert gc.get_threshold() == thresholds


def test_restores_the_thresholds_after_an_exception(thresholds):
    with pytest.raises(RuntimeError), fewer_full_collections():
        raise RuntimeError("a stage failed")
    assert gc.get_threshold() == thresholds


def test_nested_uses_restore_in_turn(thresholds):
    with fewer_full_collections():
        gc.set_threshold(500, 10, FULL_COLLECTION_EVERY)      # a change made inside the outer block
        with fewer_full_collections():
            assert gc.get_threshold() == (500, 10, FULL_COLLECTION_EVERY)
        assert gc.get_threshold() == (500, 10, FULL_COLLECTION_EVERY)
    assert gc.get_threshold() == thresholds


def test_a_higher_threshold_is_kept(thresholds):
    gc.set_threshold(700, 10, 10 * FULL_COLLECTION_EVERY)
    with fewer_full_collections():
        assert gc.get_threshold() == (700, 10, 10 * FULL_COLLECTION_EVERY)
    assert gc.get_threshold() == (700, 10, 10 * FULL_COLLECTION_EVERY)


def test_as_a_decorator_it_holds_for_each_call_and_after_a_raise(thresholds):
    seen = []

    @fewer_full_collections()
    def stage(fail):
        seen.append(gc.get_threshold())
        if fail:
            raise ValueError("bad input")

    stage(False)
    with pytest.raises(ValueError):
        stage(True)
    stage(False)
    assert seen == [(700, 10, FULL_COLLECTION_EVERY)] * 3
    assert gc.get_threshold() == thresholds


def test_deriving_planning_and_rendering_run_with_fewer_full_collections(thresholds, monkeypatch):
    seen = {}

    def spy(name, real):
        def call(*args, **kwargs):
            seen[name] = gc.get_threshold()
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(chain_rule, "derive_layers", spy("derive", chain_rule.derive_layers))
    monkeypatch.setattr(layer_plan, "plan_module", spy("plan", layer_plan.plan_module))
    monkeypatch.setattr(files.jinja2.Template, "render", spy("render", files.jinja2.Template.render))
    from symgrad import catalogue
    plan = layer_plan.plan_for(chain_rule.derive(catalogue.build("two_branch_crelu")), "test")
    files.render_module(plan)
    assert seen == {stage: (700, 10, FULL_COLLECTION_EVERY) for stage in ("derive", "plan", "render")}
    assert gc.get_threshold() == thresholds


def test_the_module_example_runs():
    assert doctest.testmod(collector).failed == 0
