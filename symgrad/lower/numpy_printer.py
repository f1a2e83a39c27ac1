"""Array nodes -> NumPy code: one ``_print_<Node>`` method per node type.

Parentheses come from precedence, as in SymPy's printers: each node has
Python's binding strength (an atom: names, subscripts, calls; a product:
``*`` and ``@``, which bind equally, left to right; a sum), and an operand is
parenthesized where it binds no tighter than its context. The scalar body of
an ``Elementwise`` node is printed by ``elementwise_code``, its entries as
their placed nodes.

NumPy details the printer knows: a boolean mask is neither negated (``-1.0 *
mask``) nor summed or contracted as booleans (``1.0 * mask``); an axis sum is
a product with a ones vector, about twice as fast as ``.sum(axis=...)``
(measured, 2 cores); a 1 x 1 tensor's number is ``T[0, 0]``; a value on the diagonal is written
into it (``np.fill_diagonal`` into zeros, ``T.flat[::n + 1] +=`` otherwise: half the time of
``T[np.diag_indices(n)] +=`` at n = 16, as ``A.trace()`` and ``A.diagonal()`` skip the module
functions' dispatch, measured 1.6 against 2.2 and 0.17 against 1.7 us).
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import precedence

from symgrad.errors import LoweringError
from symgrad.model.functions import is_mask
from symgrad.lower.elementwise_code import ADD, ATOM, MUL, POSTFIX, ElementwiseCodePrinter, body_precedence, print_scalar
from symgrad.lower.nodes import Add, AxisSum, Elementwise, MatMul, Node, Product, Tensor
from symgrad.lower.passes.contractions import fixed_path
from symgrad.lower.statements import Statement
from symgrad.lower.placement import same

def slice_text(start, stop, size) -> str:
    """``start:stop`` on an axis of ``size``, each end left out where it is the axis's own."""
    if same(start, 0) and same(stop, size):
        return ":"
    lo = "" if same(start, 0) else print_scalar(start)
    hi = "" if same(stop, size) else print_scalar(stop)
    return f"{lo}:{hi}"


def shape_code(shape) -> str:
    return "(" + ", ".join(print_scalar(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def joined_terms(texts) -> str:
    """Terms joined by ``+``, a term printed with a leading minus subtracted instead."""
    out = texts[0]
    for text in texts[1:]:
        out += f" - {text[1:]}" if text.startswith("-") else f" + {text}"
    return out


class NumPyPrinter:
    """Prints array nodes as NumPy expressions and a tensor's value as statements."""

    def doprint(self, node: Node) -> str:
        """``node`` as a whole expression (a right-hand side or a call argument): a sum of one
        term, a product of one factor or of only its coefficient, print without parentheses."""
        if isinstance(node, Elementwise):
            return self._body(node).statement(node.body)
        if isinstance(node, Add) and len(node.terms) == 1:
            return self.doprint(node.terms[0])
        if isinstance(node, Product) and self._is_bare(node):
            return self.doprint(node.factors[0])
        if isinstance(node, Product) and not node.factors and node.coefficient != 1 \
                and not is_mask(node.coefficient):
            return self.scalar(node.coefficient)
        return self._print(node)

    def _print(self, node: Node) -> str:
        method = getattr(self, f"_print_{type(node).__name__}", None)
        if method is None:
            raise LoweringError(f"no NumPy printing for array node {type(node).__name__}")
        return method(node)

    def precedence(self, node: Node) -> int:
        """How tightly ``node`` binds as printed, on SymPy's scale (``ATOM`` > ``MUL`` > ``ADD``)."""
        if isinstance(node, Elementwise):
            return body_precedence(node.body)
        if isinstance(node, Product):
            if not self._is_bare(node):
                return MUL
            factor = node.factors[0]   # printed as a factor: parenthesized where SymPy would
            if isinstance(factor, Elementwise):
                return ATOM if precedence(factor.body) <= MUL else body_precedence(factor.body)
            return self.precedence(factor)
        if isinstance(node, (MatMul, AxisSum)):
            return MUL
        if isinstance(node, Add):
            return ADD
        return ATOM

    def parenthesize(self, node: Node, level: int, strict: bool = False) -> str:
        """``node`` in a context of precedence ``level``: parenthesized where it binds no tighter
        (or, ``strict``, less tightly); a body is parenthesized as SymPy parenthesizes it."""
        if isinstance(node, Elementwise):
            return self._body(node).parenthesize(node.body, level, strict)
        prec = self.precedence(node)
        text = self._print(node)
        return f"({text})" if prec < level or (not strict and prec <= level) else text

    body_printer = ElementwiseCodePrinter
    # whether every statement printed shares one namespace, a name assigned once: one model's
    # module. A stack's layers are printed one after another with the same names, so its plan
    # (``emit.layer_plan``) sets it False; a printer that carries a value from one statement into
    # later ones (the numba printer's loops computing it again) does so only in one namespace.
    one_namespace = True
    library = "np"      # the module its spellings call (a backend's printer names its own)

    # which repeated values another backend's plain statements compute once, a test of a node
    # (``NumbaPrinter.worth_sharing``); None: none are (torch's and XLA's own passes share them,
    # and NumPy's plan has its passes, ``symgrad.lower.passes``)
    worth_sharing = None

    def planned(self, statements) -> None:
        """The statements of a plan, before any is printed, for a printer that looks ahead
        (``NumbaPrinter``: which names the matrix products read); this one does not."""

    def _body(self, node: Elementwise) -> ElementwiseCodePrinter:
        """The printer of ``node``'s scalar body, its entries printed as their placed nodes."""
        return self.body_printer(lambda access: self.doprint(node.operand(access)))

    def scalar(self, expr) -> str:
        """A scalar of dimensions, numbers and scalar inputs (a coefficient) as code."""
        return self.body_printer().doprint(sp.sympify(expr))

    @staticmethod
    def _is_bare(node: Product) -> bool:
        """A product that is just its one factor (a mask alone still needs ``1.0 *``)."""
        return node.coefficient == 1 and len(node.factors) == 1 and not _all_boolean(node)

    # leaves

    def _print_Tensor(self, node):
        return node.name

    def _print_Entry(self, node):
        return f"{node.name}[0, 0]"

    def _print_Slice(self, node):
        slices = [":" if b is None else slice_text(b[0], b[1], size)
                  for b, size in zip(node.bounds, node.base.shape)]
        while slices and slices[-1] == ":":
            slices.pop()
        return node.base.name + (f"[{', '.join(slices)}]" if slices else "")

    def _print_Transpose(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + ".T"

    def _print_Diagonal(self, node):
        return f"{node.base.name}.diagonal()" + ("[:, None]" if node.axis == 0 else "[None, :]")

    def _print_Trace(self, node):
        return f"{node.base.name}.trace()"

    def _print_Elementwise(self, node):
        return self._body(node).doprint(node.body)

    # products and sums

    def _print_Product(self, node):
        texts = []
        for k, factor in enumerate(node.factors):
            if isinstance(factor, Elementwise):
                texts.append(self.parenthesize(factor, MUL))
            else:   # a contraction in first place is computed first anyway (left to right)
                texts.append(self.parenthesize(factor, MUL, strict=k == 0))
        coefficient = node.coefficient
        if coefficient == -1 and texts:
            first = node.factors[0]
            texts[0] = ("-1.0 * " if first.boolean else "-") + texts[0]
        elif coefficient != 1:
            scalar = self.scalar(coefficient)
            scalar = scalar if coefficient.is_Atom else f"({scalar})"
            texts.insert(0, f"1.0 * {scalar}" if is_mask(coefficient) else scalar)
        if node.factors and coefficient == 1 and _all_boolean(node):
            texts.insert(0, "1.0")   # a mask alone is added or contracted: as numbers, not booleans
        return " * ".join(texts) if texts else "1.0"

    def _print_Add(self, node):
        """A positive term first: ``b - a``, not ``-a + b``, which negates ``a`` into a temporary."""
        texts = [self._print(term) for term in node.terms]
        first = next((k for k, text in enumerate(texts) if not text.startswith("-")), 0)
        return joined_terms([texts[first], *texts[:first], *texts[first + 1:]])

    # contractions

    def _print_MatMul(self, node):
        return f"{self.parenthesize(node.left, MUL)} @ {self.parenthesize(node.right, MUL)}"

    def _print_AxisSum(self, node):
        body, size = self.parenthesize(node.operand, MUL), print_scalar(node.size)
        return f"{body} @ np.ones(({size}, 1))" if node.axis == 1 else f"np.ones((1, {size})) @ {body}"

    def _print_RowDot(self, node):
        return f"np.vecdot({self.doprint(node.left)}, {self.doprint(node.right)}, keepdims=True)"

    def _print_VDot(self, node):
        return f"np.vdot({self.doprint(node.left)}, {self.doprint(node.right)})"

    def _print_SquaredNorm(self, node):
        vector = self.doprint(node.operand)
        return f"np.vdot({vector}, {vector})"

    def _print_SumAll(self, node):
        return self.parenthesize(node.operand, POSTFIX, strict=True) + ".sum()"

    def _print_Einsum(self, node):
        operands = []
        for letters, operand in node.inputs:
            boolean = operand.boolean
            code = f"1.0 * {self.parenthesize(operand, MUL)}" if boolean else self.doprint(operand)
            operands.append(f"({code}).reshape(-1)" if len(letters) == 1 else code)
        spec = ",".join(letters for letters, _ in node.inputs)
        call = f"np.einsum('{spec}->{node.output}', {', '.join(operands)}{einsum_order(node)})"
        if len(node.shape) == 2 and len(node.output) == 1:
            call += "[None, :]" if node.shape[0] == 1 else "[:, None]"
        return call

    # shapes and blocks

    def _print_Reshape(self, node):
        return f"np.reshape({self.doprint(node.operand)}, {shape_code(node.shape)})"

    def _print_BroadcastTo(self, node):
        call = f"np.broadcast_to({self.doprint(node.operand)}, {shape_code(node.shape)})"
        return call + ".astype(float)" if node.copy else call

    def _print_Zeros(self, node):
        return f"np.zeros({shape_code(node.shape)})" if node.shape else "0.0"

    def _print_Concat(self, node):
        blocks = ", ".join(self.doprint(block) for block in node.blocks)
        return f"np.concatenate(({blocks}), axis={node.axis})"

    def _print_Ones(self, node):
        if node.kept:
            return f"_constant({shape_code(node.shape)}, {self.scalar(node.value)})"
        if node.value != 1:
            return f"np.full({shape_code(node.shape)}, {self.scalar(node.value)}, dtype=float)"
        return f"np.ones({shape_code(node.shape)})"

    def _print_AxisMax(self, node):
        return f"{node.base.name}.max(axis={node.axis}, keepdims=True)"

    def _print_MatrixFunction(self, node):
        return node.opaque.code(self.body_printer.spelling)

    # statements (``symgrad.lower.statements``): these are every backend's unless it overrides one

    def print_statement(self, statement: Statement) -> str:
        """``statement`` as one line of code."""
        method = getattr(self, f"_print_{type(statement).__name__}", None)
        if method is None:
            raise LoweringError(f"no printing for statement {type(statement).__name__}")
        return method(statement)

    def _print_Assign(self, statement):
        return f"{statement.target} = {self.doprint(statement.value)}"

    def _print_WorkspaceTake(self, statement):
        names = ", ".join(name for name, _ in statement.slots) + ("," if len(statement.slots) == 1 else "")
        shapes = ", ".join(shape_code(shape) for _, shape in statement.slots)
        shapes = f"({shapes},)" if len(statement.slots) == 1 else f"({shapes})"
        return f"{names} = {statement.prefix}_workspace({shape_code(statement.key)}, {shapes})"

    def _print_WorkspaceKeep(self, statement):
        names = ", ".join(name for name, _ in statement.slots) + ("," if len(statement.slots) == 1 else "")
        return f"{statement.prefix}_keep({shape_code(statement.key)}, ({names}))"

    def _print_Release(self, statement):
        return f"del {statement.target}"

    def _print_Allocate(self, statement):
        return f"{statement.target} = np.empty({shape_code(statement.shape)})"

    def _print_ComputeInto(self, statement):
        value, target = statement.value, statement.target
        if isinstance(value, MatMul):
            return f"np.matmul({self.doprint(value.left)}, {self.doprint(value.right)}, out={target})"
        return f"{target}[...] = {self.doprint(value)}"

    def _print_UfuncInto(self, statement):
        target, arguments = statement.target, statement.arguments
        operator = AUGMENTED.get(statement.ufunc)
        first = arguments[0]
        if operator and len(arguments) == 2 and isinstance(first, Tensor) and first.name == target:
            return f"{target} {operator} {self._argument(arguments[1])}"
        return f"np.{statement.ufunc}({', '.join(self._argument(a) for a in arguments)}, out={target})"

    def _argument(self, argument) -> str:
        """A ufunc's argument: a node as a whole expression, a number or scalar as code."""
        return self.doprint(argument) if isinstance(argument, Node) else self.scalar(argument)

    def _print_BlockAssign(self, statement):
        slices = block_slices(statement.bounds, statement.shape)
        while slices and slices[-1] == ":":
            slices.pop()
        return f"{statement.target}[{', '.join(slices)}] = {self.doprint(statement.value)}"

    def _print_BlockAdd(self, statement):
        return (f"{statement.target}[{', '.join(block_slices(statement.bounds, statement.shape))}] += "
                f"{self.doprint(statement.value)}")

    def _print_DiagonalAdd(self, statement):
        """The diagonal set (in zeros) or added to: no dense ``diag`` is formed."""
        value = self.doprint(statement.value)
        if statement.into_zeros:
            return f"np.fill_diagonal({statement.target}, {value})"
        value = value if not statement.value.shape else f"np.ravel({value})"
        return f"{statement.target}.flat[::{print_scalar(statement.size + 1)}] += {value}"


def einsum_order(node) -> str:
    """The ``optimize=`` argument of an einsum: none for two operands (nothing to order), else a
    contraction order fixed when the code is written, never NumPy's search on every call (about
    100 us, more than a small gradient)."""
    if len(node.inputs) < 3:
        return ""
    return f", optimize={fixed_path([letters for letters, _ in node.inputs])!r}"


AUGMENTED = {"add": "+=", "subtract": "-=", "multiply": "*=", "divide": "/="}


def block_slices(bounds, shape) -> list[str]:
    """The slice per axis of a block written into an array of ``shape``."""
    return [":" if b is None else slice_text(b[0], b[1], size) for b, size in zip(bounds, shape)]


def _all_boolean(node: Product) -> bool:
    return all(f.boolean for f in node.factors)
