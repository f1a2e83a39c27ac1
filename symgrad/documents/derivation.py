"""A derivation as a document, step by step as the notes are written.

Sections, each a list of LaTeX formulas built from the derivation objects:
conditions (dimensions, constants, parameters); sub-functions (each named
intermediate in index notation); local partial derivatives (Kronecker deltas
and indicators); for each parameter the chain rule assembled from the loss
down ("Build it all"), the deltas summed out and the collapsed form; the
matrix view, which is the LaTeX twin of the very lowering the generated code
comes from; for layered models, the per-layer recursion. Indices are 0-based,
as in the generated code. ``emit`` renders these into .tex or .md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.latex import LatexPrinter

from symgrad.index.deltas import collapse
from symgrad.index.conventions import ADJOINT_PREFIX, adjoint_name, adjoint_of
from symgrad.lower.latex_names import base_latex, entry_latex
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.emit.layer_plan import part_plans, plan_for
from symgrad.index.terms import IndexExpr, Term, index_symbols
from symgrad.index.text import index_name


@dataclass
class Section:
    title: str
    text: str = ""
    formulas: list[str] = field(default_factory=list)   # LaTeX, one display each
    notes: list[str] = field(default_factory=list)      # plain-text remarks after the formulas


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


class _IndexPrinter(LatexPrinter):
    """Entries as the notes print them: ``X_{1\\,jc}``, ``\\Delta_{c}``; deltas as ``\\delta_{ip}``."""

    def __init__(self, shapes: dict, names: dict, namer=None):
        super().__init__({"mul_symbol": None})
        self.shapes, self.names, self.namer = shapes, names, namer

    def _print_Indexed(self, expr):
        shape = self.shapes.get(str(expr.base), (None,) * len(expr.indices))
        indices = [self._print(i) for i, n in zip(expr.indices, shape) if not (n == 1 and i == 0)]
        return entry_latex(str(expr.base), indices)

    def _print_Symbol(self, expr, style="plain"):
        if expr in self.names:
            return self.names[expr]
        if self.namer is not None and expr.is_integer and not expr.is_positive:   # a summed index
            return self.namer(expr, "bound")
        return base_latex(expr.name)

    def _print_KroneckerDelta(self, expr, exp=None):
        a, b = (self._print(x) for x in expr.args)
        return rf"\delta_{{{a}{b}}}" if len(a) == 1 and len(b) == 1 else rf"\delta_{{{a},\,{b}}}"


def _namer(reserved: set[str]):
    """Index names, unique within everything one printer prints (``index.text.index_name``):
    free indices from ``i, j, p, q``, summed ones from ``c, k, l, m, ...``; the table maps each
    index symbol to its LaTeX."""
    table: dict = {}
    drawn: set[str] = set()

    def name(symbol, kind="free"):
        if symbol not in table:
            plain = index_name(kind, drawn, reserved)
            drawn.add(plain)
            table[symbol] = plain if plain.isalpha() else f"{plain[0]}_{{{plain[1:]}}}"
        return table[symbol]
    return table, name


BREAK = r" \allowbreak "   # a place a long formula may wrap (in a paragraph; ignored in display math)


def _term_latex(term: Term, printer: _IndexPrinter) -> str:
    coeff, rest = [], []
    for arg in sp.Mul.make_args(term.factor):
        (rest if index_symbols(arg) else coeff).append(arg)
    deltas = [a for a in rest if isinstance(a, sp.KroneckerDelta)]
    others = [a for a in rest if not isinstance(a, sp.KroneckerDelta)]
    body = BREAK.join(printer.parenthesize(a, 50) for a in deltas + others)
    for e, lo, hi in term.conditions:
        body = rf"1_{{{printer.doprint(lo)} \le {printer.doprint(e)} \le {printer.doprint(hi)}}} " + body
    if term.bound:
        indices = ",".join(printer.doprint(s) for s, _, _ in term.bound)
        body = rf"\sum_{{{indices}}} {body}"
    c = sp.Mul(*coeff)
    if c == 1:
        return body or "1"
    if c == -1:
        return "-" + (body or "1")
    return printer.doprint(c) + (r" \cdot " + body if body else "")


def index_latex(expr: IndexExpr, printer: _IndexPrinter) -> str:
    if not expr.terms:
        return "0"
    return " + ".join(_term_latex(t, printer) for t in expr.terms).replace("+ -", "- ")


def _shape_latex(shape) -> str:
    if not shape:
        return r"\mathbb{R}"
    return r"\mathbb{R}^{" + r" \times ".join(sp.latex(n) for n in shape) + "}"


class _Writer:
    """Turns one model's derivation into sections."""

    def __init__(self, model, derivation, plan):
        self.model, self.derivation, self.plan = model, derivation, plan
        self.shapes = {n: t.shape for n, t in model.tensors.items()}
        self.shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
        self.reserved = set(model.tensors) | set(model.dimensions)

    def printer(self, *exprs):
        table, name = _namer(self.reserved)
        for expr in exprs:
            for index in expr:
                if index != 0:
                    name(index)
        return _IndexPrinter(self.shapes, table, name), name

    def lhs(self, tensor: str, indices, printer) -> str:
        return printer.doprint(sp.IndexedBase(tensor)[tuple(indices)]) if indices else base_latex(tensor)

    def conditions(self) -> Section:
        m = self.model
        formulas = []
        if m.dimensions:
            formulas.append(", ".join(m.dimensions) + r" \in \mathbb{N}")
        for role, title in (("constant", "constants"), ("parameter", "parameters")):
            items = [rf"{base_latex(t.name)} \in {_shape_latex(t.shape)}" for t in m.of_role(role)]
            if items:
                formulas.append(r",\quad ".join(items))
        return Section("Conditions", "Dimensions, constants (data) and parameters (what the gradient is "
                       "taken for). Indices are 0-based, as in the generated code.", formulas)

    def definition_latex(self, name) -> str:
        definition = self.model.definitions[name]
        if definition.origin == "max":
            source, axis = definition.reduce
            return rf"{base_latex(name)} = \max_{{\mathrm{{axis}}\,{axis}}} {base_latex(source)}" \
                   r"\quad\text{(a constant shift: the log-sum-exp does not depend on it)}"
        if definition.origin == "matrix":
            return rf"{base_latex(name)} = {definition.opaque.latex()}"
        expr = definition.expr
        printer, _ = self.printer(expr.indices)
        return f"{self.lhs(name, expr.indices, printer)} = {index_latex(expr, printer)}"

    def sub_functions(self) -> Section:
        return Section("Sub-functions", "Each named intermediate, in index notation.",
                       [self.definition_latex(n) for n in self.model.definitions])

    def partials(self) -> Section:
        formulas = []
        for p in self.derivation.partials:
            printer, _ = self.printer(p.out, p.at)
            top = self.lhs(p.of, p.out, printer)
            bottom = self.lhs(p.wrt, p.at, printer)
            value = index_latex(IndexExpr(p.at, p.terms), printer)
            formulas.append(rf"\frac{{\partial {top}}}{{\partial {bottom}}} = {value}")
        return Section("Local partial derivatives", "Of each intermediate with respect to each of its "
                       "inputs; Kronecker deltas and indicators as the notes write them.", formulas)

    def build_it_all(self, name):
        """The chain rule from the loss down to ``name``, un-collapsed; then collapsed, with a log."""
        space, loss = self.derivation.space, self.model.loss_name
        partials = self.derivation.partials
        at = self.derivation.adjoints[name].indices

        def raw(target, indices, depth=0):
            if target == loss:
                return [Term(sp.Integer(1))]
            if depth > 12:
                return None
            out = []
            for p in partials:
                if p.wrt != target:
                    continue
                fresh = tuple(space.fresh(hi - lo + 1) if o != 0 else sp.Integer(0)
                              for o, (lo, hi) in ((o, space.ranges.get(o, (0, 0))) for o in p.out))
                upstream = raw(p.of, fresh, depth + 1)
                if upstream is None:
                    return None
                mapping = {**{o: f for o, f in zip(p.out, fresh) if o != 0},
                           **{a: b for a, b in zip(p.at, indices) if a != 0}}
                bound = tuple((f, *space.ranges[f]) for f in fresh if f != 0)
                for up in upstream:
                    for local in p.terms:
                        local = space.rename_bound(local, mapping)
                        out.append(Term(up.factor * local.factor, up.bound + bound + local.bound,
                                        up.conditions + local.conditions))
                if len(out) > 8:
                    return None
            return out
        terms = raw(name, at)
        if terms is None:
            return None
        log = []
        collapsed = collapse(terms, self.derivation.space.ranges_of(at), log)
        return IndexExpr(at, tuple(terms)), IndexExpr(at, collapsed), log

    def chain(self) -> list[Section]:
        sections = []
        for name in self.derivation.parameters:
            if name not in self.derivation.adjoints:
                continue
            section = Section(f"Build it all: the gradient with respect to {name}")
            built = self.build_it_all(name)
            final = reuse_forward_values(self.derivation.expanded(name), self.model, cheaper=False)
            printer, namer = self.printer(final.indices)
            head = rf"\frac{{\partial {base_latex(self.model.loss_name)}}}{{\partial " \
                   rf"{self.lhs(name, final.indices, printer)}}}"
            if built is not None:
                raw, _, log = built
                section.text = ("The chain rule over the named intermediates, from the loss down, "
                                "every local partial in place:")
                section.formulas.append(f"{head} = {index_latex(raw, printer)}")
                summed = [rf"${printer.doprint(e.delta)}$ (${printer.doprint(e.index)} := "
                          rf"{printer.doprint(e.value)}$)" for e in log]
                if summed:
                    section.notes.append("Summing out the deltas: " + ", ".join(summed) + ".")
            else:
                section.text = "The chain rule through the named adjoints (too many paths to write out):"
            section.formulas.append(f"{head} = {index_latex(final, printer)}")
            sections.append(section)
        return sections

    def adjoints(self) -> Section:
        formulas = []
        for name in reversed(self.derivation.order):
            if name == self.model.loss_name:
                continue
            expr = reuse_forward_values(self.derivation.adjoints[name], self.model, cheaper=False)
            printer, _ = self.printer(expr.indices)
            formulas.append(f"{self.lhs(adjoint_name(name), expr.indices, printer)} = {index_latex(expr, printer)}")
        return Section("Adjoints, named", r"Reverse mode keeps each adjoint $\overline{V} = \partial "
                       + base_latex(self.model.loss_name) + r" / \partial V$ as a named tensor, so the "
                       "work grows linearly with the number of intermediates:", formulas)

    def matrix_view(self) -> Section:
        formulas = []
        for block in self.plan.forward:
            if block.latex and block.name != self.model.loss_name:
                formulas.append(rf"{base_latex(block.name)} = {block.latex} \in "
                                rf"{_shape_latex(self.model.tensors[block.name].shape)}")
        for block in self.plan.backward:
            name = adjoint_of(block.name) if block.relation else block.name.removeprefix(ADJOINT_PREFIX)
            shape = _shape_latex(self.model.tensors[name].shape)
            if block.relation:
                formulas.append(rf"{base_latex('grad_' + name)} = {block.relation},\quad "
                                rf"{base_latex(block.name)} = {block.latex} \in {shape}")
                continue
            lhs = rf"\nabla_{{{base_latex(name)}}} {base_latex(self.model.loss_name)}" \
                if self.model.tensors[name].role == "parameter" else base_latex(block.name)
            formulas.append(rf"{lhs} = {block.latex} \in {shape}")
        section = Section("Matrix view", r"What the generated code computes, line by line: $\odot$ is the "
                          r"entrywise product (broadcasting a row or a column), $^\top$ a transpose, "
                          r"$A_{[a:b,:]}$ rows $a$ to $b-1$, $\mathbf{1}_n$ a column of $n$ ones; "
                          "each gradient has its parameter's shape.", formulas)
        if any(r"1_{H = Z}" in f for f in formulas):
            section.notes.append(r"$1_{H = Z}$ is the CReLU mask computed from the forward value: "
                                 r"$H = \operatorname{CReLU}(Z, t)$ equals $Z$ exactly where $0 \le Z \le t$.")
        return section

    def sections(self) -> list[Section]:
        return [self.conditions(), self.sub_functions(), self.partials(), self.adjoints(),
                *self.chain(), self.matrix_view()]


def build_document(model, derivation) -> Document:
    """The derivation of ``model`` as sections of LaTeX: the derivation's preface, then each
    part's sections (a stack's hidden and output layers, each titled by its layer)."""
    plan = plan_for(derivation, f"symgrad latex {model.name}", passes=False)   # the matrix view only
    sections = [Section(title, text) for title, text in derivation.document_preface]
    for part, part_plan in zip(derivation.parts, part_plans(plan)):
        for section in _Writer(part.derivation.model, part.derivation, part_plan).sections():
            section.title = part.section_prefix + section.title
            sections.append(section)
    return Document(model.name, model.description, sections)


def formula_printer(shapes: dict, reserved: set[str], *index_groups):
    """The documents' index printer (entries as the notes print them) for tensors of ``shapes``,
    with the free indices of ``index_groups`` named first (``i, j, p, q``), summed ones after."""
    table, name = _namer(reserved)
    for indices in index_groups:
        for index in indices:
            if index != 0:
                name(index)
    return _IndexPrinter(shapes, table, name)
