"""Evaluating the expressions of ``$(expression)`` (and ``${expression}``) exactly, over a
block's arguments (``references`` finds them in a text).

Numbers are exact: integers and fractions (``0.25`` is 1/4, ``7 / 2`` is 7/2), never
floats. The grammar is a small part of Python's, with Python's precedence and meaning:

    expression := either ['if' either 'else' expression]
    either     := both ('or' both)*
    both       := negation ('and' negation)*
    negation   := 'not' negation | comparison
    comparison := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)*
    sum        := term (('+' | '-') term)*
    term       := unary (('*' | '/' | '//' | '%') unary)*
    unary      := ('-' | '+') unary | atom
    atom       := number | true | false | name | function '(' expression, … ')'
                | '(' expression ')'

Hostile text is bounded before it costs anything: the length of an expression, its nesting
and the size of every value are limited, and evaluation never recurses along a chain
(``1+1+…+1`` is a loop, not a tree).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache

Number = int | Fraction
Value = int | Fraction | bool  # a bool is never taken for a number, nor a number for a bool
Env = Mapping[str, object]  # argument names to their raw values (from YAML)

MAX_LENGTH = 300  # characters in one expression: real ones are under 80
MAX_DEPTH = 16  # brackets, calls, unary signs and conditionals nested in one another
MAX_BITS = 128  # of any value (a fraction's numerator and denominator each)

KEYWORDS = ("and", "or", "not", "if", "else", "true", "false", "True", "False")


class ExpressionError(ValueError):
    """An expression cannot be evaluated; ``code`` is the problem code."""

    def __init__(self, message: str, code: str = "bad-expression") -> None:
        super().__init__(message)
        self.message, self.code = message, code


# --- values ------------------------------------------------------------------------------------


def show(value: object) -> str:
    """A value as the spec writes it: ``true``, ``7/2``, ``12``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | Fraction) else repr(value)


def _bounded(value: Value) -> Value:
    """The value, normalised (a whole fraction is an int), if it is not too large."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Fraction):
        if value.denominator == 1:
            value = value.numerator
        elif max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
            raise ExpressionError(f"a value has more than {MAX_BITS} bits", "too-large")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ExpressionError(f"a value has more than {MAX_BITS} bits", "too-large")
    return value


def argument(name: str, raw: object) -> Value:
    """An argument's YAML value as an exact value: ``0.25`` (read by YAML as a float) is
    the decimal written, 1/4, through the float's shortest decimal form."""
    if isinstance(raw, bool | int | Fraction):
        return _bounded(raw)
    if isinstance(raw, float) and math.isfinite(raw):
        return _bounded(Fraction(repr(raw)))
    raise ExpressionError(f"{name} is {show(raw)}, not a number")


def _number(value: Value, where: str) -> Number:
    if isinstance(value, bool):
        raise ExpressionError(f"{where} needs numbers, got {show(value)}")
    return value


def _boolean(value: Value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{where} needs true or false, got {show(value)} (write a "
                              "comparison such as x > 0)")
    return value


def _nonzero(value: Number, op: str) -> Number:
    if value == 0:
        raise ExpressionError(f"division by zero (in {op})")
    return value


_ARITHMETIC: dict[str, Callable[[Number, Number], Value]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: Fraction(a) / _nonzero(b, "/"),
    "//": lambda a, b: a // _nonzero(b, "//"),
    "%": lambda a, b: a % _nonzero(b, "%"),
}
_COMPARISONS: dict[str, Callable[[Value, Value], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def make_divisible(value: Number, divisor: Number, min_value: Number | None = None) -> int:
    """torchvision's ``_make_divisible`` (models/_utils.py), computed exactly: the multiple
    of ``divisor`` nearest ``value`` (halves up), at least ``min_value`` (the divisor when
    not given), and not more than 10 % below ``value``."""
    if not isinstance(divisor, int) or divisor <= 0:
        raise ExpressionError(f"make_divisible: the divisor must be a positive integer, got "
                              f"{show(divisor)}")
    floor = divisor if min_value is None else min_value
    new = max(floor, int(value + Fraction(divisor, 2)) // divisor * divisor)
    if new < Fraction(9, 10) * value:
        new += divisor
    return int(new)


# name -> (fewest arguments, most arguments, function); Python's round: halves to even
FUNCTIONS: dict[str, tuple[int, int, Callable[..., Value]]] = {
    "round": (1, 1, round),
    "floor": (1, 1, math.floor),
    "ceil": (1, 1, math.ceil),
    "int": (1, 1, int),  # towards zero, as Python's int() of a number
    "min": (2, 64, min),
    "max": (2, 64, max),
    "make_divisible": (2, 3, make_divisible),
}


# --- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+\.?\d*|\.\d+)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<op>//|==|!=|<=|>=|[-+*/%<>(),]))")

Compiled = Callable[[Env], Value]


class _Parser:
    """Recursive descent over the tokens, building closures; ``depth`` bounds the nesting."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        at = 0
        while text[at:].strip():
            match = _TOKEN.match(text, at)
            if match is None:
                raise ExpressionError(f"unexpected {text[at:].strip()[:10]!r}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match[kind]))
            at = match.end()
        self.tokens.append(("end", ""))
        self.at = 0
        self.depth = 0

    def peek(self) -> str:
        return self.tokens[self.at][1]

    def take(self, *texts: str) -> str | None:
        text = self.peek()
        if text in texts and self.tokens[self.at][0] != "end":
            self.at += 1
            return text
        return None

    def expect(self, text: str) -> None:
        if self.take(text) is None:
            found = self.peek() or "the end"
            raise ExpressionError(f"expected {text!r}, found {found!r}")

    def nested(self, parse: Callable[[], Compiled]) -> Compiled:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels",
                                  "too-deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    def whole(self) -> Compiled:
        compiled = self.expression()
        if self.tokens[self.at][0] != "end":
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return compiled

    def expression(self) -> Compiled:
        value = self.either()
        if self.take("if") is None:
            return value
        condition = self.either()
        self.expect("else")
        other = self.nested(self.expression)
        return lambda env: value(env) if _boolean(condition(env), "if … else") else other(env)

    def either(self) -> Compiled:
        return self.logical("or", self.both)

    def both(self) -> Compiled:
        return self.logical("and", self.negation)

    def logical(self, op: str, operand: Callable[[], Compiled]) -> Compiled:
        """``a or b or …``: evaluated left to right, stopping as soon as the answer is known."""
        parts = [operand()]
        while self.take(op):
            parts.append(operand())
        if len(parts) == 1:
            return parts[0]
        stop = op == "or"  # the value that decides: true for `or`, false for `and`

        def run(env: Env) -> Value:
            for part in parts:
                if _boolean(part(env), op) is stop:
                    return stop
            return not stop
        return run

    def negation(self) -> Compiled:
        if self.take("not"):
            operand = self.nested(self.negation)
            return lambda env: not _boolean(operand(env), "not")
        return self.comparison()

    def comparison(self) -> Compiled:
        first = self.sum()
        rest: list[tuple[str, Compiled]] = []
        while (op := self.take(*_COMPARISONS)) is not None:
            rest.append((op, self.sum()))
        if not rest:
            return first

        def run(env: Env) -> Value:
            left = first(env)
            for op, operand in rest:  # a < b < c as Python reads it: a < b and b < c
                right = operand(env)
                if isinstance(left, bool) != isinstance(right, bool) or (
                        isinstance(left, bool) and op not in ("==", "!=")):
                    raise ExpressionError(f"{op} compares {show(left)} with {show(right)}")
                if not _COMPARISONS[op](left, right):
                    return False
                left = right
            return True
        return run

    def sum(self) -> Compiled:
        return self.chain(("+", "-"), self.term)

    def term(self) -> Compiled:
        return self.chain(("*", "/", "//", "%"), self.unary)

    def chain(self, ops: tuple[str, ...], operand: Callable[[], Compiled]) -> Compiled:
        """``a + b - c …``: a loop over the operands, however long the chain."""
        first = operand()
        rest: list[tuple[str, Compiled]] = []
        while (op := self.take(*ops)) is not None:
            rest.append((op, operand()))
        if not rest:
            return first

        def run(env: Env) -> Value:
            value = first(env)
            for op, part in rest:
                value = _bounded(_ARITHMETIC[op](_number(value, op), _number(part(env), op)))
            return value
        return run

    def unary(self) -> Compiled:
        sign = self.take("-", "+")
        if sign is None:
            return self.atom()
        operand = self.nested(self.unary)
        if sign == "+":
            return lambda env: _number(operand(env), "+")
        return lambda env: -_number(operand(env), "-")

    def atom(self) -> Compiled:
        kind, text = self.tokens[self.at]
        if self.take("("):
            inner = self.nested(self.expression)
            self.expect(")")
            return inner
        if kind == "number":
            self.at += 1
            constant = _bounded(Fraction(text))
            return lambda env: constant
        if kind != "name" or text in ("and", "or", "not", "if", "else"):
            raise ExpressionError(f"expected a number, a name or '(', found "
                                  f"{text or 'the end'!r}")
        self.at += 1
        if text in ("true", "True", "false", "False"):
            truth = text.lower() == "true"
            return lambda env: truth
        if self.peek() == "(" and self.tokens[self.at][0] == "op":
            return self.nested(lambda: self.call(text))
        return lambda env: _lookup(env, text)

    def call(self, name: str) -> Compiled:
        if name not in FUNCTIONS:
            raise ExpressionError(f"{name}() is not a function; the functions are "
                                  f"{', '.join(FUNCTIONS)}", "unknown-function")
        fewest, most, function = FUNCTIONS[name]
        self.expect("(")
        arguments = [self.expression()]
        while self.take(","):
            arguments.append(self.expression())
        self.expect(")")
        if not fewest <= len(arguments) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}" \
                if most < 64 else f"{fewest} or more"
            raise ExpressionError(f"{name}() takes {wanted} argument"
                                  f"{'' if wanted == '1' else 's'}, got {len(arguments)}")

        def run(env: Env) -> Value:
            values = [_number(argument(env), f"{name}()") for argument in arguments]
            return _bounded(function(*values))
        return run


def _lookup(env: Env, name: str) -> Value:
    if name not in env:
        raise ExpressionError(f"{name} is not an argument of this block", "undefined-argument")
    return argument(name, env[name])


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Compiled:
    """The expression as a function of the arguments; raises ExpressionError if malformed.

    Compiled once per text: a block called 36 times evaluates, but does not parse, again.
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression has {len(text):,} characters; the limit is "
                              f"{MAX_LENGTH}", "too-large")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    return _Parser(text).whole()


def evaluate(text: str, env: Env) -> Value:
    """The exact value of an expression over the arguments ``env``."""
    return compile_expression(text)(env)
