"""Check the maths claims of an answer with SymPy: arithmetic, identities, derivatives and integrals, solutions.

``check_answer(contents)`` returns one verdict per step: ``{"verified": True | False | None, "failed": [...]}``
(``None``: nothing checkable in that step). It is conservative: a claim that cannot be parsed, or could be read
as an equation to solve rather than an identity, is not checkable, never a failure.

- numeric links (``12 \\cdot 4 = 48``, units allowed): equal within the precision written (``\\approx`` a bit more);
  a trigonometric claim that holds in degrees holds;
- identities (``(a+b)^2 = a^2 + 2ab + b^2``): symbols are taken positive; a failure counts only for a derivative,
  integral or limit, or when both sides use the same symbols and none of them is given a value in the answer;
- a stated value ``x = 3`` (also ``x_1 = 3``, ``x = \\pm 2``) must solve the last equation in ``x`` alone stated
  before it in the same or the previous step (an equation that holds for every ``x`` does not count).

This module runs SymPy, which can take very long on hostile input: call it through ``mathworker.MathChecker``,
which runs it in a worker process with a time limit. With ``final=False`` (a step checked while the answer is still
being written) identity failures are left for the final check, as a later step may give their symbols a value.
"""
from __future__ import annotations

import functools
import signal
from contextlib import contextmanager

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.functions.elementary.trigonometric import TrigonometricFunction
from sympy.parsing.latex import parse_latex

from .mathclaims import Link, answer_links, decimals, side_latex

CLAIM_SECONDS = 1.0
PARSE_SECONDS = 2.0
_SAMPLES = ((0.37, 1.29, 2.71, 0.83), (1.7, 0.61, 3.3, 2.2), (2.9, 1.13, 0.47, 1.9))
_BLOCKED = {"text", "mathrm", "circ", "operatorname", "mbox", "quad", "cdots", "ldots", "dots"}


class _TooLong(Exception):
    pass


def check_answer(contents: list[str], *, only_step: int | None = None, final: bool = True) -> list[dict]:
    """The verdict of each step (or of ``only_step``, 0-based, with the steps before it as context)."""
    links = answer_links(contents)
    parsed = {link.order: (_side(link.left), _side(link.right)) for link in links}
    unknowns = _unknowns(links, parsed)
    results = {step: {"verified": None, "failed": []} for step in range(len(contents))}
    equations: list[tuple[Link, sp.Expr]] = []
    for link in links:
        left, right = parsed[link.order]
        if left is None or right is None:
            continue
        if only_step is not None and link.step != only_step:
            if link.step < only_step:
                _note_equation(link, left, right, equations)
            continue
        held = _guarded(_judge, link, left, right, unknowns, final, equations)
        _record(results[link.step], link.text, held)
    if only_step is not None:
        return [results[only_step]]
    return [results[step] for step in range(len(contents))]


def _record(result: dict, claim: str, held: bool | None) -> None:
    claim = " ".join(claim.split())
    if held is None:
        return
    if held:
        result["verified"] = result["verified"] is not False
    else:
        result["verified"] = False
        result["failed"].append(claim)


def _guarded(check, *args):
    """``check(*args)``, or ``None`` when it fails or takes longer than ``CLAIM_SECONDS``."""
    try:
        with _time_limit(CLAIM_SECONDS):
            return check(*args)
    except Exception:
        return None


@contextmanager
def _time_limit(seconds: float):
    """SIGALRM in the worker's main thread; elsewhere (tests in threads) no limit: the worker's kill still is."""
    try:
        previous = signal.signal(signal.SIGALRM, _alarm)
    except ValueError:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _alarm(*_):
    raise _TooLong()


# --- parsing ---------------------------------------------------------------------------------------------------------

def _side(text: str) -> tuple[sp.Expr, ...] | None:
    try:
        with _time_limit(PARSE_SECONDS):
            return _parsed(text)
    except _TooLong:
        return None


@functools.lru_cache(maxsize=2048)
def _parsed(text: str) -> tuple[sp.Expr, ...] | None:
    """The side as SymPy expressions (cached; a parse cut short by the time limit raises, so is not cached)."""
    variants = side_latex(text)
    if variants is None:
        return None
    try:
        exprs = tuple(_symbols_fixed(parse_latex(v, strict=True)) for v in variants)
    except _TooLong:
        raise
    except Exception:
        return None
    if any(not isinstance(e, sp.Expr) or {s.name for s in e.free_symbols} & _BLOCKED for e in exprs):
        return None
    return exprs


def _symbols_fixed(expr):
    """``pi`` and ``e`` as the constants; every other symbol positive (so identities about powers and roots hold
    for the values school maths means)."""
    names = {s: sp.pi if s.name == "pi" else sp.E if s.name == "e" else sp.Symbol(s.name, positive=True)
             for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    return expr.xreplace(names)


def _is_unit(symbol) -> bool:
    return isinstance(symbol, sp.Symbol) and symbol.name.startswith("U_{")


def _free(expr) -> set:
    return {s for s in expr.free_symbols if not _is_unit(s)}


def _is_name(expr) -> bool:
    """A side that names something (``y``, ``f(x)``, ``f'(x)``, ``\\frac{dy}{dx}``): the link defines, not claims."""
    if isinstance(expr, (sp.Symbol, AppliedUndef)):
        return not _is_unit(expr)
    return isinstance(expr, sp.Derivative) and isinstance(expr.expr, (sp.Symbol, AppliedUndef))


def _calculus(expr) -> bool:
    return expr.has(sp.Derivative, sp.Integral, sp.Limit)


def _base(symbol) -> str:
    return symbol.name.split("_")[0]


def _unknowns(links: list[Link], parsed: dict) -> set[str]:
    """Names given a value somewhere (``x = 3``, ``x_1 = 2``): equations in them are not identities."""
    names = set()
    for link in links:
        left, right = parsed[link.order]
        if left and right and len(left) == 1 and isinstance(left[0], sp.Symbol) and not _free(right[0]):
            names |= {left[0].name, _base(left[0])}
    return names


# --- judging ---------------------------------------------------------------------------------------------------------

def _judge(link: Link, left, right, unknowns: set[str], final: bool, equations: list) -> bool | None:
    if _is_name(left[0]) or _is_name(right[0]):
        if isinstance(left[0], sp.Symbol) and not _is_unit(left[0]) and not any(_free(r) for r in right):
            return _solves(left[0], right, link, equations)
        return None
    if len(left) != len(right):
        return None
    if not any(_free(e) for e in left + right):
        return _same_numbers(left, right, link)
    if len(left) > 1:
        return None
    held = _identical(left[0], right[0])
    if held is False and not _identity_claim(left[0], right[0], unknowns, final):
        _note_equation(link, left, right, equations)
        return None
    return held


def _identity_claim(left, right, unknowns: set[str], final: bool) -> bool:
    if _calculus(left) or _calculus(right):
        return True
    names = {s.name for s in _free(left) | _free(right)} | {_base(s) for s in _free(left) | _free(right)}
    return final and bool(_free(left)) and _free(left) == _free(right) and not names & unknowns


def _note_equation(link: Link, left, right, equations: list) -> None:
    if len(left) == len(right) == 1 and not _is_name(left[0]) and not _is_name(right[0]):
        free = _free(left[0]) | _free(right[0])
        if len(free) == 1 and not _calculus(left[0]) and not _calculus(right[0]):
            equations.append((link, left[0] - right[0]))


def _solves(symbol, values, link: Link, equations: list) -> bool | None:
    """Whether the stated value(s) of ``symbol`` solve one of the equations in it alone stated just before (in the
    same or the previous step): ``x + 2 = 0`` or ``x + 3 = 0``, giving ``x = -2`` or ``x = -3``."""
    candidates = []
    for earlier, difference in equations:
        (variable,) = _free(difference)
        if (earlier.step >= link.step - 1 and earlier.order < link.order
                and variable.name in (symbol.name, _base(symbol)) and not _identical(difference, sp.Integer(0))):
            candidates.append((difference, variable))
    if not candidates:
        return None
    places = decimals(link.right)
    return all(any(_root_near(d, v, value, places) for d, v in candidates) for value in values)


def _root_near(difference, variable, value, places: int) -> bool:
    stripped = _strip_units(difference)

    def residual(at):  # SymPy's own evaluation: no code is generated from the model's text
        return sp.N(stripped.xreplace({variable: sp.Float(at.real, 30) + sp.I * sp.Float(at.imag, 30)
                                       if isinstance(at, complex) else sp.Float(at, 30)}), 20)

    point = complex(sp.N(_strip_units(value), 20))
    if abs(point.imag) > 1e-12:
        return abs(complex(residual(point))) < 1e-9
    x = point.real
    scale = max(1.0, abs(x))
    if abs(complex(residual(x))) <= 1e-9 * scale:
        return True
    step = 10.0 ** -places if places else 1e-9 * scale
    low, high = complex(residual(x - step)), complex(residual(x + step))
    return abs(low.imag) < 1e-12 and abs(high.imag) < 1e-12 and low.real * high.real <= 0


def _strip_units(expr):
    return expr.xreplace({s: 1 for s in expr.free_symbols if _is_unit(s)})


def _same_numbers(left, right, link: Link) -> bool | None:
    """Numeric sides (per sign of ``\\pm``) equal within the precision written; units must agree or be on one side."""
    pairs = [(left[0], right[0])]
    if len(left) > 1:
        pairs = _paired_by_value(left, right)
        if pairs is None:
            return False
    results = [_numbers_equal(a, b, link) for a, b in pairs]
    return None if None in results else all(results)


def _paired_by_value(left, right):
    values = lambda side: sorted((complex(sp.N(_strip_units(e))).real, e) for e in side)
    try:
        return [(a, b) for (_, a), (_, b) in zip(values(left), values(right))]
    except (TypeError, ValueError):
        return None


def _numbers_equal(a, b, link: Link) -> bool | None:
    units_a, units_b = {s for s in a.free_symbols if _is_unit(s)}, {s for s in b.free_symbols if _is_unit(s)}
    if units_a and units_b and _free(sp.powsimp(sp.cancel(a / b))) | {
            s for s in sp.cancel(a / b).free_symbols if _is_unit(s)}:
        return None  # different units (km and m): a conversion, not checked
    a, b = _strip_units(a).doit(), _strip_units(b).doit()
    if _close(a, b, link):
        return True
    in_degrees = _degrees(a), _degrees(b)
    if in_degrees != (a, b) and _close(*in_degrees, link):
        return True
    return False if _finite(a) and _finite(b) else None


def _degrees(expr):
    return expr.replace(lambda e: isinstance(e, TrigonometricFunction), lambda e: e.func(e.args[0] * sp.pi / 180))


def _finite(expr) -> bool:
    value = sp.N(expr, 30)
    return value.is_number and value.is_finite is True


def _close(a, b, link: Link) -> bool:
    va, vb = complex(sp.N(a, 30)), complex(sp.N(b, 30))
    places = decimals(link.text)
    scale = max(1.0, abs(va), abs(vb))
    tolerance = 1e-9 * scale + (10.0 ** -places if places else 0.0)
    if link.relation == "≈":
        tolerance = max(tolerance, 10.0 ** -places if places else 0.5, 0.02 * max(abs(va), abs(vb)))
    return abs(va - vb) <= tolerance


def _identical(left, right) -> bool | None:
    """Equal for every (positive) value of the symbols: SymPy's simplification first, then sample points."""
    difference = _integral_difference(left, right)
    if difference is None:
        difference = left.doit() - right.doit()
    if sp.simplify(difference) == 0:
        return True
    symbols = sorted(_free(difference) | {s for s in difference.free_symbols if _is_unit(s)}, key=lambda s: s.name)
    samples = []
    for values in _SAMPLES:
        point = {s: values[i % len(values)] + i // len(values) for i, s in enumerate(symbols)}
        value = complex(sp.N(difference.xreplace(point), 20))
        samples.append(abs(value) <= 1e-9 * max(1.0, *(abs(v) for v in point.values())))
    return True if all(samples) else False if not any(samples) else None


def _integral_difference(left, right):
    """``\\int f\\,dx = F`` holds when ``F' = f`` (whatever constant ``F`` carries)."""
    for integral, antiderivative in ((left, right), (right, left)):
        if isinstance(integral, sp.Integral) and all(len(limit) == 1 for limit in integral.limits):
            (variable,) = integral.limits[0]
            return sp.diff(antiderivative, variable) - integral.function
    return None

