"""Derivation documents: up to date, compiling with pdflatex, and agreeing with the generated code."""
import re
import subprocess

import numpy as np
import pytest

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated, main, render_derivation
from symgrad.emit.module_plan import plan_module
from symgrad.index.conventions import adjoint_name
from symgrad.emit.files import render_module
from symgrad.documents.derivation import build_document
from symgrad.lower.assembly import lower_expression
from symgrad.lower.latex_printer import LatexArrayPrinter
from symgrad.lower.vectorize import lower

from .conftest import GENERATED, ROOT, require_program

DERIVATIONS = ROOT / "derivations"


def compiled(directory, source: str) -> str:
    """pdflatex's log of ``directory/source``, which must compile."""
    pdflatex = require_program("pdflatex")
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", source],
                            cwd=directory, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    return result.stdout


def hvp_document(tmp_path, loss: str, *inputs: str) -> str:
    """The ``--hvp`` document of a loss typed on one line (``inputs``: ``--param``/``--const`` pairs)."""
    path = tmp_path / "d.tex"
    assert main(["latex", "--loss", loss, "--hvp", *inputs, "-o", str(path)]) == 0
    return path.read_text()


def test_committed_derivations_are_up_to_date(catalogue_name):
    for kind in ("tex", "md"):
        _, text = render_derivation(catalogue_name, kind)
        path = DERIVATIONS / f"{catalogue_name}.{kind}"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `symgrad latex --all`"


def test_markdown_uses_display_blocks_github_renders(catalogue_name):
    text = (DERIVATIONS / f"{catalogue_name}.md").read_text()
    assert text.count("$$") >= 20 and text.count("$$") % 2 == 0
    assert r"\allowbreak" not in text and "Matrix view\n" in text


def test_every_document_compiles_without_overfull_lines(catalogue_name, tmp_path):
    (tmp_path / "doc.tex").write_text((DERIVATIONS / f"{catalogue_name}.tex").read_text())
    log = compiled(tmp_path, "doc.tex")
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", log)]
    assert all(width < 10 for width in overfull), overfull
    assert (tmp_path / "doc.pdf").stat().st_size > 10_000


def test_pdf_format_from_the_command_line(tmp_path):
    require_program("pdflatex")
    assert main(["latex", "two_branch_crelu", "--format", "pdf", "-o", str(tmp_path / "d.pdf")]) == 0
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")


FLAT = [name for name in catalogue.names() if catalogue.build(name).stack is None]


@pytest.mark.parametrize("catalogue_name", FLAT)
def test_matrix_view_is_the_lowering_the_code_comes_from(catalogue_name):
    """The document and generated/ are rendered from the same plan objects."""
    model = catalogue.build(catalogue_name)
    derivation = derive(model)
    plan = plan_module(derivation, f"symgrad generate {catalogue_name}")
    assert render_module(plan) == (GENERATED / f"{catalogue_name}.py").read_text()
    view = [s for s in build_document(model, derivation).sections if s.title == "Matrix view"][0]
    for block in plan.backward:
        assert any(block.latex in formula for formula in view.formulas), block.name


def test_generating_prints_no_matrix_view_and_reading_one_prints_it_once(monkeypatch):
    """Only the documents read the LaTeX: a plan prints a block's view (and a core's relation)
    when it is first read, the same text as printing it at lowering, and once."""
    model = catalogue.build("two_branch_crelu")
    derivation = derive(model)
    printed = []
    real = LatexArrayPrinter.doprint
    monkeypatch.setattr(LatexArrayPrinter, "doprint", lambda self, node: printed.append(node) or real(self, node))
    plan = plan_module(derivation, "symgrad generate two_branch_crelu")
    assert render_module(plan) == (GENERATED / "two_branch_crelu.py").read_text()
    assert printed == []
    cores = [b for b in plan.backward if b.name.endswith("_core")]
    assert cores and all(b.relation for b in cores)
    views = [(b.latex, b.relation) for b in (*plan.forward, *plan.backward)]
    count = len(printed)
    assert views == [(b.latex, b.relation) for b in (*plan.forward, *plan.backward)] and len(printed) == count
    monkeypatch.undo()
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
    for block in plan.forward:
        expr = model.definitions[block.name].expr
        eager = LatexArrayPrinter().doprint(lower_expression(expr, model.tensors[block.name].shape, shapes,
                                                             model.space.ranges_of(expr.indices)).view)
        assert block.latex == eager, block.name


@pytest.mark.parametrize("catalogue_name", FLAT)
def test_shown_collapsed_gradients_equal_the_generated_gradients(catalogue_name):
    """Lower each 'Build it all' collapsed form on its own and compare with the generated code
    (layered models: their per-layer forms are checked through finite differences)."""
    model = catalogue.build(catalogue_name)
    derivation = derive(model)
    module = import_generated(GENERATED / f"{catalogue_name}.py")
    inputs = sample_inputs(model, module, dimension_values(model, 1), np.random.default_rng(9))
    shapes = {n: t.shape for n, t in model.tensors.items()}
    shapes.update({adjoint_name(n): t.shape for n, t in model.tensors.items()})
    scope = {"np": np, **inputs, **module.forward(**inputs), **dimension_values(model, 1)}
    _, grads = module.loss_and_grad(**inputs)
    for name in derivation.parameters:
        expr = derivation.expanded(name)
        lines = lower(f"shown_{name}", expr, model.tensors[name].shape, shapes, derivation.space.ranges_of(expr.indices))
        exec("\n".join(lines), scope)   # symgrad's own lowering of the displayed formula
        np.testing.assert_allclose(np.asarray(scope[f"shown_{name}"], dtype=float).reshape(np.shape(grads[name])),
                                   grads[name], rtol=1e-10, atol=1e-12)


def test_a_formula_longer_than_texs_line_buffer_compiles(tmp_path):
    """TeX reads a line of its source into a buffer of 200,000 characters (TeX Live's buf_size),
    and pdflatex stopped at a longer one: a GELU MLP's Hessian-vector product, every tangent
    substituted, was one line of 254,453. Long formulas go over lines of at most TEX_LINE_LIMIT
    characters, broken at spaces, so the document reads the same."""
    from symgrad.emit.files import TEX_LINE_LIMIT, render_document
    model = catalogue.build("ridge_regression")
    document = build_document(model, derive(model))
    terms = [rf"\sum_{{c}} X_{{c{k % 7}}} \allowbreak w_{{{k % 5}}} \allowbreak \dot{{w}}_{{{k % 3}}}"
             for k in range(6000)]
    formula = r"\dot{\overline{w}}_{i} = " + " + ".join(terms)
    assert len(formula) > 200_000
    document.sections[-1].formulas.append(formula)
    text = render_document(document, "symgrad latex ridge_regression", "tex")
    assert max(len(line) for line in text.splitlines()) <= TEX_LINE_LIMIT + 100    # the display opens on line 1
    assert " ".join(text.split()).count(" ".join(formula.split())) == 1     # only spaces became newlines
    (tmp_path / "doc.tex").write_text(text)
    compiled(tmp_path, "doc.tex")


def test_a_power_of_a_transposed_operand_compiles(tmp_path):
    """A user's mixture model summed the squares of a transposed parameter, ``(Mu * Mu).sum(axis=1).T``:
    the matrix view raised the operand ``\\mathrm{Mu}^{\\top}`` to a power as
    ``\\mathrm{Mu}^{\\top}^{2}``, a double superscript, and pdflatex refused the document."""
    from symgrad import Model
    from symgrad.emit.files import render_document
    m = Model("squares_of_a_transpose")
    N, D, K = m.dims("N D K")
    X, Mu = m.constant("X", (N, D)), m.parameter("Mu", (K, D))
    S = m.define("S", X @ Mu.T + (Mu * Mu).sum(axis=1).T)
    m.loss("Loss", (S * S).sum())
    text = render_document(build_document(m, derive(m)), "symgrad latex squares_of_a_transpose", "tex")
    assert r"\left(\mathrm{Mu}^{\top}\right)^{2}" in text
    (tmp_path / "doc.tex").write_text(text)
    compiled(tmp_path, "doc.tex")


def test_a_tensor_named_delta_is_not_printed_as_the_kronecker_delta(tmp_path):
    """The documents print the Kronecker delta as ``\\delta_{ij}``; a user's tensor ``delta`` printed
    as ``\\delta_{c}`` read as one (and symgrad's LaTeX reader reads ``\\delta_`` as one). It prints
    upright, ``\\mathrm{delta}_{c}``, as other names of several letters do, and so does ``delta1``."""
    text = hvp_document(tmp_path, "sum_squares(tanh(X @ delta) - y) + sum(delta1 * delta1)",
                        "--param", "delta=d,1", "--param", "delta1=d,1", "--const", "X=n,d", "--const", "y=n,1")
    assert r"X_{ic} \mathrm{delta}_{c}" in text and r"\mathrm{delta}_{1\,i}" in text
    kronecker = re.findall(r"\\delta(?![A-Za-z])\S*", text)
    assert kronecker and all(re.fullmatch(r"\\delta_\{[a-z]{2}\}\W*", k) for k in kronecker), kronecker


def test_a_tangent_of_a_subscripted_name_reads_as_its_entries_do(tmp_path):
    """``s2``'s entry prints ``s_{2\\,c}``; its tangent printed ``\\dot{s_{2}}_{c}``, the dot off the
    letter and ``2c`` run together, and ``w_in``'s ``\\dot{w_{in}}_{c}`` read as an index ``inc``. The
    accent (tangent dot, adjoint bar) goes over the letters and the subscripts follow, as without it:
    ``\\dot{s}_{2\\,c}``, ``\\left(\\dot{w}_{in}\\right)_{c}``; and the document compiles."""
    text = hvp_document(tmp_path, "sum_squares(tanh(X @ s2) - y) + sum(w_in * w_in * w_in)",
                        "--param", "s2=d,1", "--param", "w_in=d,1", "--const", "X=n,d", "--const", "y=n,1")
    assert r"X_{ic} \dot{s}_{2\,c}" in text and r"\left(\dot{w}_{in}\right)_{c}" in text
    assert r"\dot{\overline{s}}_{2\,i}" in text and r"= \dot{\overline{s}}_{2}$" in text
    assert not re.findall(r"\\(?:dot|overline)\{[^{}]*(?:\{[^{}]*\}[^{}]*)*_\{", text)   # no subscript under an accent
    compiled(tmp_path, "d.tex")
