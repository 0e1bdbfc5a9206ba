"""Safe plot expressions: ``compile_expression`` checks an expression's syntax tree against a whitelist, then
compiles it once into nested Python closures (one per node): no Python ``eval``, and sampling a plot calls the
closures without re-reading the expression.

``CanvasError`` lives here, below the command validator (``core.content.canvas``) that uses this module and
re-exports it: one error type for a bad command or a bad expression.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

MAX_EXPR = 120
MAX_EXPONENT = 100.0


class CanvasError(ValueError):
    """A canvas command or plot expression is invalid; ``reason`` says why, in plain words (for the model and the
    log); ``code`` and ``params`` say the same for an interface to put in its own words (``field``: the field)."""

    def __init__(self, reason: str, code: str = "expression", **params: Any):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params = params


def _power(base: float, exponent: float) -> float:
    return math.pow(base, exponent)


_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log10, "ln": math.log, "abs": abs,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: _power, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_FORBIDDEN_NODES = {
    ast.Attribute: "attribute access (.)",
    ast.Subscript: "subscripts ([...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if/else",
    ast.Tuple: "tuples or commas", ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets",
    ast.JoinedStr: "strings", ast.NamedExpr: "assignments (:=)", ast.Starred: "* unpacking",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}
_IMPLICIT_HINT = "implicit multiplication is not supported: write products with *, e.g. 2*x or x*(x+1)"
_IMPLICIT_PATTERN = re.compile(r"[\d.)]\s*[A-Za-z_(]|[A-Za-z_]\w*\s+[A-Za-z_\d(]")
_ALLOWED_HELP = "allowed: numbers, x, pi, e, + - * / ^ ( ) and " + ", ".join(_FUNCTIONS)


def compile_expression(expr: str) -> Callable[[float], float]:
    """A function of ``x`` for a plot expression, or ``CanvasError`` when the expression is not allowed.

    ``^`` is the power operator; ``log`` is the base-10 logarithm and ``ln`` the natural one. The returned function
    gives NaN where the expression is undefined (domain error, overflow, division by zero).
    """
    tree = _parse(_prepare_source(expr))
    _check_node(tree)
    compiled = _compile(tree)

    def function(x: float) -> float:
        try:
            value = compiled(float(x))
        except (ArithmeticError, ValueError):
            return math.nan
        return float(value) if isinstance(value, (int, float)) else math.nan

    return function


def _compile(node: ast.AST) -> Callable[[float], Any]:
    """``node`` (already checked by ``_check_node``) as a closure of ``x``."""
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda x: value
    if isinstance(node, ast.Name):
        if node.id == "x":
            return lambda x: x
        constant = _CONSTANTS[node.id]
        return lambda x: constant
    if isinstance(node, ast.BinOp):
        apply, left, right = _OPERATORS[type(node.op)], _compile(node.left), _compile(node.right)
        return lambda x: apply(left(x), right(x))
    if isinstance(node, ast.UnaryOp):
        apply, operand = _OPERATORS[type(node.op)], _compile(node.operand)
        return lambda x: apply(operand(x))
    call, argument = _FUNCTIONS[node.func.id], _compile(node.args[0])
    return lambda x: call(argument(x))


def _prepare_source(expr: Any) -> str:
    if not isinstance(expr, str):
        raise CanvasError("expression must be a string")
    source = expr.strip()
    if not source:
        raise CanvasError("expression is empty")
    if len(source) > MAX_EXPR:
        raise CanvasError(f"expression is longer than {MAX_EXPR} characters")
    return source.replace("^", "**")


def _parse(source: str) -> ast.expr:
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        hint = f"; {_IMPLICIT_HINT}" if _IMPLICIT_PATTERN.search(source) else ""
        raise CanvasError(f"cannot parse expression {source.replace('**', '^')!r}{hint}") from None


def _check_node(node: ast.AST) -> None:
    if isinstance(node, ast.Constant):
        _check_constant(node.value)
    elif isinstance(node, ast.Name):
        _check_name(node.id)
    elif isinstance(node, ast.BinOp):
        _check_binop(node)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _OPERATORS:
            raise CanvasError("only + and - are allowed as signs")
        _check_node(node.operand)
    elif isinstance(node, ast.Call):
        _check_call(node)
    else:
        what = _FORBIDDEN_NODES.get(type(node), type(node).__name__)
        raise CanvasError(f"not allowed in expressions: {what} ({_ALLOWED_HELP})")


def _check_constant(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CanvasError(f"only numbers are allowed as constants, not {type(value).__name__}")
    if abs(value) > 1e15 or not math.isfinite(value):
        raise CanvasError("number in expression is too large")


def _check_name(name: str) -> None:
    if name == "x" or name in _CONSTANTS:
        return
    if name in _FUNCTIONS:
        raise CanvasError(f"function {name} must be called with parentheses, e.g. {name}(x)")
    raise CanvasError(f"unknown name {name!r} ({_ALLOWED_HELP}; {_IMPLICIT_HINT})")


def _check_binop(node: ast.BinOp) -> None:
    if type(node.op) not in _OPERATORS:
        raise CanvasError(f"operator {type(node.op).__name__} is not allowed ({_ALLOWED_HELP})")
    _check_node(node.left)
    _check_node(node.right)
    if isinstance(node.op, ast.Pow) and not _mentions_x(node.right):
        _check_exponent(node.right)


def _check_call(node: ast.Call) -> None:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in _FUNCTIONS:
        if name is None or name == "x" or name in _CONSTANTS:
            raise CanvasError(_IMPLICIT_HINT)
        raise CanvasError(f"unknown function {name!r} ({_ALLOWED_HELP})")
    if node.keywords or len(node.args) != 1:
        raise CanvasError(f"function {name} takes exactly one argument")
    _check_node(node.args[0])


def _mentions_x(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Name) and child.id == "x" for child in ast.walk(node))


def _check_exponent(node: ast.expr) -> None:
    try:
        value = float(_compile(node)(math.nan))
    except (ArithmeticError, ValueError):
        value = math.nan
    if not math.isfinite(value) or abs(value) > MAX_EXPONENT:
        raise CanvasError(f"exponent is too large (at most {MAX_EXPONENT:g} in absolute value)")
