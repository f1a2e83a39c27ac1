"""docs/zoo_audit.md is kept true: every command on it is run and its verdict checked, with
tests/test_seed_audit.py's machinery (the same command comments, table rows and counts)."""
import pytest

from .conftest import ROOT
from .test_seed_audit import _commands, _rows, check_command, check_counts, check_row

DOC = ROOT / "docs" / "zoo_audit.md"
COMMANDS = _commands(DOC)
ROWS = _rows(DOC, r"Z\d{2}")


def test_the_page_has_a_command_for_each_row():
    assert len(ROWS) >= 30 and {i for i, _, _ in COMMANDS} == set(ROWS)


@pytest.mark.parametrize("ident, expect, command", COMMANDS, ids=[i for i, _, _ in COMMANDS])
def test_each_command_gets_the_verdict_the_page_says(ident, expect, command, capsys):
    check_command(ident, expect, command, capsys, DOC)


@pytest.mark.parametrize("ident", sorted(ROWS))
def test_each_row_agrees_with_its_commands(ident):
    check_row(ident, ROWS, COMMANDS)


def test_the_counts_add_up():
    check_counts(DOC, ROWS, COMMANDS)
