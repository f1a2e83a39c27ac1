"""docs/seed_audit.md is kept true: every command on it is run and its verdict checked.

The page lists, in fenced ``sh`` blocks, one-line commands each preceded by a comment
``# ID expect: KIND [FACTOR]`` (optionally ``; detail contains: TEXT``, then optionally
``; detail lacks: TEXT``) or ``# ID expect: error: MESSAGE``. Each command is run in-process
through ``symgrad.cli.main`` with ``--json``; the tables' verdict and formula cells and the
counts are checked against the commands.
"""
import json
import re
import shlex

import pytest

from symgrad.cli import main

from .conftest import ROOT

DOC = ROOT / "docs" / "seed_audit.md"
ROW_ID = r"\d{3}-\d+"
PREFIX = ["PYTHONPATH=.", "python3", "-m", "symgrad", "check"]
CLASSES = ("right only under a convention", "not checkable", "right", "wrong")   # longest prefix first


def _commands(doc=DOC):
    """[(id, expectation, command)] from the page's sh blocks, in order."""
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S):
        lines = block.splitlines()
        for k, line in enumerate(lines):
            match = re.fullmatch(r"# (\S+) expect: (.+)", line)
            if match:
                assert k + 1 < len(lines) and lines[k + 1].startswith("PYTHONPATH=."), \
                    f"docs/{doc.name}: {line!r} is not followed by a command"
                found.append((match.group(1), match.group(2), lines[k + 1]))
    return found


def _rows(doc=DOC, row_id=ROW_ID):
    """{id: (formula cell, verdict cell, classification cell)} from the page's tables."""
    rows = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        if re.match(rf"\| {row_id} \|", line):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 6, f"docs/{doc.name}: a row with {len(cells)} cells: {line[:60]}"
            rows[cells[0]] = (cells[2].strip("`"), cells[3].strip("`"), cells[5])
    return rows


def _argv(command):
    argv = shlex.split(command)
    assert argv[:5] == PREFIX, f"not a symgrad check command: {command[:60]}"
    return argv[4:]


def _formula(command):
    argv = _argv(command)
    return argv[argv.index("--formula") + 1]


def _classification(cell):
    return next(c for c in CLASSES if cell.startswith(c))


COMMANDS = _commands()
ROWS = _rows()


def test_the_page_has_its_commands_and_rows():
    assert len(ROWS) >= 40 and len(COMMANDS) >= len(ROWS)
    ids = {i for i, _, _ in COMMANDS}
    assert set(ROWS) <= ids, f"rows without a command: {sorted(set(ROWS) - ids)}"
    assert {i for i in ids if not i.startswith("P-")} <= set(ROWS), "commands without a row"


@pytest.mark.parametrize("ident, expect, command", COMMANDS,
                         ids=[f"{i}#{n}" for n, (i, _, _) in enumerate(COMMANDS)])
def test_each_command_gets_the_verdict_the_page_says(ident, expect, command, capsys):
    check_command(ident, expect, command, capsys)


def check_command(ident, expect, command, capsys, doc=DOC):
    """Run one command of the page in-process and check the verdict its comment expects."""
    code = main(_argv(command) + ["--json"])
    out, err = capsys.readouterr()
    stale = f"docs/{doc.name} [{ident}] says {expect!r}; symgrad now says "
    if expect.startswith("error: "):
        assert code == 2, stale + (out or f"exit {code}")
        assert expect[len("error: "):] in err, stale + err
        return
    expect, _, lacks = expect.partition("; detail lacks: ")
    expect, _, detail = expect.partition("; detail contains: ")
    kind, _, factor = expect.partition(" ")
    assert code in (0, 1), stale + err
    verdict = json.loads(out)
    assert (verdict["kind"], verdict["factor"]) == (kind, factor or None), stale + out
    assert code == (0 if kind == "match" else 1)
    assert detail in verdict["detail"], stale + verdict["detail"]
    assert not lacks or lacks not in verdict["detail"], stale + verdict["detail"]


@pytest.mark.parametrize("ident", sorted(ROWS))
def test_each_row_agrees_with_its_commands(ident):
    check_row(ident, ROWS, COMMANDS)


def check_row(ident, rows, commands):
    """A table row's formula is one of its commands', and its verdict and classification agree."""
    formula, verdict, classification = rows[ident]
    mine = [(expect, command) for i, expect, command in commands if i == ident]
    assert any(_formula(command) == formula for _, command in mine), \
        f"[{ident}]: the formula cell is not the --formula of any of its commands"
    for expect, _ in mine:
        if verdict == "not checkable":
            assert expect.startswith("error: "), ident
        else:
            assert expect.partition("; ")[0] == verdict, f"[{ident}]: table says {verdict!r}, command {expect!r}"
    kind = verdict.split()[0]
    allowed = {"match": {"right"}, "scale": {"right only under a convention", "wrong"},
               "transpose": {"right only under a convention", "wrong"}, "not": {"not checkable"}}
    assert _classification(classification) in allowed.get(kind, {"wrong"}), ident


def test_the_counts_add_up():
    check_counts(DOC, ROWS, COMMANDS)


def check_counts(doc, rows, commands):
    """The page's table of counts and its 'runs all N commands' agree with its rows and commands."""
    text = doc.read_text(encoding="utf-8")
    stated = {m.group(1): int(m.group(2)) for m in
              re.finditer(r"^\| (right|right only under a convention|wrong|not checkable) \| (\d+) \|$", text, re.M)}
    counted = {c: 0 for c in CLASSES}
    for _, _, classification in rows.values():
        counted[_classification(classification)] += 1
    assert stated == {k: v for k, v in counted.items() if v or k in stated}
    assert f"runs all {len(commands)} commands" in text
