"""The one interface of a derivation (``ModelDerivation``) and of a model's layout (``layout_of``),
for a model without layers and one with a stack: every method, against what the code that asked
which kind it had computed (written out here as it was)."""
import contextlib
import io

import numpy as np
import pytest

from symgrad.cli import _describe, cmd_show, import_generated, parser
from symgrad.differentiate.chain_rule import Derivation, derive, derive_one
from symgrad.differentiate.layers import StackDerivation
from symgrad.differentiate.model_derivation import ModelDerivation
from symgrad.documents.derivation import build_document
from symgrad.emit.files import MODULE_TEMPLATE, STACK_TEMPLATE
from symgrad.emit.layer_plan import part_plans, plan_for, template_context
from symgrad.gradcheck import dimension_values, kink_margin, sample_inputs
from symgrad.model import catalogue
from symgrad.model.layers import Stack, WholeModel, layout_of

from .conftest import GENERATED

FLAT, LAYERED = "two_branch_crelu", "ntk_relu"
HIDDEN_HEADING = "hidden layer l (its loss is the recursion seed sum(grad_out * output) + its own terms)"


@pytest.fixture(scope="module")
def flat():
    model = catalogue.build(FLAT)
    return model, derive(model)


@pytest.fixture(scope="module")
def layered():
    model = catalogue.build(LAYERED)
    return model, derive(model)


def test_both_kinds_have_the_interface(flat, layered):
    assert isinstance(flat[1], Derivation) and isinstance(flat[1], ModelDerivation)
    assert isinstance(layered[1], StackDerivation) and isinstance(layered[1], ModelDerivation)
    assert isinstance(layout_of(flat[0]), WholeModel) and layout_of(layered[0]) is layered[0].stack


def test_parameters_and_seconds(flat, layered):
    (model, derivation), (deep, stacked) = flat, layered
    assert derivation.parameters == [t.name for t in model.of_role("parameter")]
    assert stacked.parameters == [n for n, items in deep.lists.items() if items.role == "parameter"] == ["W"]
    assert stacked.seconds == stacked.hidden.seconds + stacked.output.seconds > 0


def test_parts_are_the_whole_model_or_each_layer(flat, layered):
    (model, derivation), (deep, stacked) = flat, layered
    (part,) = derivation.parts
    assert part.derivation is derivation and part.derivation.model is model
    assert (part.heading, part.gradient_label, part.section_prefix) == (f"{model.name}: {model.description}", "", "")
    hidden, output = stacked.parts
    assert hidden.derivation is stacked.hidden and hidden.derivation.model is deep.stack.hidden
    assert output.derivation is stacked.output and output.derivation.model is deep.stack.output
    assert (hidden.heading, hidden.gradient_label, hidden.section_prefix) == (
        HIDDEN_HEADING, "hidden layer: ", "Hidden layer: ")
    assert (output.heading, output.gradient_label, output.section_prefix) == (
        "output layer L", "output layer: ", "Output layer: ")


def test_each_layer_is_derived_as_the_old_derive_did_it(layered):
    deep, stacked = layered
    for part, layer in zip(stacked.parts, (deep.stack.hidden, deep.stack.output)):
        alone = derive_one(layer, warn_unused=False)
        assert alone.adjoints.keys() == part.derivation.adjoints.keys()
        assert [alone.collapsed_text(n) for n in alone.parameters] == \
            [part.derivation.collapsed_text(n) for n in part.derivation.parameters]


def _show(model_name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cmd_show(parser().parse_args(["show", model_name]))
    return out.getvalue().rsplit("derived in", 1)[0]


def _old_show(model, derivation) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if model.stack is None:
            _describe(model, derivation, f"{model.name}: {model.description}")
        else:
            print(f"{model.name}: {model.description}\n")
            _describe(model.stack.hidden, derivation.hidden, HIDDEN_HEADING)
            _describe(model.stack.output, derivation.output, "output layer L")
    return out.getvalue()


def test_show_prints_the_preface_and_the_parts_as_before(flat, layered):
    assert flat[1].show_preface == ()
    assert layered[1].show_preface == (f"{layered[0].name}: {layered[0].description}", "")
    for model, derivation in (flat, layered):
        assert _show(model.name) == _old_show(model, derivation)


def test_collapsed_gradients_as_the_api_listed_them(flat, layered):
    (_, derivation), (_, stacked) = flat, layered
    old = {name: derivation.collapsed_text(name) for name in derivation.parameters if name in derivation.adjoints}
    assert list(derivation.collapsed_gradients().items()) == list(old.items())
    old_parts = [(stacked.output, "output layer: "), (stacked.hidden, "hidden layer: ")]
    old = {label + name: part.collapsed_text(name) for part, label in old_parts
           for name in part.parameters if name in part.adjoints}
    assert list(stacked.collapsed_gradients().items()) == list(old.items())
    assert list(old)[:2] == ["output layer: X_prev", "output layer: W"]


def test_the_formula_checkers_names_and_layers(flat, layered):
    (model, derivation), (deep, stacked) = flat, layered
    assert derivation.intermediates == [n for n in model.definitions
                                        if n != model.loss_name and n in derivation.adjoints]
    assert "Delta" in derivation.intermediates and stacked.intermediates == ()
    assert derivation.layer_tensor_names == frozenset()
    assert stacked.layer_tensor_names == set(deep.stack.hidden.tensors) | set(deep.stack.output.tensors)
    assert derivation.layer(None, None) is derivation
    for layer, depth in ((0, 1), (0, 3), (1, 3), (2, 3)):
        expected = stacked.output if layer == depth - 1 else stacked.hidden
        assert stacked.layer(layer, depth) is expected


def test_plans_by_part_and_templates(flat, layered):
    plan = plan_for(flat[1], "symgrad generate x")
    assert part_plans(plan) == (plan,)
    assert template_context(plan, MODULE_TEMPLATE, STACK_TEMPLATE) == (MODULE_TEMPLATE, {"state": plan})
    stack_plan = plan_for(layered[1], "symgrad generate x")
    assert part_plans(stack_plan) == (stack_plan.hidden.plan, stack_plan.output.plan)
    assert template_context(stack_plan, MODULE_TEMPLATE, STACK_TEMPLATE) == (
        STACK_TEMPLATE, {"hidden": stack_plan.hidden.plan, "output": stack_plan.output.plan})


def test_the_document_has_the_preface_then_each_parts_sections(flat, layered):
    (model, derivation), (deep, stacked) = flat, layered
    assert derivation.document_preface == ()
    titles = [s.title for s in build_document(model, derive(model)).sections]
    assert titles[:4] == ["Conditions", "Sub-functions", "Local partial derivatives", "Adjoints, named"]
    document = build_document(deep, derive(deep))
    ((title, text),) = stacked.document_preface
    assert (document.sections[0].title, document.sections[0].text) == (title, text) == ("Layers", text)
    titles = [s.title for s in document.sections[1:]]
    hidden = [t for t in titles if t.startswith("Hidden layer: ")]
    assert titles == hidden + [t for t in titles if t.startswith("Output layer: ")]
    assert hidden[0] == "Hidden layer: Conditions" and titles[-1] == "Output layer: Matrix view"


def test_the_layout_of_a_model_without_layers():
    model = catalogue.build(FLAT)
    layout = layout_of(model)
    assert layout.depths((1, 2, 3, 5)) == (1,) and layout.layers(1) == []
    assert layout.layer_model(None, None) is model
    values = {"Z": np.ones(2)}
    assert layout.layer_values(values, None, None) is values
    assert layout.values_by_layer({"X1": 1.0}, values) == [(model, {"X1": 1.0, "Z": values["Z"]})]


def test_the_layout_of_a_stack():
    model = catalogue.build(LAYERED)
    layout = layout_of(model)
    assert isinstance(layout, Stack)
    hidden, output = model.stack.hidden, model.stack.output
    assert layout.depths((1, 2, 3, 5)) == (1, 2, 3, 5)
    assert layout.layers(1) == [output] and layout.layers(3) == [hidden, hidden, output]
    assert [layout.layer_model(k, 3) for k in range(3)] == [hidden, hidden, output]
    values = {"hidden": [{"a": 0}, {"a": 1}], "output": {"f": 2}}
    assert [layout.layer_values(values, k, 3) for k in range(3)] == [{"a": 0}, {"a": 1}, {"f": 2}]
    assert layout.values_by_layer({"X": 0}, values) == [(hidden, {"a": 0}), (hidden, {"a": 1}),
                                                        (output, {"f": 2})]


# sample_inputs(ntk_relu, dimension set 1, default_rng(7), depth 3) before the interface:
# the sum and shape of each input (one per layer for a list), and the kink margin there
OLD_DRAW = {"X": (-2.0233939136, (5, 2)), "r": (0.8467290583, (1, 2)), "m": (7.0, ()),
            "lam": (0.9450763059, ()),
            "W": ([-6.5433665366, -2.3983065747, -0.3803771559], [(7, 5), (6, 7), (1, 6)]),
            "W0": ([0.9036570819, -3.2955800803, -0.505430359], [(7, 5), (6, 7), (1, 6)])}
OLD_MARGIN = 0.03954046884


def test_the_checkers_draw_the_same_inputs_through_the_layout():
    model = catalogue.build(LAYERED)
    module = import_generated(GENERATED / f"{LAYERED}.py")
    inputs = sample_inputs(model, module, dimension_values(model, 1), np.random.default_rng(7), 3)
    assert set(inputs) == set(OLD_DRAW)
    for name, (total, shape) in OLD_DRAW.items():
        value = inputs[name]
        if isinstance(value, list):
            assert [np.shape(v) for v in value] == shape
            assert np.allclose([np.sum(v) for v in value], total, rtol=0, atol=1e-9)
        else:
            assert np.shape(value) == shape and np.sum(value) == pytest.approx(total, abs=1e-9)
    assert kink_margin(model, module, inputs) == pytest.approx(OLD_MARGIN, abs=1e-10)
