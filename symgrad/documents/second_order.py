r"""The second-order derivation as a document (``symgrad latex NAME --hvp``), after the first-order one.

Sections, each built from the tangent derivation's own steps (``differentiate/tangents.py``):
the tangent of each intermediate along the parameters' tangent $\dot\theta$; the local partial
derivatives of each adjoint with respect to its inputs (the second partials: Kronecker deltas
and indicators, the derivative of an indicator 0); the tangent of each adjoint, first as the
chain rule writes it (every local partial times the tangent of its input, summed over the
input's indices), then with the deltas summed out; and, per parameter, the collapsed
Hessian-vector product with every named tangent and adjoint substituted, except a name whose
substitution would make the sum longer than ``SUBSTITUTED_TERMS`` terms: it stays named, as the
first-order document keeps its named adjoints (expanded, a GELU MLP's product was 180 terms,
254,453 characters). Printed with the
first-order document's index printer, so names and indices read the same. A model with layers
gets these sections for each layer kind (each derived once), after a section on the recursion
that chains them (``ModelDerivation.second_order_preface``); a layer's product for layer l reads
the tangent of the adjoint of its output, which the layer above computes.
"""
from __future__ import annotations

import sympy as sp

from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.differentiate.tangents import TangentDerivation, derive_tangents
from symgrad.documents.derivation import Document, Section, build_document, formula_printer, index_latex
from symgrad.index.conventions import ADJOINT_PREFIX, adjoint_name, tangent_name
from symgrad.index.terms import IndexExpr
from symgrad.lower.latex_names import base_latex

SUBSTITUTED_TERMS = 32   # a product's closed form substitutes a named tangent or adjoint only up to this many terms


class _SecondOrder:
    def __init__(self, tangents: TangentDerivation, parameters):
        self.tangents, self.model, self.parameters = tangents, tangents.derivation.model, parameters
        shapes = {n: t.shape for n, t in self.model.tensors.items()}
        shapes.update({adjoint_name(n): s for n, s in list(shapes.items())})
        shapes.update({tangent_name(n): s for n, s in list(shapes.items())})
        self.shapes, self.reserved = shapes, set(self.model.tensors) | set(self.model.dimensions)

    def entry(self, name, indices, printer) -> str:
        return printer.doprint(sp.IndexedBase(name)[tuple(indices)]) if indices else base_latex(name)

    def formula(self, name, expr: IndexExpr, shown: IndexExpr | None = None) -> str:
        printer = formula_printer(self.shapes, self.reserved, expr.indices)
        return f"{self.entry(name, expr.indices, printer)} = {index_latex(shown or expr, printer)}"

    def forward(self) -> Section:
        formulas = [self.formula(tangent_name(n), reuse_forward_values(e, self.model, cheaper=False))
                    for n, e in self.tangents.forward.items()]
        return Section("Second order: tangents of the intermediates",
                       r"Along a tangent $\dot\theta$ of the parameters (one $\dot P$ per parameter $P$), "
                       r"each intermediate's directional derivative, $\dot Y = \sum_X \sum \partial Y / "
                       r"\partial X \cdot \dot X$, from the local partials above, deltas collapsed:", formulas)

    def second_partials(self) -> Section:
        formulas = []
        for step in self.tangents.steps:
            if not step.of.startswith(ADJOINT_PREFIX):
                continue
            printer = formula_printer(self.shapes, self.reserved, step.out, step.at)
            top = self.entry(step.of, step.out, printer)
            bottom = self.entry(step.through, step.at, printer)
            formulas.append(rf"\frac{{\partial {top}}}{{\partial {bottom}}} = "
                            f"{index_latex(IndexExpr(step.at, step.partial), printer)}")
        return Section("Second order: local partials of the adjoints",
                       "Each adjoint is a function of forward values and of the adjoints before it; its "
                       r"partial derivatives (the second partials of the loss; the derivative of an "
                       r"indicator, $1_{z > 0}$ or $1_{0 \le z \le t}$, is 0, as in PyTorch: "
                       r"$\mathrm{relu}'' = 0$):", formulas)

    def adjoint_tangents(self) -> list[Section]:
        sections = []
        for name, expr in self.tangents.adjoints.items():
            target = tangent_name(adjoint_name(name))
            steps = [s for s in self.tangents.steps if s.of == adjoint_name(name)]
            chained = IndexExpr(expr.indices, tuple(t for s in steps for t in s.chained))
            section = Section(f"Second order: the tangent of the adjoint of {name}",
                              "Every local partial times the tangent of its input, summed over the input's "
                              "indices; then with the deltas summed out:")
            section.formulas.append(self.formula(target, expr, chained))
            section.formulas.append(self.formula(target, reuse_forward_values(expr, self.model, cheaper=False)))
            printer = formula_printer(self.shapes, self.reserved, expr.indices)
            summed = [rf"${printer.doprint(e.delta)}$ (${printer.doprint(e.index)} := {printer.doprint(e.value)}$)"
                      for s in steps for e in s.eliminated]
            if summed:
                section.notes.append("Summing out the deltas: " + ", ".join(summed) + ".")
            sections.append(section)
        return sections

    def products(self) -> list[Section]:
        sections = []
        for parameter in self.parameters:
            expanded = self.tangents.expanded(parameter, max_terms=SUBSTITUTED_TERMS)
            section = Section(f"Second order: the Hessian-vector product with respect to {parameter}")
            if expanded is None and self.tangents.hvp(parameter) is None:
                section.text = f"The gradient with respect to {parameter} does not change along any tangent: 0."
            elif expanded is None:
                section.text = "Too many named tangents to substitute; the recursion above computes it."
            else:
                kept = self.tangents.named_reads(expanded)
                head = (r"$(H \dot\theta)_{" + base_latex(parameter) + "} = "
                        + base_latex(tangent_name(adjoint_name(parameter))) + "$, ")
                section.text = head + "every named tangent and adjoint substituted, collapsed:"
                if kept:
                    section.text = (head + "the named tangents and adjoints substituted, collapsed, except where "
                                    f"that would make the sum longer than {SUBSTITUTED_TERMS} terms: "
                                    + ", ".join(f"${base_latex(n)}$" for n in kept)
                                    + (" stays" if len(kept) == 1 else " stay") + " named (computed above):")
                section.formulas.append(self.formula(tangent_name(adjoint_name(parameter)),
                                                     reuse_forward_values(expanded, self.model, cheaper=False)))
            sections.append(section)
        return sections


def build_hvp_document(model, derivation) -> Document:
    """The first-order document of a model, then its second-order derivation: the derivation's
    second-order preface, then each part's steps (a stack's hidden and output layers, each derived
    once and titled by its layer)."""
    document = build_document(model, derivation)
    document.sections += [Section(title, text) for title, text in derivation.second_order_preface]
    for part in derivation.parts:
        tangents = derive_tangents(part.derivation, part.varying)
        # the model's parameters (a layer's carried input has the tangent of its adjoint above, no product)
        writer = _SecondOrder(tangents, [p for p in tangents.parameters if p in derivation.parameters])
        for section in [writer.forward(), writer.second_partials(), *writer.adjoint_tangents(), *writer.products()]:
            section.title = part.section_prefix + section.title
            document.sections.append(section)
    # a description is the user's text, often without a full stop: the sentence after it starts anew
    stop = "" if not document.subtitle or document.subtitle.rstrip().endswith((".", "!", "?")) else "."
    document.subtitle = (document.subtitle.rstrip() + stop + " With the second order: Hessian-vector products "
                         "by forward-over-reverse.").lstrip()
    return document
