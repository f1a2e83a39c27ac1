"""docs/errors.md rows about a loss typed on one line (``--loss TEXT --param NAME=DIMS ...``)."""
import io
import os
from contextlib import redirect_stderr, redirect_stdout

from symgrad.cli import main

ATTACK = "__import__('os').system('touch PWNED')"
DATA = ("--const", "X=n,d", "--const", "y=n,1")
FIT = "sum_squares(X @ w - y)"

# id: the arguments of `symgrad show`; each gets exit 2 and one line on stderr
ROWS = {
    "loss-unknown-name": ("--loss", "sum_squares(X @ v - y)", "--param", "w=d,1", *DATA),
    "loss-shape": ("--loss", FIT, "--param", "w=n,1", *DATA),
    "loss-not-scalar": ("--loss", "X @ w - y", "--param", "w=d,1", *DATA),
    "loss-spec-form": ("--loss", FIT, "--param", "w", *DATA),
    "loss-spec-rank": ("--loss", FIT, "--param", "w=d", *DATA),
    "loss-spec-size": ("--loss", FIT, "--param", "w=d,d-1", *DATA),
    "loss-spec-zero": ("--loss", FIT, "--param", "w=d,0", *DATA),
    "loss-declared-twice": ("--loss", FIT, "--param", "w=d,1", "--const", "w=d,1", *DATA),
    "loss-dimension-tensor": ("--loss", "sum(w)", "--param", "w=d,n", "--const", "n="),
    "loss-name-builtin": ("--loss", "sum(len)", "--param", "len=d,1"),
    "loss-dimension-builtin": ("--loss", "sum(w)", "--param", "w=len,1"),
    "loss-model-name": ("--loss", FIT, "--param", "w=d,1", *DATA, "--name", "class"),
    "loss-own-name": ("--loss", "Loss", "--param", "Loss="),
    "loss-no-param": ("--loss", FIT, *DATA),
    "loss-unknown-function": ("--loss", "sum(gelu(w))", "--param", "w=d,1"),
    "loss-arguments": ("--loss", "sum(exp(w, w))", "--param", "w=d,1"),
    "loss-keyword": ("--loss", "sum(exp(w, axis=1))", "--param", "w=d,1"),
    "loss-keepdims": ("--loss", "sum(softmax(w, axis=0, keepdims=False))", "--param", "w=d,1"),
    "loss-method-keepdims": ("--loss", "sum(w.mean(axis=0, keepdims=False))", "--param", "w=d,k"),
    "loss-method-axis": ("--loss", "sum(w.max())", "--param", "w=d,k"),
    "loss-method": ("--loss", "sum(w.std(0))", "--param", "w=d,k"),
    "loss-exponent": ("--loss", "sum(w ** w)", "--param", "w=d,1"),
    "loss-number-power": ("--loss", "9 ** 9 ** 9 * sum(w)", "--param", "w=d,1"),
    "loss-division-zero": ("--loss", "sum(w) / (1 - 1)", "--param", "w=d,1"),
    "loss-subscript": ("--loss", "w[0, 0]", "--param", "w=d,1"),
    "loss-syntax": ("--loss", "sum(w) @", "--param", "w=d,1"),
    "loss-attack": ("--loss", ATTACK, "--param", "w=d,1"),
    "loss-length": ("--loss", "+".join(["w"] * 2100), "--param", "w="),
    "loss-nesting": ("--loss", "*".join(["w"] * 300), "--param", "w="),
    "loss-terms": ("--loss", "*".join(["(w + w + w + w)"] * 5), "--param", "w="),
    "loss-and-model": ("two_branch_crelu", "--loss", "sum(w)", "--param", "w=d,1"),
    "loss-neither": (),
    "loss-flag-alone": ("two_branch_crelu", "--param", "w=d,1"),
    "loss-positional": ("sum_squares(X @ w - y)",),
}


def show(tmp_path, *args):
    """(exit code, stdout, stderr) of ``symgrad show ARGS``, run in-process in ``tmp_path``."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(tmp_path)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["show", *args])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue().strip()


def case(name, tmp_path):
    if name not in ROWS:
        return None
    code, out, err = show(tmp_path, *ROWS[name])
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("symgrad: error: ")
    assert not (tmp_path / "PWNED").exists()
    return err
