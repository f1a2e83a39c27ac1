"""A long sum in parentheses wraps in the derivation documents: ``\\left( ... \\right)`` is one box
TeX cannot break, so a long formula's parentheses around a sum are ``\\bigl( ... \\bigr)``."""
import re
import subprocess

from symgrad import Model, sum_squares, tanh
from symgrad.differentiate.chain_rule import derive
from symgrad.documents.derivation import build_document
from symgrad.emit.files import render_document
from symgrad.emit.tex_breaks import breakable_parentheses

from .conftest import require_program


def test_parentheses_around_a_sum_outside_groups_become_breakable():
    given = (r"2 \cdot \left(1 - \left(\tanh\left(a + b\right)\right)^{2}\right) \allowbreak "
             r"\left(\tanh\left(x\right) - y_{i}\right) + \frac{\left(a + b\right)}{2} \sum_{c} "
             r"\left(\frac{1}{N} + q\right) \left|x + y\right| \left(-x\right)")
    assert breakable_parentheses(given) == (
        r"2 \cdot \bigl(1 - \bigl(\tanh\bigl(a + b\bigr)\bigr)^{2}\bigr) \allowbreak "
        r"\bigl(\tanh\left(x\right) - y_{i}\bigr) + \frac{\left(a + b\right)}{2} \sum_{c} "
        r"\Bigl(\frac{1}{N} + q\Bigr) \left|x + y\right| \left(-x\right)")
    assert breakable_parentheses(r"\left(x_{1}\right)^{2}") == r"\left(x_{1}\right)^{2}"


def _long_tanh(terms: int = 20) -> Model:
    m = Model("long_tanh", "tanh of a long elementwise sum")
    N, D = m.dims("N D")
    T = m.constant("T", (N, D))
    total = None
    for k in range(1, terms + 1):
        product = m.constant(f"A{k}", (N, D)) * m.parameter(f"P{k}", (N, D))
        total = product if total is None else total + product
    H = m.define("H", tanh(total))
    m.loss("Loss", sum_squares(H - T))
    return m


def _words_past(pdf, width_limit):
    """Words of the PDF whose right edge lies past ``width_limit`` points, by ``pdftotext -bbox``."""
    text = subprocess.run([require_program("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    page = float(re.search(r'<page width="([\d.]+)"', text).group(1))
    return [float(x) for x in re.findall(r'xMax="([\d.]+)"', text) if float(x) > page - width_limit]


def test_a_long_sum_in_parentheses_wraps_inside_the_page(tmp_path):
    model = _long_tanh()
    text = render_document(build_document(model, derive(model)), "symgrad latex long_tanh.py", "tex")
    assert r"\tanh\bigl(A_{10\,ij} P_{10\,ij} + " in text and r"\bigl(1 - \bigl(\tanh\bigl(" in text
    pdflatex = require_program("pdflatex")
    (tmp_path / "doc.tex").write_text(text)
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", result.stdout)]
    assert all(width < 10 for width in overfull), overfull
    # the right margin is 2cm (56.9pt): no word of the text goes past it, give or take a point
    assert _words_past(tmp_path / "doc.pdf", 56.9 - 1) == []
