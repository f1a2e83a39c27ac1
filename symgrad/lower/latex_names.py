"""Names as the notes print them: ``X1`` -> ``X_{1}``, ``Delta`` -> ``\\Delta``, ``Yexp`` -> ``Y_{exp}``.

One function per kind of name, used by every LaTeX printer (index notation,
the matrix view, the document), so a tensor is spelled the same everywhere.
"""
from __future__ import annotations

import re

from symgrad.index.conventions import ADJOINT_PREFIX, TANGENT_PREFIX

# not "delta": \delta_{ij} is the Kronecker delta of every derivation, so a tensor named delta
# prints upright, \mathrm{delta}_{ij}, as any other name of more than one letter does
GREEK = {"alpha", "beta", "gamma", "epsilon", "theta", "lambda", "mu", "sigma", "tau", "phi",
         "Delta", "Theta", "Sigma", "Phi", "Lambda", "Gamma", "Omega", "omega"}
ALIASES = {"lam": r"\lambda", "yhat": r"\hat{y}", "Yexp": r"Y_{exp}", "Ystar": r"Y^{*}"}


def base_latex(name: str) -> str:
    """The printed form of a tensor or dimension name (without indices)."""
    if name.startswith(TANGENT_PREFIX):      # a tangent (second order): dot_Z, dot_grad_Z
        return _accented(r"\dot", base_latex(name.removeprefix(TANGENT_PREFIX)))
    if name.startswith(ADJOINT_PREFIX):
        return _accented(r"\overline", base_latex(name.removeprefix(ADJOINT_PREFIX)))
    if name in ALIASES:
        return ALIASES[name]
    head, _, tail = name.partition("_")
    match = re.fullmatch(r"([A-Za-z]+?)([0-9]+)", head)
    core, digits = (match.group(1), match.group(2)) if match else (head, "")
    if core in GREEK:
        core = "\\" + core
    elif len(core) > 1 and core not in ALIASES:
        core = r"\mathrm{" + core + "}"
    subscripts = [s for s in (digits, tail.replace("_", r"\,")) if s]
    if subscripts:
        return core + "_{" + r",".join(subscripts) + "}"
    return core


def entry_latex(name: str, indices: list[str]) -> str:
    """``X_{1\\,jc}``: a tensor entry, indices joined as the notes join them."""
    base = base_latex(name)
    if not indices:
        return base
    joined = "".join(indices) if all(len(i) == 1 for i in indices) else r",\,".join(indices)
    head, sub = split_subscript(base)
    if sub is not None:
        if sub.isdigit():                       # X_{1\,jc}, as the notes write it
            return f"{head}_{{{sub}\\,{joined}}}"
        return rf"\left({base}\right)_{{{joined}}}"   # (a_{prev})_{ic}: a name's subscript stays apart
    return f"{base}_{{{joined}}}"


def split_subscript(latex: str) -> tuple[str, str | None]:
    """``s_{2}`` -> ``("s", "2")``: a printed name and the subscript group that ends it (None without one)."""
    depth, start = 0, None
    for position, char in enumerate(latex):
        if char == "{":
            if depth == 0 and latex[position - 1:position] == "_":
                start = position
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and start is not None and position < len(latex) - 1:
                start = None                    # that group does not end the name
    if start is None or not latex.endswith("}"):
        return latex, None
    return latex[:start - 1], latex[start + 1:-1]


def _accented(accent: str, name: str) -> str:
    """``\\dot{s}_{2}``: the accent over the name's letters and its subscript after them, as ``s_{2}``
    prints; over the whole ``s_{2}`` the dot sat off the letter and an entry's ``_{c}`` ran into the 2."""
    head, sub = split_subscript(name)
    return accent + "{" + head + "}" + ("" if sub is None else "_{" + sub + "}")
