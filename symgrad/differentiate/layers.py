"""Deriving a model with a stack of layers (``model.layers``): each layer kind once.

A model's hidden layer and its output layer are each an ordinary model, derived by the chain
rule as any other (``chain_rule.derive_one``); ``StackDerivation`` holds the two and gives
them the interface every derivation has (``model_derivation.ModelDerivation``), so what comes
after the derivation never asks whether a model has layers. This is the one place of the
derivation stage that does.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

from symgrad.differentiate.model_derivation import ModelDerivation, Part
from symgrad.errors import SymgradWarning
from symgrad.index.conventions import LAYER_OUTPUT_ADJOINT
from symgrad.model.model import Model

HIDDEN_HEADING = "hidden layer l (its loss is the recursion seed sum(grad_out * output) + its own terms)"
OUTPUT_HEADING = "output layer L"
LAYERS_SECTION = ("Layers", "The model repeats a layer: with L matrices in each list input, layers "
                  "1..L-1 are the hidden layer below and layer L the output layer. Each is derived "
                  "once. The hidden layer is derived as its vector-Jacobian product: its loss is "
                  r"$\sum \overline{\mathrm{out}} \odot \mathrm{output}$ plus its own terms, so the "
                  "adjoint of its input, written with the adjoint of its output, is the recursion "
                  "from layer l+1 to layer l.")

TANGENT_RECURSION_SECTION = (
    "Second order: the tangent recursion",
    r"Along a tangent $\dot\theta$ (one $\dot W_l$ per layer l of each list parameter W), the tangents "
    "go up the stack as the forward values do: each layer's tangent of its output from the tangent "
    r"of its input $\dot X_{\mathrm{prev}}$ and of its own parameters (the first layer's input is "
    "data: its tangent is 0). Then the tangents of the adjoints come down as the adjoints do: the "
    "hidden layer's adjoints are functions of its forward values and of "
    r"$\overline{\mathrm{out}}$, so their tangents read the tangents of both, and "
    r"$\dot{\overline{\mathrm{out}}}$ of layer l is $\dot{\overline{X}}_{\mathrm{prev}}$ of layer "
    r"l+1. The Hessian-vector product for layer l is $\dot{\overline{W}}$ of layer l. Each layer "
    "kind's tangents are derived once, below.")


def derive_layers(model: Model, derive_one) -> ModelDerivation:
    """``derive_one(model)`` for a model without layers; for a model with a stack, its layers
    closed and each derived once by ``derive_one``, with unused list parameters warned of."""
    stack = model.stack
    if stack is None:
        return derive_one(model)
    stack.finish()
    derivation = StackDerivation(model, derive_one(stack.hidden, warn_unused=False),
                                 derive_one(stack.output, warn_unused=False))
    _warn_unused_lists(derivation)
    return derivation


@dataclass
class StackDerivation(ModelDerivation):
    """The two layers of a stack, each derived once (each a ``chain_rule.Derivation``)."""

    model: Model
    hidden: object
    output: object

    @property
    def seconds(self) -> float:
        return self.hidden.seconds + self.output.seconds

    @property
    def parameters(self) -> list[str]:
        return [name for name, items in self.model.lists.items() if items.role == "parameter"]

    @property
    def parts(self) -> tuple[Part, ...]:
        return (Part(self.hidden, HIDDEN_HEADING, "hidden layer: ", "Hidden layer: ",
                     (*self.hidden.parameters, LAYER_OUTPUT_ADJOINT)),
                Part(self.output, OUTPUT_HEADING, "output layer: ", "Output layer: "))

    def _gradient_order(self) -> tuple[Part, ...]:
        return self.parts[::-1]    # the output layer's, where the loss is, first

    @property
    def show_preface(self) -> tuple[str, ...]:
        return (f"{self.model.name}: {self.model.description}", "")

    document_preface: ClassVar[tuple[tuple[str, str], ...]] = (LAYERS_SECTION,)
    second_order_preface: ClassVar[tuple[tuple[str, str], ...]] = (TANGENT_RECURSION_SECTION,)
    intermediates: ClassVar[tuple[str, ...]] = ()    # a layer's are the layer's, not the model's

    @property
    def layer_tensor_names(self) -> frozenset[str]:
        return frozenset(self.hidden.model.tensors) | frozenset(self.output.model.tensors)

    def layer(self, layer, depth):
        return self.output if layer == depth - 1 else self.hidden



def _warn_unused_lists(derivation: StackDerivation) -> None:
    """A list parameter that a layer does not use, or whose hidden layers' outputs never reach the loss."""
    hidden, output = derivation.hidden, derivation.output
    loss = output.model.loss_name
    hidden_reaches = output.model.carry_name in output.adjoints
    for name in derivation.parameters:
        if name not in output.adjoints:
            _warn_unused(f"parameter {name!r} does not affect the loss {loss!r} in the output layer; "
                         "its gradient there is zero")
        if name not in hidden.adjoints or not hidden_reaches:
            _warn_unused(f"parameter {name!r} does not affect the loss {loss!r} in the hidden layers; "
                         "its gradients there are zero")


def _warn_unused(message: str) -> None:
    warnings.warn(message, SymgradWarning, stacklevel=5)   # told where derive was called
