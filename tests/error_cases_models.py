"""docs/errors.md rows about building models, loading model files, the command line's exits."""
import signal
import subprocess
import sys
import time

from symgrad import Model, stack_layers

from .conftest import ROOT
from .error_support import cli, message_of

UNUSED_PARAMETER = '''
from symgrad import Model, sum_squares


def build():
    m = Model("unused_bias")
    n, p = m.dims("n p")
    X = m.constant("X", (n, p))
    w = m.parameter("w", (p, 1))
    b = m.parameter("b")
    m.loss("Loss", sum_squares(X @ w) / n)
    return m
'''

UNDEFINED_LOSS = '''
from symgrad import Model, log, sigmoid


def build():
    m = Model("focal_unsampled")
    N, D = m.dims("N D")
    X, y = m.constant("X", (N, D)), m.constant("y", (N, 1))
    w = m.parameter("w", (D, 1))
    p = m.define("p", sigmoid(X @ w))
    pt = m.define("pt", y * p + (1 - y) * (1 - p))     # a probability only for labels 0 and 1
    m.loss("Loss", (-((1 - pt) ** 2) * log(pt)).sum() / N)
    return m
'''

SLOW_MODEL = '''
import pathlib
import time


def build():
    pathlib.Path("inside").write_text("building")
    time.sleep(120)
'''

# The rows answered by one call while a model is built in Python: (model, its dimension d) -> call
NAMES = {
    "name-builtin": lambda m, d: m.parameter("float", (d, 1)),
    "name-keyword": lambda m, d: m.constant("lambda"),
    "name-generated": lambda m, d: m.constant("np"),
    "name-prefix": lambda m, d: m.parameter("grad_W", (d, 1)),
    "name-identifier": lambda m, d: m.constant("2x"),
    "name-dimension": lambda m, d: m.dims("len"),
    "shape-zero": lambda m, d: m.parameter("W", (d, 0)),
    "shape-negative": lambda m, d: m.parameter("W", (d, -3)),
    "shape-float": lambda m, d: m.parameter("W", (d, 1.5)),
    "shape-not-positive": lambda m, d: m.parameter("W", (d, d - 3)),
}


def _layers_name():
    m = Model("layered")
    d, n = m.dims("d n")
    X = m.constant("X", (d, n))
    W = m.parameter_list("W")
    m.constant("depth")
    return stack_layers(m, X, W)


def interrupt_a_slow_command(tmp_path):
    """(exit code, stderr) of ``symgrad show slow.py`` sent SIGINT while the model file runs."""
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    process = subprocess.Popen([sys.executable, "-m", "symgrad", "show", "slow.py"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"PYTHONPATH": str(ROOT), "PATH": ""})
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "inside").exists():
            assert process.poll() is None and time.monotonic() < deadline, "never reached build()"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr.strip()


def closed_stdout(tmp_path, *args):
    """(exit code, stderr) of ``symgrad ARGS`` whose stdout reader has gone (``... | head -1``)."""
    process = subprocess.Popen([sys.executable, "-m", "symgrad", *args], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"PYTHONPATH": str(ROOT), "PATH": ""})
    process.stdout.close()
    stderr = process.stderr.read()
    process.stderr.close()
    return process.wait(timeout=120), stderr.strip()


def case(name, tmp_path):
    """The message row ``name`` gets, or None when the row is not one of this area's."""
    if name in NAMES:
        m = Model("m")
        (d,) = m.dims("d")
        return message_of(lambda: NAMES[name](m, d))
    if name == "name-layers":
        return message_of(_layers_name)
    if name == "model-name":
        return message_of(lambda: Model("class"))
    if name == "unused-parameter":
        (tmp_path / "unused.py").write_text(UNUSED_PARAMETER)
        code, stderr = cli(tmp_path, "show", "unused.py")
        assert code == 0 and len(stderr.splitlines()) == 1
        return stderr
    if name == "undefined-loss":
        (tmp_path / "focal.py").write_text(UNDEFINED_LOSS)
        for flags in ((), ("--hvp",)):
            code, stderr = cli(tmp_path, "verify", *flags, "focal.py", "-o", str(tmp_path))
            assert code == 2, stderr
            assert "Traceback" not in stderr and stderr.count("symgrad: error:") == 1
        return stderr
    if name == "model-exits":
        (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
        code, stderr = cli(tmp_path, "check", "exits.py", "--wrt", "w", "--formula", "1")
        assert code == 2
        return stderr
    if name == "model-interrupt":
        (tmp_path / "ctrlc.py").write_text("def build():\n    raise KeyboardInterrupt\n")
        code, stderr = cli(tmp_path, "show", "ctrlc.py")
        assert code == 130
        return stderr
    if name == "ctrl-c":
        code, stderr = interrupt_a_slow_command(tmp_path)
        assert code == 130 and "Traceback" not in stderr
        return stderr
    if name == "broken-pipe":
        code, stderr = closed_stdout(tmp_path, "list")
        assert stderr == ""
        return f"no message; exit code {code}"
    return None
