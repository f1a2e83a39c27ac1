"""Formulas in the LaTeX the notes use, parsed by symgrad's own small parser.

Two flavours, told apart by what the formula contains:

* index notation, when it has ``\\sum`` or indexed entries (``X_{1\\,jc}``):
  ``-2 \\cdot \\sum_{c=1}^{L} \\Delta_{c} C_{i} X_{1\\,jc} 1_{0 \\le Z_{ic} \\le t}``.
  Indices are 1-based as in the notes (``\\sum_{c=1}^{L}``; ``C_{M+i}``); a vector's
  single index is its long axis; an indicator ``1_{...}`` is a condition.
  ``\\cdot`` and juxtaposition multiply entries.
* matrix notation otherwise: ``-2 \\cdot \\operatorname{diag}(C^{(1)}) \\cdot ((\\Delta \\odot M^{(1)})
  \\cdot X_1^\\top)``, where ``\\cdot`` between matrices is the matrix product, ``\\odot``
  the entrywise one, ``^\\top`` (or ``^T``) a transpose and ``\\mathbf{1}_L`` a column of ones.

Names map to the model by a default convention: ``X_1`` and ``X_{1\\,jc}`` -> ``X1``,
``W^{(2)}`` -> ``W2``, ``\\Delta`` -> ``Delta``, ``Y_{exp}`` -> ``Yexp``, ``\\hat{y}`` -> ``yhat``;
``symbols`` (``--symbols 'C^{(1)}=C[:, :M]'``) names anything else. A left-hand side
``(\\frac{\\partial L}{\\partial A_1})_{ij} =`` is skipped and gives the free indices.
"""
from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

from symgrad.formulas.limits import MAX_LENGTH, MAX_NESTING, check_nesting
from symgrad.formulas.numpy_calls import Einsum, einsum_problem
from symgrad.formulas.tree import Binary, Call, FormulaError, Method, Name, Num, Subscript, Sum, Unary
from symgrad.model.callables import FUNCTIONS

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[0-9]+(?:\.[0-9]+)?|[A-Za-z]|[{}()\[\]^_+\-*/=<>,|]|\S")
_SPACING = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "\\left", "\\right", "\\big", "\\Big",
            "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\displaystyle", "\\\\"}
_GREEK = {"\\Delta": "Delta", "\\Theta": "Theta", "\\theta": "theta", "\\delta": "delta", "\\lambda": "lam",
          "\\alpha": "alpha", "\\beta": "beta", "\\gamma": "gamma", "\\ell": "l", "\\Sigma": "Sigma"}
_FUNCTIONS = {"\\sigma": "sigmoid", "\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh"}
# \operatorname{NAME}: any function of the shared table by its own name, and these spellings of some
_OPERATOR_NAMES = {"ReLU": "relu", "CReLU": "crelu", "tr": "trace", "Tr": "trace", "LSE": "logsumexp"}
_ONE_ARGUMENT = {"\\det": "det"}   # \det A, \det(A)
_COMPARE = {"<": "<", ">": ">", "\\le": "<=", "\\leq": "<=", "\\ge": ">=", "\\geq": ">=", "=": "=="}
_TIMES = {"\\cdot", "\\times", "*"}
FRAMES_PER_LEVEL = 6   # unary -> signed -> atom -> expression -> term -> unary, for one bracket


@dataclass(frozen=True)
class LatexIndex:
    """An index-notation formula and its free indices (from the left-hand side, if any)."""

    tree: object
    free: tuple[str, ...] | None


def tokenize(text: str) -> list[tuple[str, int]]:
    return [(m.group(), m.start()) for m in _TOKEN.finditer(text) if m.group() not in _SPACING]


class _Parser:
    def __init__(self, text: str, names: set[str], symbols: set[str]):
        self.text, self.tokens, self.k = text, tokenize(text), 0
        self.names, self.symbols = names, symbols
        self.index_mode = "\\sum" in text
        self.indices: list[str] = []
        self.nesting = 0

    # tokens ------------------------------------------------------------
    def peek(self, offset=0):
        k = self.k + offset
        return self.tokens[k][0] if k < len(self.tokens) else None

    def pos(self):
        return self.tokens[self.k][1] if self.k < len(self.tokens) else len(self.text)

    def take(self, expected=None):
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FormulaError(f"expected {expected or 'more'}, found {token or 'the end'}", self.pos(), self.text)
        self.k += 1
        return token

    def group_text(self) -> str:
        """The raw tokens of a {...} group (or one token), joined."""
        return "".join(self.sub_tokens())

    # grammar -----------------------------------------------------------
    def formula(self):
        free = self.left_hand_side()
        tree = self.expression()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()}", self.pos(), self.text)
        return tree, free

    def left_hand_side(self):
        if not any(t == "=" for t, _ in self.tokens) or "\\partial" not in self.text:
            return None
        depth, k = 0, 0
        for k, (token, _) in enumerate(self.tokens):
            depth += token in "({"
            depth -= token in ")}"
            if token == "=" and depth == 0:
                break
        lhs = self.tokens[:k]
        self.k = k + 1
        if len(lhs) >= 2 and lhs[-2][0] == "_" or (len(lhs) >= 4 and lhs[-1][0] == "}" and
                                                     any(t == "_" for t, _ in lhs[-6:])):
            tail = "".join(t for t, _ in lhs[[t for t, _ in lhs].index("_", len(lhs) - 6) + 1:])
            return tuple(ch for ch in tail if ch.isalpha())
        return None

    def expression(self):
        node = self.term()
        while self.peek() in ("+", "-"):
            op, pos = self.take(), self.pos()
            node = Binary(op, node, self.term(), pos)
        return node

    def term(self):
        node = self.unary()
        while True:
            token = self.peek()
            if token in _TIMES or token == "\\odot" or token == "/":
                op_token = self.take()
                right = self.unary()
                node = self.combine(op_token, node, right)
            elif token is not None and self.starts_atom(token):
                node = self.combine("\\cdot", node, self.unary())
            else:
                return node

    def combine(self, token, left, right):
        if token == "/":
            return Binary("/", left, right)
        if token == "\\odot" or self.index_mode:
            return Binary("*", left, right)
        return Binary("@?", left, right)   # \\cdot: a matrix product, or a product with a scalar

    def starts_atom(self, token):
        return token not in (")", "}", "]", "+", "-", "=", ",", "^", "_", "|") and token not in _COMPARE \
            and token not in _TIMES and token not in ("\\odot", "/")

    def unary(self):
        """A signed factor; every nested bracket, fraction, sum and sign passes here, so this is
        where the depth of the recursion is counted and capped."""
        if self.nesting >= MAX_NESTING:
            raise FormulaError(f"formula nested too deeply (the limit is {MAX_NESTING} levels)", self.pos(),
                               self.text)
        self.nesting += 1
        try:
            return self.signed()
        finally:
            self.nesting -= 1

    def signed(self):
        if self.peek() == "-":
            pos = self.pos()
            self.take()
            return Unary("-", self.unary(), pos)
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.postfix(self.atom())

    def postfix(self, node):
        while self.peek() == "^":
            self.take()
            sup = self.group_text()
            if sup in ("\\top", "T", "\\intercal"):
                node = Method(node, "T")
            elif sup == "-1" and isinstance(node, Subscript):   # x_{i}^{-1}: an entry's reciprocal
                node = Binary("**", node, Num(-1.0))
            elif sup in ("-1", "-\\top", "-T"):   # A^{-1}, A^{-\top}: the inverse (a number's: its reciprocal)
                node = Call("inv", (node,), (), self.pos())
                node = node if sup == "-1" else Method(node, "T")
            elif re.fullmatch(r"[0-9]+(\.[0-9]+)?", sup):
                node = Binary("**", node, Num(float(sup)))
            elif sup in ("1/2", "\\frac12", "\\frac{1}{2}"):
                node = Binary("**", node, Num(0.5))
            else:
                raise FormulaError(f"superscript ^{{{sup}}} is not understood here", self.pos(), self.text)
        return node

    def atom(self):
        token, pos = self.peek(), self.pos()
        if token is None:
            raise FormulaError("the formula ends too early", pos, self.text)
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", token):
            self.take()
            if token == "1" and self.peek() == "_":
                return self.indicator_or_ones(pos)
            return Num(float(token), pos)
        if token in ("(", "[", "{"):
            closing = {"(": ")", "[": "]", "{": "}"}[self.take()]
            inner = self.expression()
            self.take(closing)
            if closing == ")" and self.peek() == "_":   # (A^{-1})_{ij}: an entry of a matrix's function
                self.take("_")
                return self.entry_of(inner, self.sub_tokens(), pos)
            return inner
        if token == "\\frac":
            self.take()
            self.take("{")
            top = self.expression()
            self.take("}")
            self.take("{")
            bottom = self.expression()
            self.take("}")
            return Binary("/", top, bottom, pos)
        if token == "\\sum":
            return self.summation()
        if token == "\\pi":
            self.take()
            return Num(math.pi, pos)
        if token == "\\mathbf" and [t for t, _ in self.tokens[self.k + 1:self.k + 4]] in (["{", "1", "}"], ["1"]):
            self.take()
            self.group_text()
            return self.indicator_or_ones(pos)
        if token in ("\\operatorname", "\\mathrm", "\\text"):
            self.take()
            word = self.group_text()
            function = _OPERATOR_NAMES.get(word, word if word in FUNCTIONS else None)
            if function is not None and (self.peek() == "(" or word not in self.names | self.symbols):
                return self.argument_or_call(function, pos)
            if word == "sum":          # the matrix view's sum of every entry
                return Method(self.call("sum", pos).args[0], "sum", (), (), pos)
            if word == "einsum":       # the matrix view's \operatorname{einsum}_{ac,bc\to ab}(A, B)
                return self.einsum(pos)
            if word in self.names or word in self.symbols or any(n.startswith(word + "_") for n in self.names):
                return self.name(word, pos)     # \mathrm{margin}, \mathrm{Loss}_{1}: a name of the model
            raise FormulaError(f"unknown operator {word!r}", pos, self.text)
        if token in _FUNCTIONS or token in _ONE_ARGUMENT:
            self.take()
            return self.argument_or_call(_FUNCTIONS.get(token) or _ONE_ARGUMENT[token], pos)
        if token == "\\hat":
            self.take()
            return self.name(_plain(self.group_text()) + "hat", pos)
        if token == "\\sqrt":
            self.take()
            self.take("{")
            inner = self.expression()
            self.take("}")
            return Call("sqrt", (inner,), (), pos)
        if token in ("\\boldsymbol", "\\bm", "\\mathbf", "\\vec", "\\underline"):   # typography only
            self.take()
            if self.peek() != "{":
                return self.atom()
            self.take("{")
            inner = self.postfix(self.atom())
            self.take("}")
            if isinstance(inner, Name) and self.peek() in ("^", "_"):   # \boldsymbol{z}^{(1)}_i
                return self.name(inner.name, pos)
            return inner
        if token == "\\delta" and self.peek(1) == "_" and not self.decorated_after_subscript():
            self.take()
            self.take("_")
            items = self.sub_tokens()
            text = "".join(items)
            parts = text.split(",") if "," in text else list(text)
            if len(parts) != 2:
                raise FormulaError(f"a Kronecker delta takes two indices, got {text!r}", pos, self.text)
            self.index_mode = True
            return Call("delta", tuple(_index_item(part, pos) for part in parts), (), pos)
        if token in _GREEK:
            self.take()
            return self.name(_GREEK[token], pos)
        if re.fullmatch(r"[A-Za-z]", token):
            self.take()
            return self.name(token, pos)
        raise FormulaError(f"{token} is not understood", pos, self.text)

    def decorated_after_subscript(self, underscore: int = 1) -> bool:
        """``\\delta_i^{(1)}``: a name with a subscript and then a superscript, not a Kronecker delta.
        ``underscore`` is where the ``_`` is, counted from the current token."""
        k = self.k + underscore + 1
        if k < len(self.tokens) and self.tokens[k][0] == "{":
            depth = 0
            while k < len(self.tokens):
                depth += self.tokens[k][0] == "{"
                depth -= self.tokens[k][0] == "}"
                k += 1
                if depth == 0:
                    break
        else:
            k += 1
        following = [t for t, _ in self.tokens[k:k + 3]]
        return following[:1] == ["^"] and (following[1:2] == ["*"] or (
            following[1:2] == ["{"] and following[2:3] in (["("], ["*"])))

    def einsum(self, pos):
        """``\\operatorname{einsum}_{SPEC}(A, B, ...)``, ``\\to`` for NumPy's ``->``."""
        if self.peek() != "_":
            raise FormulaError("einsum takes its subscripts as a subscript, e.g. \\operatorname{einsum}_{ij,jk"
                               "\\to ik}", pos, self.text)
        self.take("_")
        spec = self.group_text().replace("\\to", "->").replace("\\rightarrow", "->")
        operands = self.call("einsum", pos).args
        problem = einsum_problem(spec, len(operands))
        if problem:
            raise FormulaError(problem, pos, self.text)
        return Einsum(spec, operands, pos)

    def argument_or_call(self, function, pos):
        """``\\log(x)``, ``\\det(A)``; or without brackets its one argument, ``\\det A``, ``\\log \\det A``."""
        if self.peek() == "(":
            return self.call(function, pos)
        return Call(function, (self.unary(),), (), pos)

    def call(self, function, pos):
        self.take("(")
        args = [self.expression()]
        while self.peek() == ",":
            self.take()
            args.append(self.expression())
        self.take(")")
        return Call(function, tuple(args), (), pos)

    def summation(self):
        pos = self.pos()
        self.take("\\sum")
        self.take("_")
        lower = self.group_text()
        match = re.fullmatch(r"([a-z])=?(1|0)?", lower.replace(" ", ""))
        if not match:
            raise FormulaError(f"\\sum_{{{lower}}}: write the index and its start, e.g. \\sum_{{c=1}}^{{L}}",
                               pos, self.text)
        size = None
        if self.peek() == "^":
            self.take()
            upper = self.group_text().replace(" ", "")
            size = _size(upper, pos)   # an upper limit that is not a size is an error, never ignored
            if size is not None and match.group(2) == "0":
                size = Binary("+", size, Num(1.0), pos)
        index = match.group(1)
        self.indices.append(index)
        body = self.term()
        return Sum(index, body, pos, size)

    def indicator_or_ones(self, pos):
        self.take("_")
        if self.peek() == "{" and any(t in _COMPARE for t, _ in self.tokens[self.k:self.k + 40]):
            self.take("{")
            condition = self.condition()
            self.take("}")
            return condition
        size = self.group_text()
        return Call("ones", (Name(size, pos),), (), pos)

    def condition(self):
        left = self.expression()
        node = None
        while self.peek() in _COMPARE:
            op = _COMPARE[self.take()]
            right = self.expression()
            part = Binary(op, left, right)
            node = part if node is None else Binary("&", node, part)
            left = right
        if node is None:
            raise FormulaError("an indicator 1_{...} needs a comparison", self.pos(), self.text)
        return node

    # names and their subscripts ----------------------------------------
    def name(self, base, pos):
        sup = None
        if self.peek() == "^" and (self.peek(1) == "*" or (self.peek(1) == "{" and self.peek(2) in ("(", "*"))):
            self.take()
            sup = self.group_text()
        elif self.peek() == "_" and self.decorated_after_subscript(0):   # s_i^{(1)}: the name is s^{(1)}
            self.take("_")
            tokens = self.sub_tokens()
            self.take("^")
            sup = self.group_text()
            self.tokens[self.k:self.k] = [("_", pos), ("{", pos), *((t, pos) for t in tokens), ("}", pos)]
        if sup == "*":
            star = base + "star"
            if star in self.names:
                return self.name_tail(star, pos)
        raw = f"{base}^{{{sup}}}" if sup else base
        declared = {k.replace("\\", "").replace(" ", ""): k for k in self.symbols}   # as typed in --symbols
        if raw in declared:
            raw = declared[raw]
            node = Name(raw, pos)
            return self.subscripted(node, raw, None, pos) if self.peek() == "_" else node
        if sup:
            digits = sup.strip("()")
            base = base + digits
        return self.name_tail(base, pos)

    def name_tail(self, base, pos):
        """``base`` followed by an optional subscript: part of the name (``X_1``, ``X_{prev}``)
        and/or indices (``X_{1\\,jc}``)."""
        if self.peek() != "_":
            return Name(self.resolve(base, pos), pos)
        self.take("_")
        sub_tokens = self.sub_tokens()
        known = self.names | self.symbols
        for cut in range(len(sub_tokens), 0, -1):   # the longest start of the subscript that names a tensor
            head = "".join(sub_tokens[:cut])
            for candidate in (base + head, f"{base}_{head}"):
                if candidate in known and (cut == len(sub_tokens) or head.isdigit() or len(head) > 1):
                    rest = sub_tokens[cut:]
                    return self.entry(candidate, rest, pos) if rest else Name(candidate, pos)
        return self.entry(self.resolve(base, pos), sub_tokens, pos)

    def subscripted(self, node, raw, _, pos):
        self.take("_")
        return self.entry(raw, self.sub_tokens(), pos)

    def sub_tokens(self):
        """The tokens of a {...} group (or one token)."""
        if self.peek() != "{":
            return [self.take()]
        self.take("{")
        depth, parts = 1, []
        while True:
            token = self.take()
            depth += token == "{"
            depth -= token == "}"
            if depth == 0:
                return parts
            parts.append(token)

    def resolve(self, name, pos):
        if name in self.names or name in self.symbols or len(name) == 1:
            return name
        raise FormulaError(f"{name!r} is not a name of the model (give it with --symbols)", pos, self.text)

    def entry(self, name, tokens, pos):
        """``name`` indexed by subscript tokens: letters one index each, or comma-separated expressions."""
        return self.entry_of(Name(name, pos), tokens, pos)

    def entry_of(self, target, tokens, pos):
        """``target`` (a name, or a function of matrices) indexed by subscript tokens."""
        self.index_mode = True
        text = "".join(tokens)
        if "," in tokens or any(t in "+-" for t in tokens):
            items = [_index_item(part, pos) for part in text.split(",")]
        else:
            items = [Name(t, pos) if re.fullmatch(r"[A-Za-z]", t) else _index_item(t, pos) for t in tokens]
        for item in items:
            for leaf in _leaves(item):
                if isinstance(leaf, Name) and len(leaf.name) == 1 and leaf.name.islower() \
                        and leaf.name not in self.names and leaf.name not in self.indices:
                    self.indices.append(leaf.name)
        return Subscript(target, tuple(items), pos)


def _index_item(text, pos):
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return Binary("-", Num(float(text)), Num(1.0), pos)        # 1-based constant
    match = re.fullmatch(r"([A-Za-z0-9*]+)\+([a-z])|([a-z])\+([A-Za-z0-9*]+)|([a-z])", text)
    if not match:
        raise FormulaError(f"subscript {text!r} is not an index, or an index plus a size", pos)
    if match.group(5):
        return Name(match.group(5), pos)
    if match.group(1):
        return Binary("+", _size(match.group(1), pos), Name(match.group(2), pos), pos)
    return Binary("+", Name(match.group(3), pos), _size(match.group(4), pos), pos)


def _plain(text: str) -> str:
    """The letters of a decorated name: ``\\boldsymbol{y}`` -> ``y``."""
    match = re.fullmatch(r"\\[A-Za-z]+\{?([A-Za-z0-9]+)\}?", text)
    return match.group(1) if match else text


def _size(text, pos):
    match = re.fullmatch(r"(.+?)([+-])([0-9]+)", text)
    if match and not text.isdigit():                  # L-1, 2M+1
        return Binary(match.group(2), _size(match.group(1), pos), Num(float(match.group(3))), pos)
    if re.fullmatch(r"[0-9]+", text):
        return Num(float(text), pos)
    if not re.fullmatch(r"[0-9]*\*?[A-Za-z][A-Za-z0-9_]*", text):
        raise FormulaError(f"upper limit {text!r} is not a size", pos)
    if re.fullmatch(r"[0-9]+\*?[A-Za-z]", text):
        digits, letter = re.match(r"([0-9]+)\*?([A-Za-z])", text).groups()
        return Binary("*", Num(float(digits)), Name(letter, pos), pos)
    return Name(text, pos)


def _leaves(node):
    if isinstance(node, Binary):
        return _leaves(node.left) + _leaves(node.right)
    return [node]


def parse_latex(text: str, names: set[str] | None = None, symbols: set[str] | None = None):
    """A formula tree (matrix notation) or a ``LatexIndex`` (index notation)."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula of {len(text):,} characters; the limit is {MAX_LENGTH:,}")
    parser = _Parser(text, names or set(), symbols or set())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + FRAMES_PER_LEVEL * MAX_NESTING)   # room for MAX_NESTING levels of descent
    try:
        tree, free = parser.formula()
    except RecursionError:
        raise FormulaError(f"formula nested too deeply (the limit is {MAX_NESTING} levels)") from None
    finally:
        sys.setrecursionlimit(limit)
    check_nesting(tree, text)
    if parser.index_mode:
        bound = {node.index for node in walk(tree) if isinstance(node, Sum)}
        inferred = tuple(i for i in parser.indices if i not in bound)
        return LatexIndex(tree, free or inferred)
    return tree


def walk(node):
    yield node
    for value in vars(node).values():
        for child in (value if isinstance(value, tuple) else (value,)):
            if hasattr(child, "__dataclass_fields__"):
                yield from walk(child)
