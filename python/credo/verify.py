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

import bisect
import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

from credo import _credo
from credo._validate import check_bool, check_positive_int, check_real, check_text, check_texts
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


MAX_ANSWER_CHARS = 1_000_000
"""Default bound on the answer length the verifiers read (``max_chars``)."""


def _check_max_chars(max_chars: Any) -> int:
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise InvalidArgumentError(f"max_chars: must be a positive integer, got {max_chars!r}")
    return max_chars


def _bounded_answer(answer: Any, max_chars: int) -> str:
    text = check_text(answer, "answer")
    if len(text) > max_chars:
        raise InvalidArgumentError(f"answer: {len(text)} characters exceed max_chars = {max_chars}")
    return text


def _result(name: str, checks: int, failures: list[str], ok_detail: str) -> VerifierResult:
    score = 1.0 if checks == 0 else (checks - len(failures)) / checks
    if failures:
        shown = "; ".join(failures[:5]) + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
        return VerifierResult(False, score, shown + ".", name)
    return VerifierResult(True, score, ok_detail, name)


# --------------------------------------------------------------------------- JSON Schema


_MAX_SCHEMA_DEPTH = 200
"""Deepest nesting of objects and arrays accepted in a schema (about 100 nested subschemas; a
real schema is rarely 20 deep): the checker and the validator recurse along it."""


def _depth_at_most(value: Any, limit: int) -> bool:
    """Whether the dicts and lists of ``value`` nest at most ``limit`` deep (iterative: a deep
    value cannot exhaust the stack; stops at the first level past ``limit``)."""
    level = [value]
    for _ in range(limit + 1):
        level = [
            c for v in level for c in (v.values() if isinstance(v, Mapping) else v) if isinstance(c, (Mapping, list))
        ]
        if not level:
            return True
    return False


def _strip_fence(text: str) -> str | None:
    """The body of an answer wrapped in a Markdown code fence (```` ```json ... ``` ````), or None.

    The same as matching ``^\\s*```(?:json)?\\s*\\n?(.*?)\\n?\\s*```\\s*$`` (DOTALL), done by
    slicing: that regex backtracks cubically on a fence followed by long whitespace."""
    s = text.strip()
    if len(s) < 6 or not s.startswith("```") or not s.endswith("```"):
        return None
    body = s[3:-3]
    if body.startswith("json"):
        body = body[4:]
    return body.strip()


class SchemaVerifier:
    """The answer is a JSON document valid against ``schema`` (a JSON Schema as a dict).

    ``strip_fences`` accepts an answer wrapped in a Markdown code fence. Answers longer than
    ``max_chars`` characters raise :class:`~credo.InvalidArgumentError`; JSON nested too deep
    for the parser or the validator fails verification. Needs the optional ``jsonschema``
    package (``pip install credo[verify]``).
    """

    name = "schema"

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        strip_fences: bool = True,
        max_errors: int = 5,
        max_chars: int = MAX_ANSWER_CHARS,
    ):
        try:
            import jsonschema
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ImportError("SchemaVerifier needs the jsonschema package: pip install 'credo[verify]'") from None
        if not isinstance(schema, Mapping):
            raise ConfigError(f"schema: expected a JSON Schema object (dict), got {type(schema).__name__}")
        if not _depth_at_most(schema, _MAX_SCHEMA_DEPTH):
            raise ConfigError(f"schema: nested more than {_MAX_SCHEMA_DEPTH} levels deep")
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(dict(schema))
        except jsonschema.exceptions.SchemaError as exc:
            raise ConfigError(f"schema: not a valid JSON Schema ({exc.message})") from None
        except RecursionError:  # under the depth bound, but deeper than the checker's recursion
            raise ConfigError("schema: nested too deeply to check") from None
        self.schema = dict(schema)
        self.strip_fences = check_bool(strip_fences, "strip_fences")
        self.max_errors = check_positive_int(max_errors, "max_errors")
        self.max_chars = _check_max_chars(max_chars)
        self._validator = cls(self.schema)

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        text = _bounded_answer(answer, self.max_chars)
        if self.strip_fences:
            body = _strip_fence(text)
            if body is not None:
                text = body
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            return VerifierResult(
                False,
                0.0,
                f"The answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
                self.name,
            )
        except RecursionError:
            return VerifierResult(False, 0.0, "The answer's JSON is nested too deeply to parse.", self.name)
        except ValueError as exc:  # an integer longer than Python reads (4,300 digits)
            reason = str(exc).split(":")[0]  # "Exceeds the limit (4300 digits) for integer string conversion"
            return VerifierResult(False, 0.0, f"The answer's JSON cannot be read ({reason}).", self.name)
        try:
            errors = sorted(self._validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        except RecursionError:
            return VerifierResult(False, 0.0, "The answer's JSON is nested too deeply to validate.", self.name)
        if not errors:
            return VerifierResult(True, 1.0, "The answer is valid JSON matching the schema.", self.name)
        msgs = []
        for e in errors[: self.max_errors]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            msgs.append(f"at {where}: {e.message}")
        more = f" (and {len(errors) - self.max_errors} more)" if len(errors) > self.max_errors else ""
        return VerifierResult(False, 0.0, f"The JSON does not match the schema: {'; '.join(msgs)}{more}.", self.name)


# --------------------------------------------------------------------------- arithmetic


class _ParseError(ValueError):
    """The text is not an arithmetic expression."""


class _Unverifiable(ValueError):
    """An expression beyond what is evaluated exactly (too large, too deep, fractional power)."""


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
_MAX_DIGITS = 1000  # longest number evaluated (about _MAX_BITS bits; Python's int() stops at 4,300)
_MAX_DEPTH = 100  # deepest nesting of parentheses and powers evaluated (the parser recurses)


def _scan(expr: str, start: int, end: int) -> tuple[list[tuple[str, int, int]], int]:
    """Tokens of ``expr[start:end]`` with their spans (numbers as their text), and the index of
    the first character that is no part of an expression (-1 when there is none)."""
    out: list[tuple[str, int, int]] = []
    i = start
    while i < end:
        c = expr[i]
        if c.isspace() or c == "$":
            i += 1
            continue
        if expr.startswith("**", i, end):
            out.append(("^", i, i + 2))
            i += 2
            continue
        m = _NUM.match(expr, i, end)
        if m:
            out.append((m.group(), i, m.end()))
            i = m.end()
            continue
        if c in _OPS:
            out.append((_OPS[c], i, i + 1))
            i += 1
            continue
        return out, i
    return out, -1


def _number(digits: str) -> Fraction:
    if len(digits) > _MAX_DIGITS:
        raise _Unverifiable(f"a number of more than {_MAX_DIGITS} characters")
    return Fraction(digits.replace(",", ""))


def _tokens(expr: str) -> list[Any]:
    spans, bad = _scan(expr, 0, len(expr))
    if bad >= 0:
        raise _ParseError(f"unexpected character {expr[bad]!r}")
    return [t if t in _OPS.values() else _number(t) for t, _, _ in spans]


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := ('-'|'+')* power ; power := atom ('^' unary)? ; atom := number '%'? | '(' expr ')'

    Parentheses and powers nest at most ``_MAX_DEPTH`` deep (the parser recurses on them)."""

    def __init__(self, toks: list[Any]):
        self.toks = toks
        self.i = 0
        self.depth = 0

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

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unverifiable(f"nested more than {_MAX_DEPTH} deep")

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
        negative = False
        while self.peek() in ("-", "+"):
            negative ^= self.take() == "-"
        v = self.power()
        return -v if negative else v

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            self.nest()
            exp = self.unary()
            self.depth -= 1
            if exp.denominator != 1:
                raise _Unverifiable("only whole-number exponents are evaluated exactly")
            if abs(exp.numerator) * max(1, abs(base.numerator).bit_length(), base.denominator.bit_length()) > _MAX_BITS:
                raise _Unverifiable("result too large to evaluate")
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
            self.nest()
            v = self.expr()
            self.depth -= 1
            if self.take() != ")":
                raise _ParseError("missing closing parenthesis")
            return v
        raise _ParseError("expected a number or '('" if t is None else f"unexpected {t!r}")


def _guard(v: Fraction) -> None:
    if v.numerator.bit_length() > _MAX_BITS or v.denominator.bit_length() > _MAX_BITS:
        raise _Unverifiable("result too large to evaluate")


def evaluate_expression(expr: str) -> Fraction:
    """Exact value of an arithmetic expression (``+ - * / ^``, ``×``, ``÷``, parentheses,
    ``n%``), as a :class:`~fractions.Fraction`. Nothing is executed: the text is parsed by a
    recursive-descent parser. Raises :class:`~credo.InvalidArgumentError` on malformed input, on
    division by zero, and beyond the exact evaluator's bounds: numbers longer than 1,000
    characters, results or intermediate values over 4,096 bits, fractional powers, and
    parentheses or powers nested more than 100 deep."""
    check_text(expr, "expr")
    try:
        return _Parser(_tokens(expr)).parse()
    except (_ParseError, _Unverifiable, ZeroDivisionError) as exc:
        shown = expr if len(expr) <= 80 else expr[:77] + "..."
        raise InvalidArgumentError(f"expr: cannot evaluate {shown!r} ({exc})") from None


# An "expression = value" statement: a run of operands and operators, '=', then a number. The
# statements are found by one scan per '=' (no backtracking regex over the run): the expression
# is the longest suffix of the run before the '=' that is an arithmetic expression.
_RHS = re.compile(r"[−\-]?\$?\s*(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)%?")
_HAS_OP = re.compile(r"[\d)%]\s*(?:[+\-−*/×÷·^]|\*\*)\s*[\d($.(−\-]")
_RUN_CHARS = frozenset(".,+-−*/×÷·^()%$")
_CHAIN = "+-−*/×÷^"
_OPERAND_START = frozenset({"(", "+", "-"})
_OPERAND_END = frozenset({")", "%"})
_BINARY = frozenset({"+", "-", "*", "/", "^"})


def _in_run(c: str) -> bool:
    return c.isdecimal() or c.isspace() or c in _RUN_CHARS


def _starts_expression(text: str, i: int) -> bool:
    c = text[i]
    return c.isdecimal() or c in "$(−-" or (c == "." and i + 1 < len(text) and text[i + 1].isdecimal())


def _follows(a: str, b: str) -> bool:
    """Whether token ``b`` may follow token ``a`` in an expression ("n" stands for a number)."""
    if a == "n":
        return b in _BINARY or b in _OPERAND_END
    if a in _OPERAND_END:
        return b in _BINARY or b == ")"
    return b == "n" or b in _OPERAND_START  # after an operator or '(': an operand


def _valid_suffixes(kinds: list[str]) -> tuple[list[bool], list[bool]]:
    """For each k, whether ``kinds[k:]`` is a syntactically valid expression (every pair of
    neighbours may follow each other, it opens and closes with an operand, its parentheses
    balance), and whether ``["n"] + kinds[k:]`` is (k up to ``len(kinds)``). One right-to-left
    pass."""
    n = len(kinds)
    ok = [False] * n
    after_number = [False] * n + [True]
    closes = n > 0 and (kinds[-1] == "n" or kinds[-1] in _OPERAND_END)
    pairs_ok = True  # every neighbouring pair in kinds[k:] may follow each other
    depth = 0  # ')' minus '(' in kinds[k:]
    lowest = 0  # the smallest such count over kinds[j:], j > k
    for k in range(n - 1, -1, -1):
        if k + 1 < n:
            pairs_ok = pairs_ok and _follows(kinds[k], kinds[k + 1])
        lowest = min(lowest, depth)
        depth += (kinds[k] == ")") - (kinds[k] == "(")
        # Balanced: as many '(' as ')', and no prefix of kinds[k:] closes more than it opened.
        rest_ok = closes and pairs_ok and depth == 0 and lowest >= 0
        ok[k] = rest_ok and (kinds[k] == "n" or kinds[k] in _OPERAND_START)
        after_number[k] = rest_ok and _follows("n", kinds[k])
    return ok, after_number


def _opens_statement(text: str, s: int, end: int) -> bool:
    """An expression of ``text[s:end]`` may open at ``s``: an operand's first character, and at
    least two characters long (three after a bare '.')."""
    return _starts_expression(text, s) and end - s >= 2 + (text[s] == ".")


def _tokens_from(text: str, first: int, end: int) -> tuple[list[tuple[str, int, int]], int]:
    """The tokens of ``text[first:end]`` after the last character no expression ending at
    ``end`` can contain, and where that part begins."""
    while True:
        spans, bad = _scan(text, first, end)
        if bad < 0:
            return spans, first
        # A ',' the number before it did not take (".51,000") is taken from the digits on.
        digits = bad
        while digits > first and text[digits - 1].isdecimal():
            digits -= 1
        taken = _NUM.match(text, digits, end) if text[bad] == "," else None
        grouped = taken is not None and taken.end() > bad
        first = digits if grouped and digits > first else bad + 1


_MAX_REPARSES = 8  # starts inside a number whose tokens do not line up: parsed outright, this often


def _expression_starts(text: str, first: int, end: int) -> list[int]:
    """Where in ``text[first:end]`` a syntactically valid expression ending at ``end`` starts, in
    order: the candidates a left-to-right retry would reach, found in one pass over the tokens
    (a start inside a number takes the number from there, then the run's tokens)."""
    spans, first = _tokens_from(text, first, end)
    kinds = [t if t in _OPS.values() else "n" for t, _, _ in spans]
    valid, after_number = _valid_suffixes(kinds)
    starts = [a for _, a, _ in spans]
    out = []
    k = 0
    reparses = 0
    for s in range(first, end - 1):
        if not _opens_statement(text, s, end):
            continue
        while k < len(spans) and spans[k][2] <= s:
            k += 1  # the token holding s, or the first after it ('$' is no token)
        if k == len(spans):
            break
        if spans[k][1] >= s:
            good = valid[k]
        else:  # inside a number: the number from s, then the tokens after it
            number = _NUM.match(text, s, end)
            number_end = number.end() if number is not None else s
            nxt = bisect.bisect_left(starts, number_end, k)
            if spans[nxt - 1][2] <= number_end:
                good = after_number[nxt]
            elif reparses < _MAX_REPARSES:
                reparses += 1
                good = _scan(text, s, end)[1] < 0 and _parses(text[s:end])
            else:
                good = False
        if good:
            out.append(s)
    return out


def _parses(expr: str) -> bool:
    try:
        _Parser(_tokens(expr)).parse()
    except _ParseError:
        return False
    except (_Unverifiable, ZeroDivisionError):
        pass
    return True


@dataclass(frozen=True)
class ArithmeticCheck:
    """One ``expression = value`` statement found in an answer. ``exact`` is None when the
    expression could not be evaluated (division by zero, or beyond the evaluator's bounds:
    ``verifiable`` is then False and ``note`` says why)."""

    expression: str
    claimed: str
    exact: Fraction | None
    correct: bool
    note: str
    verifiable: bool = True


class ArithmeticVerifier:
    """Every ``expression = value`` statement in the answer holds.

    The left side is evaluated exactly over rationals. A claimed value written with decimals
    passes when it is the exact value correctly rounded to the digits shown (``10 / 3 = 3.33``);
    a whole-number claim must be exact, unless ``rel_tol`` allows more. ``require=True`` fails
    answers without any statement. A statement beyond the exact evaluator's bounds (see
    :func:`evaluate_expression`) fails as "cannot be verified", never passes. Answers longer
    than ``max_chars`` characters raise :class:`~credo.InvalidArgumentError`; the scan is linear
    in the answer's length.
    """

    name = "arithmetic"

    def __init__(self, *, rel_tol: float = 0.0, require: bool = False, max_chars: int = MAX_ANSWER_CHARS):
        if not 0.0 <= check_real(rel_tol, "rel_tol") < 1.0:
            raise InvalidArgumentError(f"rel_tol: must lie in [0, 1), got {rel_tol!r}")
        self.rel_tol = float(rel_tol)
        self.require = check_bool(require, "require")
        self.max_chars = _check_max_chars(max_chars)

    def checks(self, answer: str) -> list[ArithmeticCheck]:
        """Every statement found in ``answer`` and its verdict."""
        text = _bounded_answer(answer, self.max_chars)
        out: list[ArithmeticCheck] = []
        n = len(text)
        pos = 0
        eq = text.find("=")
        while eq >= 0:
            found = self._statement(text, eq, pos)
            if found is None:
                eq = text.find("=", eq + 1)
                continue
            check, start, rhs_start, rhs_end = found
            if check is not None:
                out.append(check)
            # Chains ("3 × 4 = 12 + 1 = 14"): the value may open the next statement.
            k = rhs_end
            while k < n and text[k].isspace():
                k += 1
            chained = rhs_end < n and (k == n or text[k] in _CHAIN)
            pos = max(rhs_start if chained else rhs_end, start + 1)
            eq = text.find("=", pos)
        return out

    def _statement(self, text: str, eq: int, pos: int) -> tuple[ArithmeticCheck | None, int, int, int] | None:
        """The statement whose '=' is at ``eq``, its expression starting at or after ``pos``:
        (its check, or None when there is nothing to compute; where it starts; the value's
        span), or None when there is none."""
        n = len(text)
        j = eq + 1
        while j < n and text[j].isspace():
            j += 1
        approx = j < n and text[j] in "≈~"
        if approx:
            j += 1
            while j < n and text[j].isspace():
                j += 1
        m = _RHS.match(text, j)
        if m is None:
            return None
        end = eq
        while end > pos and text[end - 1].isspace():
            end -= 1
        if end <= pos or not (text[end - 1].isdecimal() or text[end - 1] in ")%"):
            return None
        run = end
        while run > pos and _in_run(text[run - 1]):
            run -= 1
        first = next((s for s in range(run, end - 1) if _opens_statement(text, s, end)), None)
        if first is None:
            return None
        # A retry from each start in turn stops at the first expression that parses, or at the
        # first start after the last operator (nothing left to compute: "x = 5", "2020 = now").
        op_at = self._last_operator(text, first, end)
        starts = _expression_starts(text, first, end)
        if op_at is not None and starts and starts[0] <= op_at:
            lhs = text[starts[0] : end]
            return self._judge(lhs, m.group().replace(" ", ""), approx), starts[0], m.start(), m.end()
        after_op = first if op_at is None else op_at + 1
        if any(_opens_statement(text, s, end) for s in range(after_op, end - 1)):
            return None, after_op, m.start(), m.end()
        return None

    @staticmethod
    def _last_operator(text: str, first: int, end: int) -> int | None:
        """The last position in ``text[first:end]`` where an operator statement begins."""
        for p in range(end - 1, first - 1, -1):
            if (text[p].isdecimal() or text[p] in ")%") and _HAS_OP.match(text, p, end):
                return p
        return None

    def _judge(self, lhs: str, rhs: str, approx: bool) -> ArithmeticCheck:
        try:
            exact = _Parser(_tokens(lhs)).parse()
            claimed = _Parser(_tokens(rhs.replace("−", "-"))).parse()
        except ZeroDivisionError as exc:
            return ArithmeticCheck(lhs, rhs, None, False, str(exc))
        except (_Unverifiable, _ParseError) as exc:
            return ArithmeticCheck(lhs, rhs, None, False, f"cannot be verified ({exc})", verifiable=False)
        decimals = len(rhs.rstrip("%").split(".")[1]) if "." in rhs else 0
        if rhs.endswith("%"):
            decimals += 2
        diff = abs(exact - claimed)
        ok = diff == 0
        if not ok and (decimals > 0 or approx):
            ok = diff <= Fraction(1, 2 * 10**decimals)
        if not ok and self.rel_tol > 0:
            ok = diff <= Fraction(self.rel_tol) * abs(exact)
        note = "" if ok else f"is {_show(exact)}"
        return ArithmeticCheck(lhs, rhs, exact, ok, note)

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        found = self.checks(answer)
        if not found:
            if self.require:
                return VerifierResult(False, 0.0, "No arithmetic statement to check was found.", self.name)
            return VerifierResult(True, 1.0, "No arithmetic statement to check was found.", self.name)
        bad = [
            f"{_clip(c.expression)} = {_clip(c.claimed)} {c.note}"
            if not c.verifiable
            else f"{_clip(c.expression)} = {_clip(c.claimed)} is wrong: {_clip(c.expression)} {c.note}"
            for c in found
            if not c.correct
        ]
        return _result(self.name, len(found), bad, f"All {len(found)} arithmetic statements hold.")


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(v: Fraction) -> str:
    if v.denominator == 1:
        return _clip(str(v.numerator))
    try:
        approx = f" ≈ {float(v):.6g}"
    except OverflowError:
        approx = ""
    return _clip(f"{v.numerator}/{v.denominator}") + approx


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
    Answers longer than ``max_chars`` characters raise :class:`~credo.InvalidArgumentError`
    (the built-in kinds run in linear time; a ``pattern`` of your own is only as fast as it is).
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
        max_chars: int = MAX_ANSWER_CHARS,
    ):
        self.max_chars = _check_max_chars(max_chars)
        if kind not in self.KINDS:
            raise ConfigError(f"kind: must be one of {', '.join(self.KINDS)}, got {kind!r}")
        self.kind = kind
        self.formats = check_texts(formats, "formats", error=ConfigError)
        self.units = None if units is None else check_texts(units, "units", error=ConfigError)
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
        text = _bounded_answer(answer, self.max_chars).strip()
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
                "number_with_unit": "a number with a unit" + (f" ({', '.join(self.units)})" if self.units else ""),
            }[self.kind]
            return VerifierResult(False, 0.0, f"The answer {text[:60]!r} is not {what}.", self.name)
        return VerifierResult(
            True, 1.0, f"The answer has the expected {self.kind.replace('_', ' ')} format.", self.name
        )


# --------------------------------------------------------------------------- tool results

_ANSWER_NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)")
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def _flatten(value: Any, numbers: list[float], strings: list[str]) -> None:
    """The finite numbers and the lower-cased strings of a JSON value, in document order
    (iterative: a deeply nested tool result cannot exhaust the stack)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            if math.isfinite(v):
                numbers.append(float(v))
        elif isinstance(v, str):
            strings.append(v.lower())
            for m in _ANSWER_NUMBER.finditer(v):
                numbers.append(float(m.group().replace(",", "").replace("−", "-")))
        elif isinstance(v, Mapping):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(v))


def _has_close(ordered: list[float], v: float, rel_tol: float, abs_tol: float) -> bool:
    """Whether a number of ``ordered`` (sorted) is close to ``v``: if any is, one of the two
    neighbours of ``v`` is (closeness only grows towards ``v`` on either side)."""
    i = bisect.bisect_left(ordered, v)
    return any(
        math.isclose(v, ordered[j], rel_tol=rel_tol, abs_tol=abs_tol) for j in (i - 1, i) if 0 <= j < len(ordered)
    )


def _opens_sentence(text: str, at: int) -> bool:
    """Whether ``text[at:]`` opens a sentence: only whitespace since the text's start, a full
    stop, '!', '?', ':' or a line break (the same as ``re.search(r"[.!?:\\n]\\s*$", text[:at])``
    or ``at == 0``, without rescanning the text before each name)."""
    i = at
    while i > 0 and text[i - 1].isspace():
        if text[i - 1] == "\n":
            return True
        i -= 1
    return at == 0 or (i > 0 and text[i - 1] in ".!?:")


class ToolResultVerifier:
    """The numbers and names in the answer agree with a tool's JSON result.

    ``verify(answer, {"tool_result": ...})`` takes the result as a parsed object or a JSON string.
    Each number in the answer must equal a number in the result (within ``rel_tol``, default
    exact up to float rounding), and with ``check_names`` each capitalised name inside a sentence
    must occur in one of the result's strings. ``ignore`` lists numbers never checked (years, …).
    An answer or a JSON tool result longer than ``max_chars`` characters raises
    :class:`~credo.InvalidArgumentError`.
    """

    name = "tool_result"

    def __init__(
        self,
        *,
        rel_tol: float = 1e-9,
        check_names: bool = True,
        ignore: Iterable[float] = (),
        max_chars: int = MAX_ANSWER_CHARS,
    ):
        if not 0.0 <= check_real(rel_tol, "rel_tol") < 1.0:
            raise InvalidArgumentError(f"rel_tol: must lie in [0, 1), got {rel_tol!r}")
        self.rel_tol = float(rel_tol)
        self.check_names = check_bool(check_names, "check_names")
        if isinstance(ignore, (str, bytes)) or not isinstance(ignore, Iterable):
            raise InvalidArgumentError(f"ignore: expected a list of numbers, got {type(ignore).__name__}")
        self.ignore = tuple(check_real(v, f"ignore[{i}]") for i, v in enumerate(ignore))
        self.max_chars = _check_max_chars(max_chars)

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        text = _bounded_answer(answer, self.max_chars)
        if not isinstance(context, Mapping) or "tool_result" not in context:
            raise InvalidArgumentError("context: ToolResultVerifier needs context={'tool_result': ...}")
        result = context["tool_result"]
        if isinstance(result, (str, bytes)):
            if len(result) > self.max_chars:
                raise InvalidArgumentError(
                    f"context['tool_result']: {len(result)} characters exceed max_chars = {self.max_chars}"
                )
            try:
                result = json.loads(result)
            except json.JSONDecodeError as exc:
                raise InvalidArgumentError(
                    f"context['tool_result']: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                ) from None
            except (RecursionError, UnicodeDecodeError) as exc:
                reason = "nested too deeply" if isinstance(exc, RecursionError) else "not UTF-8"
                raise InvalidArgumentError(f"context['tool_result']: not readable JSON ({reason})") from None
        numbers: list[float] = []
        strings: list[str] = []
        _flatten(result, numbers, strings)
        numbers.sort()
        failures = []
        checks = 0
        for m in _ANSWER_NUMBER.finditer(text):
            v = float(m.group().replace(",", "").replace("−", "-"))
            if any(math.isclose(v, w, rel_tol=self.rel_tol, abs_tol=0.0) for w in self.ignore):
                continue
            checks += 1
            if not _has_close(numbers, v, self.rel_tol, 1e-12):
                failures.append(f"the number {m.group()} is not in the tool result")
        if self.check_names:
            names = []
            for m in _NAME.finditer(text):
                words = m.group().split()
                if _opens_sentence(text, m.start()):
                    words = words[1:]
                if words:
                    names.append(" ".join(words))
            # One pass over the result's strings for all the names (a search per name cost
            # names × result size).
            found = _credo.text_occurring(
                " ".join(strings).encode("utf-8", "surrogatepass"),
                [n.lower().encode("utf-8", "surrogatepass") for n in names],
            )
            for name, ok in zip(names, found, strict=True):
                checks += 1
                if not ok:
                    failures.append(f"the name {name!r} is not in the tool result")
        return _result(self.name, checks, failures, f"All {checks} numbers and names agree with the tool result.")


# --------------------------------------------------------------------------- process


class ProcessVerifier:
    """The tool calls made follow the expected process.

    ``required``: steps that must occur; ``order``: steps that must occur in this order (as a
    subsequence of the calls, judged on first occurrences); ``forbidden``: steps that must not
    occur. ``verify(answer, {"tool_calls": [...]})`` takes names or dicts with a ``"name"`` key.
    """

    name = "process"

    def __init__(self, *, required: Iterable[str] = (), order: Iterable[str] = (), forbidden: Iterable[str] = ()):
        self.required = check_texts(required, "required", error=ConfigError)
        self.order = check_texts(order, "order", error=ConfigError)
        self.forbidden = check_texts(forbidden, "forbidden", error=ConfigError)
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
            raise InvalidArgumentError("context['tool_calls']: expected a list of step names or {'name': ...} dicts")
        names = []
        for i, c in enumerate(calls):
            if isinstance(c, str):
                names.append(c)
            elif isinstance(c, Mapping) and isinstance(c.get("name"), str):
                names.append(c["name"])
            else:
                raise InvalidArgumentError(f"context['tool_calls'][{i}]: expected a step name or a dict with a 'name'")
        return names

    def verify(self, answer: str, context: Mapping[str, Any] | None = None) -> VerifierResult:
        check_text(answer, "answer")  # the protocol's argument; the verdict reads the tool calls only
        names = self._names(context)
        failures = []
        for step in self.required:
            if step not in names:
                failures.append(f"the required step {step!r} was not called")
        for step in self.forbidden:
            if step in names:
                failures.append(f"the forbidden step {step!r} was called")
        first: dict[str, int] = {}
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
