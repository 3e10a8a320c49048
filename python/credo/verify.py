"""Verifiers: cheap, deterministic checks of an answer that a policy can act on.

Every verifier follows one protocol, ``verify(answer, context=None) -> VerifierResult(passed,
score, detail)``: ``passed`` is the verdict, ``score`` in [0, 1] the share of checks that held,
``detail`` a readable sentence. Built-ins:

- :class:`SchemaVerifier` — the answer is JSON valid against a JSON Schema (``jsonschema``, an
  optional dependency imported on first use); unparseable JSON fails with the parser's message.
- :class:`ArithmeticVerifier` — every ``expression = value`` statement in the answer holds, checked
  with an exact rational evaluator (a small recursive-descent parser over ``Fraction``; nothing is
  ever executed).
- :class:`FormatVerifier` — a regex, a date format, an e-mail address, a number (with a unit).
- :class:`ToolResultVerifier` — the numbers and names in the answer agree with a tool's JSON result.
- :class:`ProcessVerifier` — the tool calls made follow the expected process: required steps,
  steps in order, forbidden steps.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

from credo.exceptions import ConfigError, InvalidArgumentError

__all__ = [
    "ArithmeticVerifier",
    "FormatVerifier",
    "ProcessVerifier",
    "SchemaVerifier",
    "ToolResultVerifier",
    "Verifier",
    "VerifierResult",
    "evaluate_expression",
]


@dataclass(frozen=True)
class VerifierResult:
    """Outcome of one verifier: the verdict, the share of checks that held, and why."""

    passed: bool
    score: float
    detail: str
    name: str = ""


@runtime_checkable
class Verifier(Protocol):
    """Anything with ``verify(answer, context=None) -> VerifierResult``."""

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult: ...


def _check_answer(answer: Any) -> str:
    if not isinstance(answer, str):
        raise InvalidArgumentError(f"answer: expected a string, got {type(answer).__name__}")
    return answer


def _result(name: str, checks: int, failures: list[str], ok_detail: str) -> VerifierResult:
    score = 1.0 if checks == 0 else (checks - len(failures)) / checks
    if failures:
        shown = "; ".join(failures[:5]) + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        return VerifierResult(False, score, shown + ".", name)
    return VerifierResult(True, score, ok_detail, name)


# --------------------------------------------------------------------------- JSON Schema

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class SchemaVerifier:
    """The answer is a JSON document valid against ``schema`` (a JSON Schema as a dict).

    ``strip_fences`` accepts an answer wrapped in a Markdown code fence. Needs the optional
    ``jsonschema`` package (``pip install credo[verify]``).
    """

    name = "schema"

    def __init__(self, schema: Mapping[str, Any], *, strip_fences: bool = True, max_errors: int = 5):
        try:
            import jsonschema
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ImportError(
                "SchemaVerifier needs the jsonschema package: pip install 'credo[verify]'"
            ) from None
        if not isinstance(schema, Mapping):
            raise ConfigError(f"schema: expected a JSON Schema object (dict), got {type(schema).__name__}")
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise ConfigError(f"schema: not a valid JSON Schema ({exc.message})") from None
        self.schema = dict(schema)
        self.strip_fences = strip_fences
        self.max_errors = max_errors
        self._validator = cls(self.schema)

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        text = _check_answer(answer)
        if self.strip_fences:
            m = _FENCE.match(text)
            if m:
                text = m.group(1)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            return VerifierResult(
                False,
                0.0,
                f"The answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
                self.name,
            )
        errors = sorted(self._validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if not errors:
            return VerifierResult(True, 1.0, "The answer is valid JSON matching the schema.", self.name)
        msgs = []
        for e in errors[: self.max_errors]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            msgs.append(f"at {where}: {e.message}")
        more = f" (and {len(errors) - self.max_errors} more)" if len(errors) > self.max_errors else ""
        return VerifierResult(
            False, 0.0, f"The JSON does not match the schema: {'; '.join(msgs)}{more}.", self.name
        )


# --------------------------------------------------------------------------- arithmetic


class _ParseError(ValueError):
    pass


_NUM = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?|\.\d+")
_OPS = {
    "+": "+",
    "-": "-",
    "−": "-",
    "*": "*",
    "×": "*",
    "·": "*",
    "/": "/",
    "÷": "/",
    "^": "^",
    "(": "(",
    ")": ")",
    "%": "%",
}
_MAX_BITS = 4096  # refuse intermediate results with huge numerators (2 ** 10 ** 9 and the like)


def _tokens(expr: str) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isspace() or c == "$":
            i += 1
            continue
        if expr.startswith("**", i):
            out.append("^")
            i += 2
            continue
        m = _NUM.match(expr, i)
        if m:
            out.append(Fraction(m.group().replace(",", "")))
            i = m.end()
            continue
        if c in _OPS:
            out.append(_OPS[c])
            i += 1
            continue
        raise _ParseError(f"unexpected character {c!r}")
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | '+' unary | power ; power := atom ('^' unary)? ;
    atom := number '%'? | '(' expr ')'"""

    def __init__(self, toks: list[Any]):
        self.toks = toks
        self.i = 0

    def peek(self) -> Any:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Any:
        t = self.peek()
        self.i += 1
        return t

    def parse(self) -> Fraction:
        if not self.toks:
            raise _ParseError("empty expression")
        v = self.expr()
        if self.i != len(self.toks):
            raise _ParseError(f"unexpected {self.peek()!r}")
        return v

    def expr(self) -> Fraction:
        v = self.term()
        while self.peek() in ("+", "-"):
            v = v + self.term() if self.take() == "+" else v - self.term()
            _guard(v)
        return v

    def term(self) -> Fraction:
        v = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            r = self.unary()
            if op == "*":
                v = v * r
            else:
                if r == 0:
                    raise ZeroDivisionError("division by zero")
                v = v / r
            _guard(v)
        return v

    def unary(self) -> Fraction:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exp = self.unary()
            if exp.denominator != 1:
                raise _ParseError("only whole-number exponents are evaluated exactly")
            if (
                abs(exp.numerator) * max(1, abs(base.numerator).bit_length(), base.denominator.bit_length())
                > _MAX_BITS
            ):
                raise _ParseError("result too large to evaluate")
            if base == 0 and exp < 0:
                raise ZeroDivisionError("zero to a negative power")
            return base ** int(exp)
        return base

    def atom(self) -> Fraction:
        t = self.take()
        if isinstance(t, Fraction):
            if self.peek() == "%":
                self.take()
                return t / 100
            return t
        if t == "(":
            v = self.expr()
            if self.take() != ")":
                raise _ParseError("missing closing parenthesis")
            return v
        raise _ParseError("expected a number or '('" if t is None else f"unexpected {t!r}")


def _guard(v: Fraction) -> None:
    if v.numerator.bit_length() > _MAX_BITS or v.denominator.bit_length() > _MAX_BITS:
        raise _ParseError("result too large to evaluate")


def evaluate_expression(expr: str) -> Fraction:
    """Exact value of an arithmetic expression (``+ - * / ^``, ``×``, ``÷``, parentheses,
    ``n%``), as a :class:`~fractions.Fraction`. Nothing is executed: the text is parsed by a
    recursive-descent parser. Raises :class:`~credo.InvalidArgumentError` on malformed input and
    on division by zero."""
    if not isinstance(expr, str):
        raise InvalidArgumentError(f"expr: expected a string, got {type(expr).__name__}")
    try:
        return _Parser(_tokens(expr)).parse()
    except (_ParseError, ZeroDivisionError) as exc:
        raise InvalidArgumentError(f"expr: cannot evaluate {expr!r} ({exc})") from None


# An "expression = value" statement: operands and operators, '=', then a number.
_STATEMENT = re.compile(
    r"(?P<lhs>(?:[\d$(−\-]|\.\d)[\d\s.,+\-−*/×÷·^()%$]*?[\d)%])\s*=\s*(?P<approx>≈|~)?\s*"
    r"(?P<rhs>[−\-]?\$?\s*(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)%?)"
)
_HAS_OP = re.compile(r"[\d)%]\s*(?:[+\-−*/×÷·^]|\*\*)\s*[\d($.(−\-]")


@dataclass(frozen=True)
class ArithmeticCheck:
    """One ``expression = value`` statement found in an answer."""

    expression: str
    claimed: str
    exact: Fraction | None
    correct: bool
    note: str


class ArithmeticVerifier:
    """Every ``expression = value`` statement in the answer holds.

    The left side is evaluated exactly over rationals. A claimed value written with decimals
    passes when it is the exact value correctly rounded to the digits shown (``10 / 3 = 3.33``);
    a whole-number claim must be exact, unless ``rel_tol`` allows more. ``require=True`` fails
    answers without any statement.
    """

    name = "arithmetic"

    def __init__(self, *, rel_tol: float = 0.0, require: bool = False):
        if not isinstance(rel_tol, (int, float)) or not 0.0 <= rel_tol < 1.0:
            raise InvalidArgumentError(f"rel_tol: must lie in [0, 1), got {rel_tol!r}")
        self.rel_tol = float(rel_tol)
        self.require = require

    def checks(self, answer: str) -> list[ArithmeticCheck]:
        """Every statement found in ``answer`` and its verdict."""
        out = []
        text = _check_answer(answer)
        pos = 0
        while (m := _STATEMENT.search(text, pos)) is not None:
            # Chains ("3 × 4 = 12 + 1 = 13"): the value may open the next statement.
            pos = (
                m.start("rhs")
                if m.end() < len(text) and text[m.end() :].lstrip()[:1] in "+-−*/×÷^"
                else m.end()
            )
            pos = max(pos, m.start() + 1)
            lhs = m.group("lhs").strip()
            if not _HAS_OP.search(lhs):
                continue  # "x = 5", "2020 = the year" and the like: nothing to compute
            rhs = m.group("rhs").replace(" ", "")
            try:
                exact = _Parser(_tokens(lhs)).parse()
            except ZeroDivisionError as exc:
                out.append(ArithmeticCheck(lhs, rhs, None, False, str(exc)))
                continue
            except _ParseError:
                pos = m.start() + 1  # not an expression from here: try from the next character
                continue
            claimed = _Parser(_tokens(rhs.replace("−", "-"))).parse()
            decimals = len(rhs.rstrip("%").split(".")[1]) if "." in rhs else 0
            if rhs.endswith("%"):
                decimals += 2
            diff = abs(exact - claimed)
            ok = diff == 0
            if not ok and (decimals > 0 or m.group("approx")):
                ok = diff <= Fraction(1, 2 * 10**decimals)
            if not ok and self.rel_tol > 0:
                ok = diff <= Fraction(self.rel_tol) * abs(exact)
            note = "" if ok else f"is {_show(exact)}"
            out.append(ArithmeticCheck(lhs, rhs, exact, ok, note))
        return out

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        found = self.checks(answer)
        if not found:
            if self.require:
                return VerifierResult(False, 0.0, "No arithmetic statement to check was found.", self.name)
            return VerifierResult(True, 1.0, "No arithmetic statement to check was found.", self.name)
        bad = [
            f"{c.expression} = {c.claimed} is wrong: {c.expression} {c.note}" for c in found if not c.correct
        ]
        return _result(self.name, len(found), bad, f"All {len(found)} arithmetic statements hold.")


def _show(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    return f"{v.numerator}/{v.denominator} ≈ {float(v):.6g}"


# --------------------------------------------------------------------------- formats

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_NUMBER = r"[-+−]?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"


class FormatVerifier:
    """The (stripped) answer has the expected format.

    ``kind`` is one of ``"regex"`` (``pattern`` required, full match), ``"date"`` (``formats``,
    strftime patterns, default ISO ``%Y-%m-%d``), ``"email"``, ``"number"``, or
    ``"number_with_unit"`` (``units``: the accepted unit spellings; any unit when None).
    """

    name = "format"
    KINDS = ("regex", "date", "email", "number", "number_with_unit")

    def __init__(
        self,
        kind: str = "regex",
        *,
        pattern: str | None = None,
        formats: Sequence[str] = ("%Y-%m-%d",),
        units: Iterable[str] | None = None,
        flags: int = 0,
    ):
        if kind not in self.KINDS:
            raise ConfigError(f"kind: must be one of {', '.join(self.KINDS)}, got {kind!r}")
        self.kind = kind
        self.formats = tuple(formats)
        self.units = None if units is None else tuple(units)
        if kind == "regex":
            if not isinstance(pattern, str):
                raise ConfigError("pattern: a regular expression is required for kind='regex'")
            try:
                self._re = re.compile(pattern, flags)
            except re.error as exc:
                raise ConfigError(f"pattern: not a valid regular expression ({exc})") from None
        elif kind == "email":
            self._re = _EMAIL
        elif kind == "number":
            self._re = re.compile(_NUMBER)
        elif kind == "number_with_unit":
            unit = (
                "|".join(re.escape(u) for u in sorted(self.units, key=len, reverse=True))
                if self.units
                else r"[^\d\s][^\d]*"
            )
            self._re = re.compile(rf"(?P<num>{_NUMBER})\s*(?P<unit>{unit})")
        if kind == "date" and not self.formats:
            raise ConfigError("formats: give at least one date format")
        self.pattern = pattern

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        text = _check_answer(answer).strip()
        if self.kind == "date":
            for fmt in self.formats:
                try:
                    _dt.datetime.strptime(text, fmt)
                    return VerifierResult(True, 1.0, f"The answer is a date in the format {fmt}.", self.name)
                except ValueError:
                    continue
            return VerifierResult(
                False,
                0.0,
                f"The answer {text[:60]!r} is not a date in the format {' or '.join(self.formats)}.",
                self.name,
            )
        m = self._re.fullmatch(text)
        if m is None:
            what = {
                "regex": f"the pattern {self.pattern!r}",
                "email": "an e-mail address",
                "number": "a number",
                "number_with_unit": "a number with a unit"
                + (f" ({', '.join(self.units)})" if self.units else ""),
            }[self.kind]
            return VerifierResult(False, 0.0, f"The answer {text[:60]!r} is not {what}.", self.name)
        return VerifierResult(
            True, 1.0, f"The answer has the expected {self.kind.replace('_', ' ')} format.", self.name
        )


# --------------------------------------------------------------------------- tool results

_ANSWER_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)")
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def _flatten(value: Any, numbers: list[float], strings: list[str]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            numbers.append(float(value))
    elif isinstance(value, str):
        strings.append(value.lower())
        for m in _ANSWER_NUMBER.finditer(value):
            numbers.append(float(m.group().replace(",", "").replace("−", "-")))
    elif isinstance(value, Mapping):
        for v in value.values():
            _flatten(v, numbers, strings)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _flatten(v, numbers, strings)


class ToolResultVerifier:
    """The numbers and names in the answer agree with a tool's JSON result.

    ``verify(answer, {"tool_result": ...})`` takes the result as a parsed object or a JSON string.
    Each number in the answer must equal a number in the result (within ``rel_tol``, default
    exact up to float rounding), and with ``check_names`` each capitalised name inside a sentence
    must occur in one of the result's strings. ``ignore`` lists numbers never checked (years, …).
    """

    name = "tool_result"

    def __init__(self, *, rel_tol: float = 1e-9, check_names: bool = True, ignore: Iterable[float] = ()):
        if not isinstance(rel_tol, (int, float)) or not 0.0 <= rel_tol < 1.0:
            raise InvalidArgumentError(f"rel_tol: must lie in [0, 1), got {rel_tol!r}")
        self.rel_tol = float(rel_tol)
        self.check_names = check_names
        self.ignore = tuple(float(v) for v in ignore)

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        text = _check_answer(answer)
        if not isinstance(context, Mapping) or "tool_result" not in context:
            raise InvalidArgumentError("context: ToolResultVerifier needs context={'tool_result': ...}")
        result = context["tool_result"]
        if isinstance(result, (str, bytes)):
            try:
                result = json.loads(result)
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(
                    f"context['tool_result']: not valid JSON ({exc.msg} at line {exc.lineno} column "
                    f"{exc.colno})"
                ) from None
        numbers: list[float] = []
        strings: list[str] = []
        _flatten(result, numbers, strings)
        failures = []
        checks = 0
        for m in _ANSWER_NUMBER.finditer(text):
            v = float(m.group().replace(",", "").replace("−", "-"))
            if any(math.isclose(v, w, rel_tol=self.rel_tol, abs_tol=0.0) for w in self.ignore):
                continue
            checks += 1
            if not any(math.isclose(v, w, rel_tol=self.rel_tol, abs_tol=1e-12) for w in numbers):
                failures.append(f"the number {m.group()} is not in the tool result")
        if self.check_names:
            haystack = " ".join(strings)
            for m in _NAME.finditer(text):
                words = m.group().split()
                sentence_start = m.start() == 0 or re.search(r"[.!?:\n]\s*$", text[: m.start()]) is not None
                if sentence_start:
                    words = words[1:]
                if not words:
                    continue
                name = " ".join(words)
                checks += 1
                if name.lower() not in haystack:
                    failures.append(f"the name {name!r} is not in the tool result")
        return _result(
            self.name, checks, failures, f"All {checks} numbers and names agree with the tool result."
        )


# --------------------------------------------------------------------------- process


class ProcessVerifier:
    """The tool calls made follow the expected process.

    ``required``: steps that must occur; ``order``: steps that must occur in this order (as a
    subsequence of the calls, judged on first occurrences); ``forbidden``: steps that must not
    occur. ``verify(answer, {"tool_calls": [...]})`` takes names or dicts with a ``"name"`` key.
    """

    name = "process"

    def __init__(
        self, *, required: Iterable[str] = (), order: Iterable[str] = (), forbidden: Iterable[str] = ()
    ):
        self.required = tuple(required)
        self.order = tuple(order)
        self.forbidden = tuple(forbidden)
        clash = (set(self.required) | set(self.order)) & set(self.forbidden)
        if clash:
            raise ConfigError(f"forbidden: steps {sorted(clash)} are also required or ordered")
        if len(set(self.order)) != len(self.order):
            raise ConfigError("order: lists a step twice")
        if not (self.required or self.order or self.forbidden):
            raise ConfigError("ProcessVerifier: give at least one of required, order, forbidden")

    @staticmethod
    def _names(context: Mapping[str, Any] | None) -> list[str]:
        if not isinstance(context, Mapping) or "tool_calls" not in context:
            raise InvalidArgumentError("context: ProcessVerifier needs context={'tool_calls': [...]}")
        calls = context["tool_calls"]
        if isinstance(calls, (str, bytes)) or not isinstance(calls, Iterable):
            raise InvalidArgumentError(
                "context['tool_calls']: expected a list of step names or {'name': ...} dicts"
            )
        names = []
        for i, c in enumerate(calls):
            if isinstance(c, str):
                names.append(c)
            elif isinstance(c, Mapping) and isinstance(c.get("name"), str):
                names.append(c["name"])
            else:
                raise InvalidArgumentError(
                    f"context['tool_calls'][{i}]: expected a step name or a dict with a 'name'"
                )
        return names

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        names = self._names(context)
        failures = []
        for step in self.required:
            if step not in names:
                failures.append(f"the required step {step!r} was not called")
        for step in self.forbidden:
            if step in names:
                failures.append(f"the forbidden step {step!r} was called")
        first = {}
        for i, n in enumerate(names):
            first.setdefault(n, i)
        for a, b in zip(self.order, self.order[1:], strict=False):
            if a not in first or b not in first:
                missing = a if a not in first else b
                failures.append(f"the ordered step {missing!r} was not called")
            elif first[a] > first[b]:
                failures.append(f"{b!r} was called before {a!r}")
        # Deduplicate (a missing ordered step may be reported by two neighbouring pairs).
        failures = list(dict.fromkeys(failures))
        checks = len(self.required) + len(self.forbidden) + max(0, len(self.order) - 1)
        return _result(self.name, checks, failures, "The tool calls follow the expected process.")
