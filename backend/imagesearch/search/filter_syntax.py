"""The filter language's syntax: a Lark grammar (LALR), the tree it parses into, and syntax errors.

``parse_filter(text)`` checks the limits (empty, over ``MAX_LENGTH`` characters, nested deeper than
``MAX_DEPTH`` levels of parentheses and NOT), parses with Lark and returns an :data:`Expression`;
every failure is a ``FilterError`` whose message says what was expected, after which token, and
where. What a filter means for a table's fields is ``filter_plan.py``'s; the language is described
for users in ``filters.py`` and ``docs/filters.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from imagesearch.errors import FilterError

MAX_LENGTH = 2000
MAX_DEPTH = 32

# AND/OR are flat repetitions, so a long chain of conditions is one wide node, never a deep one;
# only NOT and parentheses nest (and are counted against MAX_DEPTH before anything recurses).
_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr             -> negation
         | LPAR or_expr RPAR        -> group
         | condition
condition: field OP value           -> compare
         | field value TO value     -> between
         | field NOT? IN LSQB [values] RSQB -> member
         | field NOT? EXISTS        -> check
         | field IS NOT? NULL       -> check
         | field IS NOT? EMPTY      -> check
values: value (COMMA value)* COMMA?
field: NAME | QUOTED_NAME
value: STRING | NUMBER | DATE | NAME

OP: "!=" | ">=" | "<=" | "=" | ">" | "<"
AND: "and"i
OR: "or"i
NOT: "not"i
TO: "to"i
IN: "in"i
EXISTS: "exists"i
IS: "is"i
NULL: "null"i
EMPTY: "empty"i
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
COMMA: ","
NAME: /[^\W\d][\w.\-]*/
QUOTED_NAME: /`[^`]+`/
STRING: /"(?:[^"\\]|\\.)*"/s | /'(?:[^'\\]|\\.)*'/s
NUMBER: /-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/
DATE.2: /\d{4}-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?/
%ignore /\s+/
"""
_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=True)
KEYWORDS = frozenset({"AND", "OR", "NOT", "TO", "IN", "EXISTS", "IS", "NULL", "EMPTY"})

ValueKind = Literal["string", "number", "date", "word"]
_KINDS: dict[str, ValueKind] = {"STRING": "string", "NUMBER": "number", "DATE": "date", "NAME": "word"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


@dataclass(frozen=True)
class Field:
    name: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A value as written: ``text`` is a quoted string's content (escapes resolved) or the bare token."""

    text: str
    kind: ValueKind
    pos: int


@dataclass(frozen=True)
class Condition:
    """``op``: =, !=, >, >=, <, <=, TO (two values), IN, NOT IN, EXISTS, NOT EXISTS, IS [NOT] NULL/EMPTY."""

    field: Field
    op: str
    op_pos: int
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class NotExpr:
    operand: Expression


@dataclass(frozen=True)
class AndExpr:
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class OrExpr:
    operands: tuple[Expression, ...]


Expression = Condition | NotExpr | AndExpr | OrExpr


def parse_filter(text: str) -> Expression:
    """The syntax tree of ``text``; raises FilterError (with a position) for anything else."""
    if not text.strip():
        raise FilterError("the filter is empty", 0)
    if len(text) > MAX_LENGTH:
        raise FilterError(f"the filter is {len(text)} characters long; the limit is {MAX_LENGTH}", MAX_LENGTH)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    _check_depth(tree)
    return _ToExpression().transform(tree)


class _ToExpression(Transformer[Token, Expression]):
    """Lark's parse tree -> Expression; recursion is safe: the depth was checked first."""

    def or_expr(self, children: list[Expression | Token]) -> Expression:
        return OrExpr(tuple(child for child in children if not isinstance(child, Token)))

    def and_expr(self, children: list[Expression | Token]) -> Expression:
        return AndExpr(tuple(child for child in children if not isinstance(child, Token)))

    def negation(self, children: list[Expression | Token]) -> Expression:
        operand = children[1]
        assert not isinstance(operand, Token)
        return NotExpr(operand)

    def group(self, children: list[Expression | Token]) -> Expression:
        inner = children[1]
        assert not isinstance(inner, Token)
        return inner

    def field(self, children: list[Token]) -> Field:
        token = children[0]
        name = token.value[1:-1] if token.type == "QUOTED_NAME" else token.value
        return Field(name, _start(token))

    def value(self, children: list[Token]) -> Value:
        token = children[0]
        text = _unescape(token.value[1:-1]) if token.type == "STRING" else token.value
        return Value(text, _KINDS[token.type], _start(token))

    def values(self, children: list[Value | Token]) -> tuple[Value, ...]:
        return tuple(child for child in children if isinstance(child, Value))

    def compare(self, children: list[Field | Token | Value]) -> Condition:
        field, op, value = children
        assert isinstance(field, Field) and isinstance(op, Token) and isinstance(value, Value)
        return Condition(field, op.value, _start(op), (value,))

    def between(self, children: list[Field | Token | Value]) -> Condition:
        field, low, to, high = children
        assert isinstance(field, Field) and isinstance(to, Token)
        assert isinstance(low, Value) and isinstance(high, Value)
        return Condition(field, "TO", _start(to), (low, high))

    def member(self, children: list[object]) -> Condition:
        field, *keywords, _, values, _ = children
        assert isinstance(field, Field)
        return Condition(field, _keywords(keywords), _start(keywords[0]), values or ())  # type: ignore[arg-type]

    def check(self, children: list[object]) -> Condition:
        field, *keywords = children
        assert isinstance(field, Field)
        return Condition(field, _keywords(keywords), _start(keywords[0]))


def _keywords(tokens: list[object]) -> str:
    return " ".join(str(token).upper() for token in tokens)


def _start(token: object) -> int:
    assert isinstance(token, Token) and token.start_pos is not None
    return token.start_pos


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "\\")  # the grammar puts a character after every backslash
            out.append(_ESCAPES.get(escaped, escaped))
        else:
            out.append(char)
    return "".join(out)


def _check_depth(tree: Tree[Token]) -> None:
    """FilterError past MAX_DEPTH levels of NOT and parentheses; iterative, so any depth is safe."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("negation", "group"):
            depth += 1
            if depth > MAX_DEPTH:
                position = _start(node.children[0])
                raise FilterError(
                    f"the filter is nested too deeply: more than {MAX_DEPTH} levels of parentheses "
                    f"and NOT (position {position})",
                    position,
                )
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))


_VALUES = frozenset({"STRING", "NUMBER", "DATE"})
_FIELDS = frozenset({"NAME", "QUOTED_NAME"})
_OPERATORS = "an operator (=, !=, >, >=, <, <=, TO, IN, NOT IN, EXISTS, IS)"
# The other terminals in words, in the order a message lists them.
_WORDS = {
    "NOT": "NOT",
    "LPAR": "'('",
    "TO": "TO",
    "IN": "IN",
    "EXISTS": "EXISTS",
    "NULL": "NULL",
    "EMPTY": "EMPTY",
    "LSQB": "'['",
    "COMMA": "','",
    "RSQB": "']'",
    "AND": "AND",
    "OR": "OR",
    "RPAR": "')'",
    "$END": "the end of the filter",
}


def _syntax_error(text: str, error: UnexpectedInput) -> FilterError:
    if isinstance(error, UnexpectedToken):
        at_end = error.token.type == "$END"
        position = len(text) if at_end else _start(error.token)
        problem = f"expected {_expected(set(error.expected))} {_after(text, position)}"
        if not at_end:
            found = error.token.value
            problem += f", found {found!r}"
            if error.token.type in KEYWORDS:
                problem += f' ({found} is a keyword: write "{found}" for a value, `{found}` for a field)'
    elif isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        problem = _bad_character(text, position)
    else:  # not raised by an LALR parser with a basic lexer; kept so no other type escapes
        position = 0
        problem = "the filter cannot be parsed"
    return FilterError(f"{problem} ({_where(text, position)})", position)


def _expected(names: set[str]) -> str:
    if "OP" in names:
        return _OPERATORS
    if names & {"RPAR", "$END"}:  # after a whole condition, where AND and OR fit too
        names |= {"AND", "OR"}
    words = ["a value"] if names & _VALUES else ["a field name"] if names & _FIELDS else []
    words += [word for name, word in _WORDS.items() if name in names]
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _after(text: str, position: int) -> str:
    """'after <the token before position>', found by lexing the text again (only on errors)."""
    previous: Token | None = None
    try:
        for token in _PARSER.lex(text):
            if token.end_pos is None or token.end_pos > position:
                break
            previous = token
    except UnexpectedCharacters:
        pass
    return "at the start" if previous is None else f"after {previous.value!r}"


def _bad_character(text: str, position: int) -> str:
    char = text[position]
    if char in "\"'":
        return f"the string opened with {char} is never closed"
    if char == "`":
        return "the field name opened with ` is never closed (or is empty)"
    return f"unexpected character {char!r} (quote values that contain spaces or symbols)"


def _where(text: str, position: int) -> str:
    if position >= len(text.rstrip()):
        return f"position {position}: the end of the filter"
    excerpt = text[position : position + 20]
    return f"position {position}: near {excerpt + ('…' if len(text) > position + 20 else '')!r}"
