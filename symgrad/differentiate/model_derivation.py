"""What every derivation offers the stages after it, whether the model has layers or not.

``derive`` gives a ``Derivation`` (``chain_rule.py``) for a model without layers and a
``StackDerivation`` (``layers.py``) for a model with a stack, whose hidden and output layers
are each a ``Derivation``. Emission (``emit.layer_plan.plan_for``), the documents, the formula
checker, the API and the command line use only what ``ModelDerivation`` declares, so none of
them asks which of the two it has: a model without layers is one ``Part``, a stack two.

>>> from symgrad.model import catalogue
>>> from symgrad.differentiate.chain_rule import derive
>>> [part.gradient_label for part in derive(catalogue.build("ntk_relu")).parts]
['hidden layer: ', 'output layer: ']
>>> derive(catalogue.build("ridge_regression")).collapsed_gradients()["w"]
'dLoss/dw[i, 0] = 2 * sum_c X[c, i]*r[c, 0] + 2*lam * w[i, 0]'
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One derived model that the outputs show by itself: a whole model without layers, or one
    layer kind of a stack (its ``derivation`` is a ``chain_rule.Derivation``, of ``derivation.model``)."""

    derivation: object
    heading: str            # its title in ``symgrad show``
    gradient_label: str     # what its gradients' names start with in ``collapsed_gradients``
    section_prefix: str     # what its sections' titles start with in the derivation document
    varying: tuple[str, ...] | None = None   # the inputs with a tangent in second order (None: the
                                             # parameters; a hidden layer's also has grad_out's)


class ModelDerivation(ABC):
    """The derivation of one model, with or without layers.

    Every derivation also has ``model`` (the model derived), ``parameters`` (the names of the
    gradients: the model's parameters and parameter lists, in declaration order) and ``seconds``
    (the time the chain rule took).
    """

    @property
    @abstractmethod
    def parts(self) -> tuple[Part, ...]:
        """The derived models to describe, print and document, in the order they are shown."""

    @property
    @abstractmethod
    def show_preface(self) -> tuple[str, ...]:
        """Lines ``symgrad show`` prints before the parts (none where the one part's heading names the model)."""

    @property
    @abstractmethod
    def document_preface(self) -> tuple[tuple[str, str], ...]:
        """(title, text) of each section the document has before the parts' own sections."""

    @property
    @abstractmethod
    def second_order_preface(self) -> tuple[tuple[str, str], ...]:
        """(title, text) of each section the second-order document has before the parts' own."""

    @property
    @abstractmethod
    def intermediates(self) -> list[str]:
        """The model's own named intermediates with an adjoint: what ``symgrad check --wrt NAME`` may check."""

    @property
    @abstractmethod
    def layer_tensor_names(self) -> frozenset[str]:
        """The names inside the model's layers (which ``--wrt`` cannot take yet); none without layers."""

    @abstractmethod
    def layer(self, layer: int | None, depth: int | None):
        """The ``Derivation`` that computes layer ``layer`` of ``depth`` (``None``: the whole model)."""


    def collapsed_gradients(self) -> dict[str, str]:
        """Each gradient's collapsed index formula, as ``symgrad show`` prints it, by its part's
        label and the parameter's name."""
        return {part.gradient_label + name: part.derivation.collapsed_text(name)
                for part in self._gradient_order() for name in part.derivation.parameters
                if name in part.derivation.adjoints}

    def _gradient_order(self) -> tuple[Part, ...]:
        """The parts in the order ``collapsed_gradients`` lists them."""
        return self.parts
