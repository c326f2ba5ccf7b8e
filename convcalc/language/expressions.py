"""``$name``, ``${expression}`` and ``$(expression)`` in block bodies: finding them and
evaluating them exactly, over the block's arguments."""

from __future__ import annotations

import re
from typing import Any

# $name, ${expression} or $(expression): the parenthesised form needs no quotes in [...]
REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|\((?P<expr>[^()]*(?:\([^()]*\)[^()]*)*)\)"
                       r"|(?P<name>[A-Za-z_]\w*))")


def expression(match: re.Match[str]) -> str:
    """The text of the expression a reference holds (empty for a plain ``$name``)."""
    return match["braced"] if match["braced"] is not None else match["expr"] or ""


def integer_expression(text: str, names: dict[str, Any]) -> int:
    """Exact integer arithmetic (+ − × ÷ //, brackets) over the block's arguments."""
    import ast  # only for specs that compute

    # Names are renamed first, so that arguments may be called `in` or `is`.
    renamed: dict[str, str] = {}
    safe = re.sub(r"[A-Za-z_]\w*", lambda m: renamed.setdefault(m[0], f"_{len(renamed)}"),
                  text.strip())
    names = {renamed[name]: value for name, value in names.items() if name in renamed}
    originals = {alias: name for name, alias in renamed.items()}
    try:
        tree = ast.parse(safe, mode="eval")
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            found = names.get(node.id)
            if type(found) is not int:
                raise ValueError(f"{originals.get(node.id, node.id)} is not an integer "
                                 "argument")
            return found
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.FloorDiv | ast.Div) and right == 0:
                raise ValueError("division by zero")
            if isinstance(node.op, ast.FloorDiv):
                return left // right
            if isinstance(node.op, ast.Div):
                if left % right:
                    raise ValueError(f"{left}/{right} is not a whole number")
                return left // right
        raise ValueError("only integers, argument names, + - * / // and brackets are allowed")

    return value(tree)
