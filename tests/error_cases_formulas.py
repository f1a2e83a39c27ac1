"""docs/errors.md rows about symgrad check: formulas, their limits and diagnoses."""
import io
from contextlib import redirect_stderr, redirect_stdout

from symgrad.cli import main

ATTENTION = '''
from symgrad import Model, sum_squares


def build():
    m = Model("attention_scores", "scores of a square projection, scaled by 1/sqrt(dk)")
    n, dk = m.dims("n dk")
    Q = m.constant("Q", (n, dk))
    K = m.constant("K", (n, dk))
    W = m.parameter("W", (dk, dk))
    scores = m.define("scores", Q @ W @ K.T * dk ** -0.5)
    m.loss("Loss", sum_squares(scores) / n)
    return m
'''

# id: (model, --formula, other arguments); each gets exit 2 and its message on stderr
REFUSED = {
    "formula-inf-index": ("two_branch_crelu", "C[0, 1e999]", ()),
    "formula-nan-index": ("two_branch_crelu", "C[0, 0/0]", ()),
    "formula-long-integer": ("two_branch_crelu", "1" * 400, ()),
    "formula-negative-size": ("two_branch_crelu", "ones(-5, 3)", ()),
    "formula-index-past": ("two_branch_crelu", "C[0, 10**20]", ("--syntax", "index", "--indices", "i,j")),
    "formula-latex-nesting": ("two_branch_crelu", "-" * 2000 + "C", ("--syntax", "latex")),
    "formula-latex-length": ("two_branch_crelu", "+".join(["C"] * 5000), ("--syntax", "latex")),
    "formula-long-sum": ("two_branch_crelu", "+".join(["C"] * 1000), ()),
    "formula-array-size": ("two_branch_crelu", "ones(100000, 100000)", ()),
    "formula-diag-size": ("two_branch_crelu", "diag(ones(100000))", ()),
    "formula-cost": ("two_branch_crelu", "ones(3000, 3000) @ ones(3000, 3000) @ ones(3000, 3000) @ ones(3000, 1)",
                     ()),
    "depth-zero": ("ntk_relu", "1", ("--wrt", "W[0]", "--depth", "0")),
    "depth-limit": ("ntk_relu", "1", ("--wrt", "W[0]", "--depth", "41")),
    "depth-no-layers": ("two_branch_crelu", "1", ("--depth", "2")),
    "wrt-layer-intermediate": ("ntk_relu", "W.T", ("--wrt", "X_prev")),
    "wrt-loss": ("two_branch_crelu", "1", ("--wrt", "Loss")),
}

# id: (model, --wrt, --formula, the exit code); the verdict is on stdout
VERDICTS = {
    "wrt-intermediate": ("two_branch_crelu", "Delta", "2 * Delta", 1),
    "diagnosis-square-transpose": ("attention", "W", "(2/n * Q.T @ scores @ K / sqrt(dk)).T", 1),
    "diagnosis-sqrt-factor": ("attention", "W", "2/n * Q.T @ scores @ K", 1),
    "diagnosis-correct-numpy": ("two_branch_crelu", "C", "-2 * Delta @ H.T", 1),
}


def check(*args):
    """(exit code, stdout, stderr) of ``symgrad check ARGS``, run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", *args])
    return code, out.getvalue(), err.getvalue().strip()


def case(name, tmp_path):
    """The message row ``name`` gets, or None when the row is not one of this area's."""
    if name in REFUSED:
        model, formula, extra = REFUSED[name]
        wrt = () if "--wrt" in extra else ("--wrt", "A1")
        code, _, err = check(model, *wrt, *extra, f"--formula={formula}")
        assert code == 2 and "\n" not in err, err
        return err
    if name in VERDICTS:
        model, wrt, formula, expected = VERDICTS[name]
        if model == "attention":
            model = str(tmp_path / "attention.py")
            (tmp_path / "attention.py").write_text(ATTENTION)
        code, out, _ = check(model, "--wrt", wrt, f"--formula={formula}")
        assert code == expected, out
        return out
    if name == "depth-deep":
        for model, wrt, depth in (("softmax_ce", "Theta[0]", 8), ("ntk_relu", "W[0]", 9)):
            code, out, err = check(model, "--wrt", wrt, "--depth", str(depth), "--formula", "1")
            assert code == 1 and "MISMATCH (shape)" in out, err
        return "documented behaviour: no error; every depth from 1 to 40 is checked"
    return None
