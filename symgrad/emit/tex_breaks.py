"""Parentheses a long formula can be broken inside, for the derivation documents' LaTeX.

A long formula is set as inline math in a paragraph (``templates/derivation.tex.j2``), where TeX
may break a line after a ``+`` or a ``-``, but never inside ``\\left( ... \\right)``: the pair makes
one box, so a long sum in it (the argument of ``tanh`` of a sum of twenty products, a factor
``(1 - tanh(...)^2)`` of it) runs off the page. ``breakable_parentheses`` writes such a pair as
``\\bigl( ... \\bigr)`` (``\\Bigl( ... \\Bigr)`` around a fraction or a sum sign, which are tall in
display style), whose contents stay on the formula's outer level and can be broken. A pair is
rewritten where it is not inside a ``{...}`` group (a subscript, an exponent, a fraction's part: no
break is possible there, and ``\\left`` keeps sizing to its contents) and holds a ``+`` or ``-`` of
its own (not only inside groups or inner pairs), or a pair that is rewritten (``(tanh(a + b))^2``:
both, so that the sum can be broken); other pairs are left as they are.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\\left(?:\\[a-zA-Z]+|\\.|.)|\\right(?:\\[a-zA-Z]+|\\.|.)|\\[a-zA-Z]+|\\.|[{}]| [+-] |.",
                    re.DOTALL)
_TALL = re.compile(r"\\(?:frac|dfrac|sum|prod)(?![a-zA-Z])")


def _pairs(tokens: list[str]) -> list[tuple[int, int, int, bool]]:
    """(open, close, brace depth, round) of every ``\\left ... \\right`` pair; ``round``: the pair
    is ``\\left( ... \\right)``."""
    stack, pairs, depth = [], [], 0
    for k, token in enumerate(tokens):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif token.startswith(r"\left"):
            stack.append((k, token, depth))
        elif token.startswith(r"\right") and stack:
            start, opening, at = stack.pop()
            pairs.append((start, k, at, opening == r"\left(" and token == r"\right)"))
    return pairs


def _own_sum(tokens: list[str], start: int, end: int) -> bool:
    """Whether tokens[start+1:end] have a ``+`` or ``-`` outside every group and inner pair."""
    depth = 0
    for token in tokens[start + 1:end]:
        if token == "{" or token.startswith(r"\left"):
            depth += 1
        elif token == "}" or token.startswith(r"\right"):
            depth -= 1
        elif depth == 0 and token in (" + ", " - "):
            return True
    return False


def breakable_parentheses(formula: str) -> str:
    r"""``formula`` with each ``\left( ... \right)`` around a sum, outside any group, as
    ``\bigl( ... \bigr)`` (``\Bigl``/``\Bigr`` around a fraction or a sum sign)."""
    tokens = _TOKEN.findall(formula)
    rewritten = []   # inner pairs first: a pair around a rewritten one is rewritten too
    for start, end, depth, round_pair in sorted(_pairs(tokens), key=lambda pair: pair[1]):
        holds_one = any(start < a and b < end for a, b, _ in rewritten)
        if round_pair and depth == 0 and (holds_one or _own_sum(tokens, start, end)):
            rewritten.append((start, end, "B" if _TALL.search("".join(tokens[start + 1:end])) else "b"))
    for start, end, size in rewritten:      # decided first: a rewritten pair is no longer a \left
        tokens[start], tokens[end] = "\\" + size + "igl(", "\\" + size + "igr)"
    return "".join(tokens)
