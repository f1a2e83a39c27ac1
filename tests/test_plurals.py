"""Counts in symgrad's messages agree with their nouns: ``1 gradient``, ``2 arguments``, ``1 index``."""
import pytest

from symgrad.cli import main
from symgrad.errors import counted

from .error_cases_formulas import check

LINE = ("--loss", "sum_squares(X @ w)", "--param", "w=d,1", "--const", "X=n,d")


def test_counted_is_singular_for_one_only():
    assert [counted(n, "gradient") for n in (0, 1, 2)] == ["0 gradients", "1 gradient", "2 gradients"]
    assert (counted(1, "index"), counted(3, "index"), counted(1, "axis"), counted(2, "axis")) == \
        ("1 index", "3 indices", "1 axis", "2 axes")


@pytest.mark.parametrize("hvp, summary", [
    ((), "\n1 gradient checked against central finite differences (float64, 1 point x 2 dimension sets"),
    (("--hvp",), "\n1 Hessian-vector product checked against central differences"),
])
def test_verify_counts_one_gradient_and_one_point_in_the_singular(tmp_path, capsys, hvp, summary):
    assert main(["verify", *LINE, "--points", "1", "-o", str(tmp_path), *hvp]) == 0
    out = capsys.readouterr().out
    assert summary in out and "1 point x 2 dimension sets" in out, out


@pytest.mark.parametrize("loss, params, wrt, extra, message", [
    ("sum(exp(w, w))", ("w=d,1",), "w", ("--formula", "1"), "--loss: exp(x) takes 1 argument, got 2"),
    ("sum(maximum(w))", ("w=d,1",), "w", ("--formula", "1"), "--loss: maximum(a, b) takes 2 arguments, got 1"),
    ("sum(W)", ("W=n,d",), "W", ("--formula", "relu(W, W)"), "relu(x) takes 1 argument, got 2"),
    ("sum(W)", ("W=n,d",), "W", ("--formula", "1", "--syntax", "index", "--indices", "i"),
     "--indices: 1 index for a gradient of shape (3, 4)"),
    ("sum(W)", ("W=n,d",), "W", ("--formula", "1", "--syntax", "index", "--indices", "i,j,k"),
     "--indices: 3 indices for a gradient of shape (3, 4)"),
])
def test_messages_count_in_the_singular_and_the_plural(loss, params, wrt, extra, message):
    params = [a for p in params for a in ("--param", p)]
    code, _, err = check("--loss", loss, *params, "--wrt", wrt, *extra)
    assert code == 2 and message in err, err
