"""symgrad from Python: load a model, derive it, and take what symgrad makes of it.

    import symgrad
    derived = symgrad.derive(symgrad.load_model("mlp_mse"))   # a catalogue name or a model file
    derived.source()      # the generated NumPy module's text (what `symgrad generate` writes)
    derived.source(backend="torch")   # or "jax": NAME_torch.py / NAME_jax.py
    derived.module()      # that module, imported in memory: .loss, .loss_and_grad, .forward
    derived.latex()       # the derivation document, LaTeX (what `symgrad latex` writes)
    derived.markdown()    # the same document in Markdown
    derived.gradients()   # {parameter: collapsed index formula, as text}
    derived.matrix_view() # what the generated code computes, as LaTeX displays

In a Jupyter notebook a ``DerivedModel`` displays itself (``_repr_markdown_`` and
``_repr_latex_``). Every output is made on first use and kept.
"""
from __future__ import annotations

import linecache
import types
from functools import cached_property

from symgrad.differentiate.chain_rule import derive as derive_model
from symgrad.emit.backends import render_backend
from symgrad.emit.files import render_document, render_module
from symgrad.documents.derivation import build_document
from symgrad.model.model import Model
from symgrad.model.sources import load
from symgrad.emit.layer_plan import plan_for


def load_model(name_or_path: str) -> Model:
    """The catalogue model called ``name_or_path``, or the model a ``.py`` file defines."""
    return load(name_or_path)


def derive(model: Model) -> "DerivedModel":
    """Run the chain rule over ``model``'s named intermediates (``symgrad.differentiate.chain_rule.derive``)."""
    if not isinstance(model, Model):
        raise TypeError(f"symgrad.derive takes a symgrad.Model (see symgrad.load_model), "
                        f"got {type(model).__name__}")
    return DerivedModel(model, derive_model(model))


class DerivedModel:
    """A model with its derivation, and the outputs symgrad makes from them."""

    def __init__(self, model: Model, derivation):
        self.model = model
        self.derivation = derivation

    def __repr__(self) -> str:
        return (f"<symgrad.DerivedModel {self.model.name!r}: gradients for "
                f"{', '.join(self.derivation.parameters)}>")

    @property
    def parameters(self) -> list[str]:
        return list(self.derivation.parameters)

    def source(self, command: str | None = None, backend: str = "numpy") -> str:
        """The generated module's text, for ``backend`` ``numpy`` (the default), ``torch`` or
        ``jax``; ``command`` is named in its header (by default, the ``symgrad generate``
        command that writes the same file for a catalogue name)."""
        if backend != "numpy":
            suffix = f" --backend {backend}"
            return render_backend(self.derivation, command or f"symgrad generate {self.model.name}{suffix}", backend)
        if command is None:
            return self._source
        return render_module(plan_for(self.derivation, command))

    @cached_property
    def _source(self) -> str:
        return render_module(plan_for(self.derivation, f"symgrad generate {self.model.name}"))

    def module(self) -> types.ModuleType:
        """The generated module, imported in memory (not written anywhere); tracebacks and
        debuggers show its lines."""
        return self._module

    @cached_property
    def _module(self) -> types.ModuleType:
        filename = f"<symgrad generated {self.model.name}>"
        source = self.source()
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        module = types.ModuleType(f"symgrad_generated_{self.model.name}")
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 (symgrad's own output)
        return module

    def latex(self) -> str:
        """The derivation document in LaTeX (``pdflatex`` compiles it)."""
        return self._document("tex")

    def markdown(self) -> str:
        """The derivation document in Markdown, formulas between ``$$``."""
        return self._document("md")

    def _document(self, kind: str) -> str:
        if kind not in self._rendered:
            self._rendered[kind] = render_document(self._sections, f"symgrad latex {self.model.name}", kind)
        return self._rendered[kind]

    @cached_property
    def _rendered(self) -> dict[str, str]:
        return {}

    @cached_property
    def _sections(self):
        return build_document(self.model, self.derivation)

    def gradients(self) -> dict[str, str]:
        """Each parameter's gradient, collapsed, as the index formula ``symgrad show`` prints
        (for a model with layers: the output layer's and the hidden layer's, by layer)."""
        return self.derivation.collapsed_gradients()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def matrix_view(self) -> str:
        """What the generated code computes, line by line, as LaTeX displays (``$$...$$``)."""
        formulas = [formula.replace(r" \allowbreak ", " ") for section in self._sections.sections
                    if section.title.endswith("Matrix view") for formula in section.formulas]
        return "\n".join(f"$${formula}$$" for formula in formulas)

    def _repr_latex_(self) -> str:
        return self.matrix_view()
