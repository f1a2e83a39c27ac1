"""The README's two commands are the ones CI runs."""
import re

from .conftest import ROOT


def _commands():
    blocks = re.findall(r"```\n(python3 -m venv[^\n]*)\n```", (ROOT / "README.md").read_text())
    return blocks


def test_readme_has_the_main_job_and_the_test_command():
    main_job, tests = _commands()
    assert "symgrad verify --all" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_commands_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in _commands():
        assert command in ci, command


def test_every_function_of_the_table_is_in_the_operations_table():
    from symgrad.model.functions import TABLE
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]
    for name in TABLE:
        assert any(f"`{name}(" in line for line in rows), f"README's operation table lacks {name}"
