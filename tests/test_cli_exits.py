"""How the command line ends: a model file that exits or is interrupted, Ctrl-C, a closed pipe,
warnings as one line each."""
import pytest

from symgrad.cli import main

from .error_cases_models import UNUSED_PARAMETER, closed_stdout, interrupt_a_slow_command
from .error_support import cli


@pytest.mark.parametrize("source, told", [
    ("import sys\nsys.exit(0)\n", "exits with sys.exit(0) at line 2 of exits.py"),
    ("import sys\n\n\ndef build():\n    sys.exit()\n", "exits with sys.exit() at line 5 of exits.py"),
    ("raise SystemExit(3)\n", "exits with sys.exit(3) at line 1 of exits.py"),
    ("exit('bye')\n", "exits with sys.exit('bye') at line 1 of exits.py"),
])
def test_a_model_file_that_exits_is_an_error_whatever_its_code(tmp_path, source, told):
    (tmp_path / "exits.py").write_text(source)
    for command in (("check", "exits.py", "--wrt", "w", "--formula", "1"), ("show", "exits.py")):
        code, stderr = cli(tmp_path, *command)
        assert (code, stderr) == (2, f"symgrad: error: model file exits.py: {told} instead of defining a model")


def test_a_build_returning_something_else_says_what(tmp_path):
    (tmp_path / "three.py").write_text("def build():\n    return 3\n")
    code, stderr = cli(tmp_path, "show", "three.py")
    assert code == 2 and stderr.endswith("(build() returns a value of type int)")


def test_a_model_file_raising_keyboard_interrupt_is_an_interruption(tmp_path, capsys):
    (tmp_path / "ctrlc.py").write_text("def build():\n    raise KeyboardInterrupt\n")
    assert cli(tmp_path, "generate", "ctrlc.py") == (130, "symgrad: interrupted")
    assert main(["show", str(tmp_path / "ctrlc.py")]) == 130
    assert capsys.readouterr().err == "symgrad: interrupted\n"


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    assert interrupt_a_slow_command(tmp_path) == (130, "symgrad: interrupted")


@pytest.mark.parametrize("command", [("list",), ("show", "two_branch_crelu"),
                                     ("check", "two_branch_crelu", "--wrt", "A1", "--formula", "C")])
def test_a_closed_pipe_stops_quietly(tmp_path, command):
    assert closed_stdout(tmp_path, *command) == (141, "")


def test_a_warning_is_one_line_and_the_command_succeeds(tmp_path, capsys):
    (tmp_path / "unused.py").write_text(UNUSED_PARAMETER)
    line = "symgrad: warning: parameter 'b' does not affect the loss 'Loss'; its gradient is zero"
    assert cli(tmp_path, "generate", "unused.py", "-o", "out") == (0, line)
    assert (tmp_path / "out" / "unused_bias.py").is_file()
    assert main(["show", str(tmp_path / "unused.py")]) == 0      # in-process too, each time
    assert main(["show", str(tmp_path / "unused.py")]) == 0
    assert capsys.readouterr().err == f"{line}\n{line}\n"
