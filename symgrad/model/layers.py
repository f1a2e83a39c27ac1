"""Blocks repeated for any depth: a stack of layers whose number is only known at run time.

A model with a stack takes list inputs (``W = [W_1, ..., W_L]``) and runs

    X_0 = carry,  X_l = hidden(X_{l-1}, W_l, ...)  for l = 1 .. L-1,  loss = output(X_{L-1}, W_L, ...)

``hidden`` and ``output`` are each an ordinary ``Model`` (a ``Layer``), derived
once. The hidden layer is derived as the vector-Jacobian product it is: its
loss is ``sum(grad_out * X_l) + (its own loss terms)`` with the incoming
adjoint ``grad_out`` a constant, so its adjoints of ``X_{l-1}`` and ``W_l``
are the recursion the notes write (the adjoint of layer l from layer l+1).
Layer sizes (``k_in``, ``k_out``) are dimensions of the layer, read from the
shapes at run time, so one generated module serves every depth, 1 included.

``layout_of(model)`` is the model's stack, or a ``WholeModel`` for a model without
layers, with the same methods: which model computes each layer at a depth, and where
each layer's values are in what the generated ``forward`` returns, and the loss composed
layer by layer from each layer's forward (``composed_loss``: the second-order checker's
autograd reference). The checkers ask these, never whether the model has a stack.
"""
from __future__ import annotations

from symgrad.model.dsl import TensorExpr
from symgrad.errors import ModelError
from symgrad.index.conventions import HIDDEN_LAYER_LOSS, LAYER_OUTPUT_ADJOINT
from symgrad.model.model import ListInput, Model, Tensor
from symgrad.model.names import refusal

GRAD_OUT = LAYER_OUTPUT_ADJOINT
VJP_LOSS = HIDDEN_LAYER_LOSS


class Layer(Model):
    """One layer of a stack: a model whose inputs are the carried tensor, list elements and shared tensors."""

    def __init__(self, stack: "Stack", kind: str):
        super().__init__(f"{stack.parent.name}_{kind}")
        self.owner, self.kind = stack, kind
        self.stacked_names = True
        self.dimensions.update(stack.parent.dimensions)
        self.carry_name: str | None = None
        self.carry_out_name: str | None = None
        self.elements: dict[str, str] = {}      # local name -> list name
        self.shared: list[str] = []             # parent tensors used here
        self.loss_terms: list[str] = []
        self._closing = False                   # finish() is naming the VJP loss

    def _check_new_name(self, name: str, kind: str = "tensor") -> None:
        if not (self._closing and name == VJP_LOSS):
            super()._check_new_name(name, kind)

    def _dimension_symbols(self) -> set:
        return super()._dimension_symbols() | set(self.owner.parent.dimensions.values())

    def carry_in(self, name: str, shape) -> Tensor:
        """The tensor carried in from the previous layer (the stack's start for the first)."""
        if self.carry_name is not None:
            raise ModelError(f"layer {self.name!r} already has the carried input {self.carry_name!r}")
        tensor = self.parameter(name, shape)
        self.carry_name = name
        return tensor

    def element(self, items: ListInput, shape) -> Tensor:
        """This layer's element of a list input, e.g. ``W_l`` of ``W``."""
        if items.name not in self.owner.lists:
            raise ModelError(f"{items.name!r} is not a list input of the stack")
        tensor = self._add(items.name, shape, items.role)
        self.elements[items.name] = items.name
        return tensor

    def use(self, tensor: Tensor) -> Tensor:
        """A constant of the parent model (data, a scalar), available in this layer."""
        if tensor.model is not self.owner.parent or tensor.role != "constant":
            raise ModelError(f"layer {self.name!r} can only use constants of model {self.owner.parent.name!r}")
        local = self._add(tensor.name, tensor.shape, "constant")
        self.shared.append(tensor.name)
        return local

    def carry_out(self, tensor: Tensor) -> None:
        """The tensor handed to the next layer (hidden layers only)."""
        if self.kind != "hidden":
            raise ModelError("only the hidden layer carries a tensor out; the output layer has the loss")
        self.carry_out_name = tensor.name

    def loss_term(self, name: str, expr: TensorExpr) -> Tensor:
        """A scalar this hidden layer adds to the total loss (a per-layer regularizer)."""
        tensor = self.define(name, expr)
        if tensor.shape != ():
            raise ModelError(f"loss term {name!r} must be a scalar")
        self.loss_terms.append(name)
        return tensor

    def finish(self) -> None:
        """Close the hidden layer: its loss is the VJP seed ``sum(grad_out * X_l)`` plus its loss terms."""
        if self.carry_name is None:
            raise ModelError(f"layer {self.name!r} needs carry_in(...)")
        if self.kind == "hidden":
            if self.carry_out_name is None:
                raise ModelError(f"layer {self.name!r} needs carry_out(...)")
            if self.loss_name is None:
                out = self.tensors[self.carry_out_name]
                seed = self._add(GRAD_OUT, out.shape, "constant", check=False)
                total = (seed * out).sum()
                for name in self.loss_terms:
                    total = total + self.tensors[name]
                self._closing = True
                try:
                    self.loss(VJP_LOSS, total)
                finally:
                    self._closing = False
        elif self.loss_name is None:
            raise ModelError(f"layer {self.name!r} needs a loss")


class Stack:
    """Hidden layers for l = 1 .. L-1 and an output layer, L = len of the list inputs at run time.

    With ``WholeModel``, the layout of a model (``layout_of``): which model computes each layer
    of a given depth, and where the generated module's ``forward`` keeps each layer's values
    (``{"hidden": [one dict per hidden layer], "output": {...}}``).
    """

    def __init__(self, parent: Model, carry: Tensor, lists: tuple[ListInput, ...]):
        if carry.model is not parent or carry.role != "constant":
            raise ModelError("the stack's carry must be a constant (data) of the model")
        self.parent, self.carry = parent, carry
        self.lists = {items.name: items for items in lists}
        self.hidden = Layer(self, "hidden")
        self.output = Layer(self, "output")

    def finish(self) -> None:
        self.hidden.finish()
        self.output.finish()
        for layer in (self.hidden, self.output):
            missing = set(self.lists) - set(layer.elements)
            if missing:
                raise ModelError(f"layer {layer.name!r} does not use list input(s) {sorted(missing)}")

    def depths(self, depths: tuple[int, ...]) -> tuple[int, ...]:
        """The numbers of layers to check the model at, of ``depths``: all of them."""
        return tuple(depths)

    def layers(self, depth: int) -> list[Layer]:
        """The layer that computes each of ``depth`` layers, in order."""
        return [self.hidden] * (depth - 1) + [self.output]

    def layer_model(self, layer: int | None, depth: int | None) -> Layer:
        """The layer that computes layer ``layer`` (0-based) of ``depth``."""
        return self.output if layer == depth - 1 else self.hidden

    def layer_values(self, values: dict, layer: int | None, depth: int | None) -> dict:
        """The named values of layer ``layer`` of ``depth``, of what the module's ``forward`` gave."""
        return values["output"] if layer == depth - 1 else values["hidden"][layer]

    def values_by_layer(self, inputs: dict, values: dict) -> list[tuple[Layer, dict]]:
        """(the layer's model, its inputs and named values) for each layer ``forward`` ran."""
        return [(self.hidden, layer) for layer in values["hidden"]] + [(self.output, values["output"])]

    def composed_loss(self, inputs: dict, depth: int, run):
        """The loss at ``inputs`` (list inputs of ``depth`` elements), layer by layer:
        ``run(layer, its inputs)`` gives a layer's named values (its forward, run by the caller,
        e.g. for an autodiff); each hidden layer adds its own loss terms."""
        carry, total = inputs[self.carry.name], 0.0
        for l, layer in enumerate(self.layers(depth)):
            local = {name: inputs[name] for name in layer.shared}
            local.update({name: inputs[name][l] for name in layer.elements})
            local[layer.carry_name] = carry
            values = run(layer, local)
            if layer.carry_out_name is None:
                return total + values[layer.loss_name]
            for name in layer.loss_terms:
                total = total + values[name]
            carry = values[layer.carry_out_name]
        raise AssertionError("a stack ends with its output layer")


class WholeModel:
    """A model without layers in the layout of ``Stack``: one model computes everything, at depth 1."""

    def __init__(self, model: Model):
        self.model = model

    def depths(self, depths: tuple[int, ...]) -> tuple[int, ...]:
        return (1,)

    def layers(self, depth: int) -> list[Layer]:
        return []     # no list inputs, so nothing is drawn per layer

    def layer_model(self, layer: int | None, depth: int | None) -> Model:
        return self.model

    def layer_values(self, values: dict, layer: int | None, depth: int | None) -> dict:
        return values

    def values_by_layer(self, inputs: dict, values: dict) -> list[tuple[Model, dict]]:
        return [(self.model, {**inputs, **values})]

    def composed_loss(self, inputs: dict, depth: int, run):
        return run(self.model, inputs)[self.model.loss_name]


def layout_of(model: Model) -> Stack | WholeModel:
    """How ``model`` is put together: its stack, or itself as one whole."""
    return WholeModel(model) if model.stack is None else model.stack


def stack_layers(model: Model, carry: Tensor, *lists: ListInput) -> Stack:
    """Declare ``model``'s repeated layers: ``carry`` (a constant of the model) enters the first,
    ``lists`` (``model.parameter_list``/``constant_list``) give one matrix per layer."""
    if model.stack is not None:
        raise ModelError(f"model {model.name!r} already has a stack")
    declared = (("dimension", model.dimensions), ("tensor", model.tensors), ("list input", model.lists))
    for kind, names in declared:
        for name in names:
            reason = refusal(name, stacked=True)
            if reason is not None:
                raise ModelError(f"{kind} {name!r}: {reason}; rename it")
    model.stack = Stack(model, carry, tuple(lists))
    model.stacked_names = True
    return model.stack
