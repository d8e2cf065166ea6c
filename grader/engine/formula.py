"""Formula text -> computation graph of engine ops, read with Python's ``ast`` and a whitelist (never eval).

Two entry points:

* :func:`parse_formula` reads one expression (``sin(theta*x1 + x2) + theta*x2**2``, ``(n + 2*p - f)/s + 1``).
* :func:`parse_named_graph` reads named nodes (``f1: x1*theta``, ``f2: f1 + x2`` ...) and builds a
  :class:`~grader.engine.graph.Graph` whose nodes carry those names, as on the week-7 sheet.

Allowed: numbers, names, ``+ - * / **``, unary ``-``/``+``, and calls of :data:`FUNCTIONS`. Everything else
(attributes, indexing, lambdas, strings, keywords, ``^`` ...) is refused with :class:`FormulaError`, whose message
is meant for students: it names the offending token and its column (1-based, counted in the formula's text).
Nothing in a formula is ever executed by Python: the tree is walked and each node becomes one engine op.
Unicode minus signs (:data:`MINUS_SIGNS`, as pasted from PDFs) are read as ``-``; a formula, and a named graph's
nodes together, may hold at most :data:`MAX_OPERATIONS` operations.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from grader.engine import activations
from grader.engine.graph import Graph
from grader.engine.tensor import Tensor, add, as_tensor, div, mul, neg, power, square, sub

MAX_LENGTH = 2000
"""Longest formula text accepted, in characters."""
MAX_DEPTH = 100
"""Deepest nesting accepted (operations inside operations, parentheses included)."""
MAX_OPERATIONS = 1000
"""Most operations (``+ - * / **``, unary minus, function calls) one formula, or all nodes of one named graph
together, may hold. The week-7 graphs need about 25 (Exercise 4 b and c); the limit bounds the work a hostile
answer can cause."""

MINUS_SIGNS = "\u2212\u2013\ufe63\uff0d"
"""Characters read as ``-``: MINUS SIGN (pasted from PDFs), EN DASH (word processors turn `` - `` into it),
SMALL and FULLWIDTH HYPHEN-MINUS."""
_MINUS_TABLE = str.maketrans(dict.fromkeys(MINUS_SIGNS, "-"))
_SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
_SUPERSCRIPT_DIGITS = str.maketrans(_SUPERSCRIPTS, "0123456789")

FUNCTIONS: dict[str, tuple[Callable[..., Tensor], int]] = {
    "sin": (activations.sin, 1),
    "cos": (activations.cos, 1),
    "exp": (activations.exp, 1),
    "log": (activations.log, 1),
    "tanh": (activations.tanh, 1),
    "sigmoid": (activations.sigmoid, 1),
    "relu": (activations.relu, 1),
    "square": (square, 1),
    "abs": (activations.absolute, 1),
    "max": (activations.maximum, 2),
    "min": (activations.minimum, 2),
    # Rounding down/up, derivative 0; a gradient taken exactly at a jump is not refused (see activations.floor).
    "floor": (activations.floor, 1),
    "ceil": (activations.ceil, 1),
}
"""Function name -> (engine op, number of arguments; ``max``/``min`` take 2 or more, folded left). ``floor`` and
``ceil`` round down and up (derivative 0)."""

FUNCTION_OPS: dict[str, str] = {
    "sin": "sin", "cos": "cos", "exp": "exp", "log": "log", "tanh": "tanh", "sigmoid": "sigmoid",
    "relu": "relu", "square": "square", "abs": "abs", "max": "maximum", "min": "minimum", "floor": "floor", "ceil": "ceil",
}  # fmt: skip
"""Function name in a formula -> the engine op name it records (``Tensor.op``)."""

_BINARY: dict[type[ast.operator], tuple[str, str, Callable[[Tensor, Tensor], Tensor]]] = {
    ast.Add: ("+", "add", add),
    ast.Sub: ("-", "sub", sub),
    ast.Mult: ("*", "mul", mul),
    ast.Div: ("/", "div", div),
    ast.Pow: ("**", "pow", power),
}
_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not",
}  # fmt: skip
_ALLOWED_TEXT = "numbers, names, + - * / ** (powers), parentheses and the functions " + ", ".join(FUNCTIONS)

_DESCRIPTIONS: dict[type[ast.AST], str] = {
    ast.Attribute: "'.' (attribute access)",
    ast.Subscript: "indexing with [...]",
    ast.Lambda: "'lambda'",
    ast.List: "a list [...]",
    ast.Tuple: "a tuple (a, b)",
    ast.Set: "a set {...}",
    ast.Dict: "a dict {...}",
    ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison (< > == ...)",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'... if ... else ...'",
    ast.NamedExpr: "':=' (assignment)",
    ast.Starred: "'*' unpacking",
    ast.JoinedStr: "an f-string",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield from'",
    ast.Slice: "a slice",
}


class FormulaError(ValueError):
    """A formula that cannot be used; ``str(error)`` is a student-readable sentence.

    Attributes:
        message: the sentence (also ``str(error)``).
        column: 1-based column in the formula's text where the problem is, when known.
        node: the named node whose expression is at fault (:func:`parse_named_graph`), when known.
    """

    def __init__(self, message: str, *, column: int | None = None, node: str | None = None) -> None:
        self.message = message
        self.column = column
        self.node = node
        super().__init__(message)


def _at(node: ast.AST) -> str:
    return f"at column {node.col_offset + 1}"  # type: ignore[attr-defined]


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def read_minus_signs(text: str) -> str:
    """``text`` with each of :data:`MINUS_SIGNS` replaced by ``-`` (one character for one: columns stay put)."""
    return text.translate(_MINUS_TABLE)


FLOW_COMMA_HINT = "a comma inside {...} ends the value in YAML: quote the expression, e.g. p: 'max(a, b)'"
"""Added to the message about a node name, formula text or node expression whose parentheses do not match: in a
YAML flow mapping, ``{p: max(a, b), L: p*b}`` reads as ``p: 'max(a'``, ``'b)': null``, ``L: p*b``."""


def unbalanced(text: object) -> bool:
    """Whether ``text`` is text whose ``(`` and ``)`` counts differ (a value a YAML flow mapping may have split at a
    comma: ``max(a`` and ``b)``)."""
    return isinstance(text, str) and text.count("(") != text.count(")")


def flow_comma_hint(message: str, *texts: object) -> str:
    """``message`` with :data:`FLOW_COMMA_HINT` added when one of ``texts`` is :func:`unbalanced`."""
    return f"{message}; {FLOW_COMMA_HINT}" if any(unbalanced(text) for text in texts) else message


def _fmt_known(known: Iterable[str]) -> str:
    names = sorted(known)
    return ", ".join(names) if names else "(none)"


# ---- reading and checking the text ----------------------------------------------------------------------
def _check_text(text: str) -> None:
    """Length, caret and nesting checks that must happen before Python's parser sees the text."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("the formula is empty")
    control = re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    if control is not None:
        raise FormulaError(f"the formula contains a control character at column {control.start() + 1}",
                           column=control.start() + 1)
    hash_mark = text.find("#")
    if hash_mark >= 0:  # Python's parser would drop the rest as a comment: "28#x" read as 28
        raise FormulaError(
            f"'#' is not allowed (column {hash_mark + 1}): write only the value, with no comment after it",
            column=hash_mark + 1,
        )
    caret = text.find("^")
    if caret >= 0:
        raise FormulaError(
            f"'^' is not allowed (column {caret + 1}): use '**' for powers, e.g. x**2 instead of x^2",
            column=caret + 1,
        )
    depth = 0
    for position, char in enumerate(text):
        if char in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise FormulaError(
                    f"the formula nests brackets more than {MAX_DEPTH} deep (column {position + 1})",
                    column=position + 1,
                )
        elif char in ")]}":
            depth -= 1


def _syntax_message(text: str, exc: SyntaxError, indent: int) -> FormulaError:
    column = exc.offset + indent if exc.offset is not None and exc.lineno in (None, 1) else None
    # A number directly followed by a name or '(' (``2n``, ``2.5E-3n``); the digits and exponent of a number
    # literal such as ``1e0`` or ``2.5E-3`` are part of the number, never "1 times e".
    implicit = re.search(
        r"(?<![\w.])(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?![\d.]|[eE][+-]?\d)\s*([A-Za-z_(])", text
    )
    superscript = re.search(f"([A-Za-z0-9_.]{{0,20}}?)([{_SUPERSCRIPTS}]+)", text)
    if "\n" in text.strip():
        return FormulaError("a formula must be a single line")
    hint = ""
    stripped = text.rstrip()
    if superscript is not None:
        base, power = superscript.group(1) or "x", superscript.group(2)
        hint = f"; write powers with '**', e.g. {base}**{power.translate(_SUPERSCRIPT_DIGITS)} not {base}{power}"
    elif implicit is not None:
        number, name, written = implicit.group(1), implicit.group(2), implicit.group(0)
        if len(number) > 20:  # a student's 1500 digits are not repeated
            number = "..." + number[-6:]
            written = number + name
        hint = f"; write multiplication with '*', e.g. {number}*{name} not {written}"
    elif text.count("(") != text.count(")"):
        hint = f"; the parentheses do not match ({text.count('(')} '(' but {text.count(')')} ')')"
    elif stripped and stripped[-1] in "+-*/,(":
        hint = f"; it ends with {stripped[-1]!r}, something is missing after it"
    elif column and re.match(r"[\w.(]", text[column - indent - 1 : column - indent]) and re.search(
        r"[\w.)]\s*$", text[: column - indent - 1]
    ):
        hint = "; is an operator such as '*' missing between two terms?"
    where = f" at column {column}" if column else ""
    reason = exc.msg if exc.msg and exc.msg != "invalid syntax" else "it is not a valid formula"
    if implicit is not None and superscript is None and "decimal literal" in reason:  # Python's words for ``2p``
        reason = "a number is directly followed by a name"
    return FormulaError(f"could not read the formula{where}: {reason}{hint}", column=column)


def _depth(tree: ast.AST) -> int:
    """Nesting depth of ``tree``, computed without recursion (the tree may be deep)."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _parse_tree(text: str) -> ast.expr:
    _check_text(text)
    indent = len(text) - len(text.lstrip())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings (e.g. escapes in strings) are refused below anyway
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _syntax_message(text.strip(), exc, indent) from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError(f"the formula is too complex to read (more than {MAX_DEPTH} levels deep)") from None
    if _depth(tree) > MAX_DEPTH + 1:  # +1 for the Expression wrapper
        raise FormulaError(
            f"the formula is nested too deeply: more than {MAX_DEPTH} operations inside one another (each + - * / of a "
            "long chain such as a + b + c + ... is one level)"
        )
    # Columns below refer to the stripped text; shift them back to the text as given.
    if indent:
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += indent  # type: ignore[attr-defined]
                if getattr(node, "end_col_offset", None) is not None:
                    node.end_col_offset += indent  # type: ignore[attr-defined]
    return tree.body


def _operator_column(text: str, node: ast.BinOp, symbol: str) -> int:
    """1-based column of ``symbol`` between the two operands of ``node`` (ast records no operator position)."""
    start, end = node.left.end_col_offset, node.right.col_offset
    if start is None:
        return node.col_offset + 1
    found = text.find(symbol, start, end)
    return (found if found >= 0 else start) + 1


@dataclass(frozen=True)
class _Checked:
    variables: frozenset[str]
    ops: frozenset[str]
    operations: int


def _check_tree(text: str, body: ast.expr, variables: frozenset[str] | None) -> _Checked:
    """Refuse every node outside the whitelist; collect the variables and ops used."""
    used: set[str] = set()
    ops: set[str] = set()
    operations = 0
    stack: list[ast.AST] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                shown = repr(value) if not isinstance(value, str) or len(value) < 30 else repr(value[:27] + "...")
                raise FormulaError(f"{shown} {_at(node)} is not a number; only numbers and names are allowed",
                                   column=node.col_offset + 1)
            try:
                finite = bool(np.isfinite(float(value)))
            except OverflowError:
                finite = False
            if not finite:
                raise FormulaError(f"the number {_at(node)} is too large (float64 holds up to about 1.8e308)",
                                   column=node.col_offset + 1)
        elif isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                raise FormulaError(f"the name {name!r} {_at(node)} is not allowed: names may not start with '_'",
                                   column=node.col_offset + 1)
            if name in FUNCTIONS:
                raise FormulaError(f"{name!r} {_at(node)} is a function: call it like {name}(x)",
                                   column=node.col_offset + 1)
            if variables is not None and name not in variables:
                hint = " (Euler's number: write exp(x) for e**x, exp(1) for e)" if name == "e" and "exp" in FUNCTIONS else _suggest(name, variables)
                raise FormulaError(
                    f"unknown name {name!r} {_at(node)}{hint}; known: {_fmt_known(variables)}",
                    column=node.col_offset + 1,
                )
            used.add(name)
        elif isinstance(node, ast.BinOp):
            if type(node.op) in _BINARY:
                symbol, op, _ = _BINARY[type(node.op)]
                ops.add(op)
                operations += 1
            else:
                symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
                column = _operator_column(text, node, symbol)
                hint = {
                    "^": ", use '**' for powers",
                    "//": f" (floor division): write '/' instead; allowed: {_ALLOWED_TEXT}",
                }.get(symbol, f"; allowed: {_ALLOWED_TEXT}")
                raise FormulaError(f"{symbol!r} (column {column}) is not allowed{hint}", column=column)
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                ops.add("neg")
                operations += 1
            elif not isinstance(node.op, ast.UAdd):
                symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
                raise FormulaError(f"{symbol!r} {_at(node)} is not allowed; allowed: {_ALLOWED_TEXT}",
                                   column=node.col_offset + 1)
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            _check_call(node, variables)
            ops.add(FUNCTION_OPS[node.func.id])  # type: ignore[attr-defined]
            operations += max(1, len(node.args) - 1)  # max(a, b, c) is two ops
            stack.extend(node.args)
        else:
            what = _DESCRIPTIONS.get(type(node), f"'{type(node).__name__}'")
            column = getattr(node, "col_offset", None)
            where = f" at column {column + 1}" if column is not None else ""
            raise FormulaError(f"{what}{where} is not allowed in a formula; allowed: {_ALLOWED_TEXT}",
                               column=None if column is None else column + 1)
    return _Checked(frozenset(used), frozenset(ops), operations)


def _check_call(node: ast.Call, variables: frozenset[str] | None) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        piece = ast.unparse(func)
        piece = piece if len(piece) <= 40 else piece[:37] + "..."
        factor = f"({piece})" if isinstance(func, ast.BinOp | ast.UnaryOp) else piece
        times = f": to multiply, write {factor}*(...)" if isinstance(func, ast.Constant | ast.BinOp | ast.UnaryOp | ast.Call) else ""
        raise FormulaError(f"{piece!r} {_at(func)} cannot be called; only the functions {', '.join(FUNCTIONS)} can{times}",
                           column=func.col_offset + 1)
    name = func.id
    if name not in FUNCTIONS:
        if variables is not None and name in variables:
            raise FormulaError(
                f"{name!r} {_at(func)} is a variable, not a function; write {name}*(...) to multiply",
                column=func.col_offset + 1,
            )
        raise FormulaError(
            f"unknown function {name!r} {_at(func)}{_suggest(name, FUNCTIONS)}; known functions: "
            + ", ".join(FUNCTIONS),
            column=func.col_offset + 1,
        )
    if node.keywords:
        keyword = node.keywords[0]
        raise FormulaError(f"{name}() {_at(keyword)} takes no keyword arguments (name=value)",
                           column=keyword.col_offset + 1)
    _, arity = FUNCTIONS[name]
    count = len(node.args)
    if name in ("max", "min"):
        if count < 2:
            raise FormulaError(f"{name}() {_at(func)} needs at least 2 arguments, got {count}",
                               column=func.col_offset + 1)
    elif count != arity:
        raise FormulaError(f"{name}() {_at(func)} takes exactly {arity} argument, got {count}",
                           column=func.col_offset + 1)


# ---- building the graph -----------------------------------------------------------------------------------
Labeller = Callable[[ast.expr, Tensor], None]


def _build(text: str, body: ast.expr, env: Mapping[str, Tensor], node_name: str | None = None) -> Tensor:
    """Turn the checked tree into engine ops over the tensors in ``env`` (recursion depth <= MAX_DEPTH)."""

    def fail(node: ast.AST, exc: ValueError) -> FormulaError:
        piece = ast.get_source_segment(text, node) or ast.unparse(node)
        if len(piece) > 60:
            piece = piece[:57] + "..."
        return FormulaError(f"{piece} {_at(node)}: {exc}", column=node.col_offset + 1, node=node_name)  # type: ignore[attr-defined]

    def walk(node: ast.expr) -> Tensor:
        try:
            if isinstance(node, ast.Constant):
                result = as_tensor(float(node.value), "number")
            elif isinstance(node, ast.Name):
                return env[node.id]
            elif isinstance(node, ast.BinOp):
                left, right = walk(node.left), walk(node.right)
                result = _BINARY[type(node.op)][2](left, right)
            elif isinstance(node, ast.UnaryOp):
                operand = walk(node.operand)
                if isinstance(node.op, ast.UAdd):
                    return operand
                result = neg(operand)
            elif isinstance(node, ast.Call):
                name = node.func.id  # type: ignore[attr-defined]
                function, _ = FUNCTIONS[name]
                args = [walk(a) for a in node.args]
                result = function(*args[:2]) if len(args) >= 2 else function(args[0])
                for extra in args[2:]:  # max(a, b, c) = max(max(a, b), c)
                    result = function(result, extra)
            else:  # _check_tree refused everything else
                raise AssertionError(f"unchecked node {type(node).__name__}")
        except FormulaError:
            raise
        except ValueError as exc:
            raise fail(node, exc) from None
        return result

    return walk(body)


def _as_input(value: object, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    try:
        return Tensor(value, name=name)  # type: ignore[arg-type]
    except ValueError as exc:
        raise FormulaError(f"input {name!r}: {exc}") from None


@dataclass(frozen=True)
class Formula:
    """One checked formula.

    Attributes:
        text: the formula as given, with Unicode minus signs (:data:`MINUS_SIGNS`) written ``-``.
        variables: the names it uses, sorted.
        ops: the engine op names it records (``{"mul", "add", "sin", "pow"}``); unary ``+`` records none.
        operations: how many engine ops it records (``max(a, b, c)`` counts 2, unary ``+`` none).
    """

    text: str
    variables: tuple[str, ...]
    ops: frozenset[str]
    _body: ast.expr = field(repr=False, compare=False)
    operations: int = field(default=0, compare=False)

    def build(self, inputs: Mapping[str, Tensor | np.ndarray | float]) -> Tensor:
        """The formula as a graph of engine ops over ``inputs`` (autodiff works through it).

        ``inputs`` maps each variable to a Tensor (used as is, so gradients reach it) or an array-like
        (wrapped in a new leaf Tensor named after the variable). Arrays broadcast with numpy's rules; the
        result has the broadcast shape. FormulaError for a missing input or a value the formula cannot take
        (``log`` of 0, division by 0, overflow), naming the piece of the formula and its column.
        """
        missing = [name for name in self.variables if name not in inputs]
        if missing:
            raise FormulaError(
                f"missing input{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} for the "
                f"formula {self.text!r}; given: {_fmt_known(inputs)}"
            )
        env = {name: _as_input(inputs[name], name) for name in self.variables}
        return _build(self.text, self._body, env)

    def evaluate(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray:
        """The formula's value at ``values`` (arrays of points broadcast together): a float64 array."""
        return self.build(values).value.copy()


def parse_formula(
    text: str, *, variables: Iterable[str] | None = None, max_operations: int = MAX_OPERATIONS
) -> Formula:
    """Check ``text`` against the whitelist and return a :class:`Formula`.

    ``variables``: the names the formula may use (None: any name not starting with ``_`` that is not a
    function). Unicode minus signs (:data:`MINUS_SIGNS`) are read as ``-``. FormulaError, naming the offending
    token and its 1-based column, for anything else, and for more than ``max_operations`` operations.
    """
    allowed = None if variables is None else frozenset(variables)
    if isinstance(text, str):
        text = read_minus_signs(text)
    body = _parse_tree(text)
    checked = _check_tree(text, body, allowed)
    if checked.operations > max_operations:
        raise FormulaError(
            f"the formula has {checked.operations} operations (+ - * / ** and function calls); "
            f"at most {max_operations} are read"
        )
    return Formula(text=text, variables=tuple(sorted(checked.variables)), ops=checked.ops, _body=body,
                   operations=checked.operations)


# ---- named nodes ------------------------------------------------------------------------------------------
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class NamedGraph:
    """Named nodes (``f1: x1*theta`` ...) over named inputs, checked: no undefined names, no cycles.

    Attributes:
        inputs: the input names, as given.
        nodes: node name -> its Formula, in the order given.
        order: node names in an order where every node comes after the nodes it uses.
        output: the node whose value the graph computes: the one given, else the one node no other node uses
            (the sink), whatever the order the nodes were written in (see :func:`parse_named_graph`).
        unused: nodes the output does not depend on (they are not part of the built Graph).
        ops: every engine op the nodes the output depends on record.
    """

    inputs: tuple[str, ...]
    nodes: Mapping[str, Formula]
    order: tuple[str, ...]
    output: str
    unused: tuple[str, ...]
    ops: frozenset[str]

    def build(self, inputs: Mapping[str, Tensor | np.ndarray | float]) -> Graph:
        """A Graph of engine ops whose nodes carry the given names (f1..f6, x1, x2, theta).

        Each input becomes a leaf Tensor named after it (a Tensor passed in is used, and named if it has no
        name). Unnamed intermediate nodes (the product in ``f2: x1*theta + x2``) and constants are labelled by
        their text (``x1 * theta``, ``2``), with `` #2``, `` #3`` ... added when a label repeats.
        FormulaError for a missing input or a value a node cannot take, naming the node.
        """
        env = self._tensors(inputs, label=True)
        graph = Graph(env[self.output])
        graph.named = frozenset(self.inputs) | frozenset(self.nodes)
        graph.left_out = self._left_out()
        return graph

    def _left_out(self) -> dict[str, str]:
        """Why each input and node the output does not depend on is not part of the built Graph (for the message
        of a question about it, e.g. its adjoint, which would be 0)."""
        needed = set(self._needed())
        users: dict[str, list[str]] = {name: [] for name in (*self.inputs, *self.nodes)}
        for name, formula in self.nodes.items():
            for variable in formula.variables:
                users[variable].append(name)
        reasons: dict[str, str] = {}
        for name in (*self.inputs, *self.nodes):
            if name in needed or any(user in needed for user in users[name]):
                continue
            kind = "an input" if name in self.inputs else "a node"
            if not users[name]:
                used = f"{kind} no node uses" if name in self.inputs else f"{kind} no other node uses"
            else:
                listed = ", ".join(users[name])
                verb = "uses" if len(users[name]) == 1 else "use"
                used = f"{kind} only {listed} {verb}, which the output {self.output} does not depend on"
            reasons[name] = f"{name!r} is {used}"
        return reasons

    def evaluate(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray:
        """The output node's value at ``values`` (arrays of points broadcast together).

        Builds the ops but no Graph and no labels: the cost is one engine op per operation of the needed nodes.
        """
        return self._tensors(values, label=False)[self.output].value.copy()

    def _tensors(self, inputs: Mapping[str, Tensor | np.ndarray | float], *, label: bool) -> dict[str, Tensor]:
        """Each input and each needed node as a Tensor, built in :attr:`order`; with ``label``, the unnamed
        intermediate tensors get labels (see :meth:`build`)."""
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise FormulaError(
                f"missing input{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}; "
                f"given: {_fmt_known(inputs)}"
            )
        env: dict[str, Tensor] = {}
        for name in self.inputs:
            leaf = _as_input(inputs[name], name)
            if leaf.name is None:
                leaf.name = name
            elif leaf.name != name:
                raise FormulaError(f"input {name!r} was given a Tensor named {leaf.name!r}; its name must match")
            env[name] = leaf
        claimed: set[int] = {id(t) for t in env.values()}
        labeller = _Labeller(set(self.inputs) | set(self.nodes), claimed) if label else None
        needed = set(self._needed())
        for name in self.order:
            if name not in needed:
                continue
            formula = self.nodes[name]
            body = formula._body
            result = _build(formula.text, body, env, name)
            if id(result) in claimed:  # parse_named_graph refuses this already; kept for graphs built by hand
                raise FormulaError(_repeats_message(name, body), node=name)
            result.name = name
            claimed.add(id(result))
            if labeller is not None:
                _label_inner(body, result, labeller)
            env[name] = result
        return env

    def _needed(self) -> list[str]:
        needed: list[str] = []
        stack = [self.output]
        seen: set[str] = set()
        while stack:
            name = stack.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            needed.append(name)
            stack.extend(self.nodes[name].variables)
        return needed


class _Labeller:
    """Labels unnamed tensors by the text of their sub-expression (``x1 * theta``), adding `` #2``, `` #3`` ...
    when a label repeats. A running count per label keeps this linear in the number of labels."""

    def __init__(self, taken: set[str], claimed: set[int]) -> None:
        self.taken = taken
        self.claimed = claimed
        self.counts: dict[str, int] = {}

    def __call__(self, expr: ast.expr, tensor: Tensor) -> None:
        if id(tensor) in self.claimed or tensor.name is not None:
            return
        base = ast.unparse(expr)  # O(size of expr); expressions are at most MAX_DEPTH deep and MAX_LENGTH long
        count = self.counts.get(base, 1)
        candidate = base if count == 1 else f"{base} #{count}"
        while candidate in self.taken:
            count += 1
            candidate = f"{base} #{count}"
        self.counts[base] = count + 1
        self.taken.add(candidate)
        tensor.name = candidate
        self.claimed.add(id(tensor))


def _repeats(body: ast.expr) -> str | None:
    """The name a node's expression only repeats (``x1``, ``(x1)``, ``+x1``), or None."""
    while isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.UAdd):
        body = body.operand
    return body.id if isinstance(body, ast.Name) else None


def _repeats_message(name: str, body: ast.expr) -> str:
    repeated = _repeats(body) or ast.unparse(body)
    return (f"node {name!r} only repeats {repeated!r}; give it an operation "
            f"or use {repeated!r} directly where {name!r} is used")


def _label_inner(body: ast.expr, root: Tensor, label: Labeller) -> None:
    """Label the unnamed tensors under ``root`` made by this node's expression, walking tree and graph together.

    The tree and the graph have the same shape (each whitelisted AST node made one op, unary ``+`` none,
    ``max(a, b, c)`` one op per extra argument), so they are matched pairwise from the root.
    """
    stack: list[tuple[ast.expr, Tensor]] = [(body, root)]
    while stack:
        expr, tensor = stack.pop()
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.UAdd):
            stack.append((expr.operand, tensor))
            continue
        label(expr, tensor)
        if isinstance(expr, ast.BinOp):
            stack.extend(zip((expr.left, expr.right), tensor.parents, strict=True))
        elif isinstance(expr, ast.UnaryOp):
            stack.append((expr.operand, tensor.parents[0]))
        elif isinstance(expr, ast.Call):
            args = list(expr.args)
            node = tensor
            while len(args) > 2:  # undo the left fold of max(a, b, c)
                stack.append((args.pop(), node.parents[1]))
                node = node.parents[0]
                label(ast.Call(func=expr.func, args=list(args), keywords=[]), node)
            stack.extend(zip(args, node.parents, strict=True))


def _node_pairs(nodes: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(nodes, Mapping):
        return [(str(k), v) for k, v in nodes.items()]
    pairs: list[tuple[str, str]] = []
    for position, item in enumerate(nodes):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise FormulaError(f"node {position + 1}: expected a pair (name, expression), got {item!r}")
        pairs.append((str(item[0]), item[1]))
    return pairs


def _find_cycle(dependencies: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle among the nodes as a path ``[a, b, ..., a]``, or None (iterative three-colour DFS)."""
    state: dict[str, int] = {}
    for start in dependencies:
        if start in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(dependencies[start])))]
        state[start] = 1
        path.append(start)
        while stack:
            name, remaining = stack[-1]
            advanced = False
            for dep in remaining:
                if dep not in dependencies:
                    continue
                if state.get(dep) == 1:
                    return path[path.index(dep):] + [dep]
                if dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    stack.append((dep, iter(sorted(dependencies[dep]))))
                    advanced = True
                    break
            if not advanced:
                state[name] = 2
                path.pop()
                stack.pop()
    return None


def _sink(names: Sequence[str], dependencies: Mapping[str, Iterable[str]], strict: bool) -> str:
    """The output of a graph that names none: the one node no other node uses (see :func:`parse_named_graph`).

    ``names``: the nodes in the given order; ``dependencies``: node -> the nodes its expression uses (no cycle, so
    at least one node is unused). Several unused nodes: FormulaError with ``strict``, else the last of them.
    """
    used = {dep for name in names for dep in dependencies[name] if dep != name}
    sinks = [name for name in names if name not in used]
    if len(sinks) > 1 and strict:
        listed = ", ".join(sinks)
        raise FormulaError(
            f"the graph has {len(sinks)} nodes that no other node uses ({listed}), so which one is the output is not "
            f"clear: name it with output (e.g. output: {sinks[-1]}), or remove the nodes the output does not need"
        )
    return sinks[-1]


def parse_named_graph(
    nodes: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    inputs: Iterable[str],
    output: str | None = None,
    max_operations: int = MAX_OPERATIONS,
    strict_output: bool = False,
) -> NamedGraph:
    """Check named nodes ``name: expression`` over ``inputs`` and return a :class:`NamedGraph`.

    Each expression may use the inputs and any other node (in any order, as long as there is no cycle).
    The output is ``output`` when given, else the one node no other node uses (the sink: ``L`` in
    ``{L: z*z, z: w*x + b}``, whatever the order). When several nodes are unused by the others, which one is the
    output is not clear: with ``strict_output`` (a sheet's graph, whose key must not rest on the order its nodes
    were written in) that is a FormulaError asking for ``output``; without it (a student's answer, whose format
    says so) the last of them in the given order is the output, and the others are noted as :attr:`~NamedGraph.unused`.
    FormulaError naming the node for: a bad name, a name used twice, an undefined name, a cycle, an
    unknown ``output``, a node the output needs that only repeats another name (``a: x1``), and more than
    ``max_operations`` operations in all nodes together (reading stops at the node that passes the limit).
    """
    input_names = tuple(inputs)
    for name in input_names:
        if not _IDENTIFIER.match(name) or name in FUNCTIONS:
            raise FormulaError(f"input name {name!r} is not allowed: use letters, digits and '_', "
                               "starting with a letter, and not a function name")
    if len(set(input_names)) != len(input_names):
        twice = sorted({n for n in input_names if input_names.count(n) > 1})
        raise FormulaError(f"input name{'s' if len(twice) > 1 else ''} {', '.join(twice)} given twice")
    pairs = _node_pairs(nodes)
    if not pairs:
        raise FormulaError("the graph has no nodes")
    names = [name for name, _ in pairs]
    for name in names:
        if not _IDENTIFIER.match(name) or name in FUNCTIONS:
            raise FormulaError(flow_comma_hint(f"node name {name!r} is not allowed: use letters, digits and '_', "
                                               "starting with a letter, and not a function name", name), node=name)
        if name in input_names:
            raise FormulaError(f"node {name!r} has the same name as an input", node=name)
        if names.count(name) > 1:
            raise FormulaError(f"node {name!r} is defined {names.count(name)} times", node=name)
    known = frozenset(input_names) | frozenset(names)
    formulas: dict[str, Formula] = {}
    operations = 0
    for name, text in pairs:
        try:
            formulas[name] = parse_formula(text, variables=known, max_operations=max_operations)
        except FormulaError as exc:
            raise FormulaError(flow_comma_hint(f"node {name}: {exc.message}", text), column=exc.column, node=name) from None
        operations += formulas[name].operations
        if operations > max_operations:
            raise FormulaError(
                f"the graph has more than {max_operations} operations (+ - * / ** and function calls): the "
                f"nodes up to {name} already hold {operations}; at most {max_operations} are read",
                node=name,
            )
        if name in formulas[name].variables:
            raise FormulaError(f"node {name} uses itself ({name}: {text.strip()})", node=name)
    dependencies = {name: [v for v in formulas[name].variables if v in formulas] for name in formulas}
    cycle = _find_cycle(dependencies)
    if cycle is not None:
        raise FormulaError("the nodes form a cycle: " + " -> ".join(cycle) + " (each uses the next)",
                           node=cycle[0])
    order: list[str] = []
    placed: set[str] = set()
    for start in names:  # depth-first, dependencies first, keeping the given order where possible
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if name in placed:
                continue
            if expanded:
                placed.add(name)
                order.append(name)
                continue
            stack.append((name, True))
            stack.extend((dep, False) for dep in reversed(dependencies[name]) if dep not in placed)
    chosen = _sink(names, dependencies, strict_output) if output is None else output
    if chosen not in formulas:
        raise FormulaError(f"output {chosen!r} is not a node{_suggest(chosen, names)}; nodes: {', '.join(names)}")
    graph = NamedGraph(
        inputs=input_names, nodes=formulas, order=tuple(order), output=chosen, unused=(), ops=frozenset()
    )
    needed = set(graph._needed())
    for name in graph.order:
        if name in needed and _repeats(formulas[name]._body) is not None:
            raise FormulaError(_repeats_message(name, formulas[name]._body), node=name)
    return NamedGraph(
        inputs=input_names,
        nodes=formulas,
        order=tuple(order),
        output=chosen,
        unused=tuple(n for n in names if n not in needed),
        ops=frozenset().union(*(formulas[n].ops for n in needed)),
    )
