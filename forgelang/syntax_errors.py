"""Turn Lark's parse errors into plain messages with hints.

Known mistakes are recognised with ``UnexpectedInput.match_examples`` against the
small table of bad snippets below (Lark's recommended technique); anything else gets
a message listing what the parser expected at that point.
"""

from __future__ import annotations

from functools import lru_cache

from lark.exceptions import UnexpectedInput

from forgelang.grammar import lark_parser

# label -> (message, hint), then label -> snippets that show the mistake
MESSAGES: dict[str, tuple[str, str]] = {
    "missing_equals": ("expected `=` between a key and its value",
                       "write `key = value`, or `key { ... }` for a block"),
    "colon": ("`:` is not used in .forge files", "write `key = value`"),
    "missing_value": ("missing value after `=`", "give a value, e.g. `steps = 400`"),
    "list_comma": ("list items must be separated by commas", "write `[a, b, c]`"),
    "top_level_assign": ("a setting outside any block",
                         "put settings inside `recipe`, `preset` or `phase` blocks, "
                         "or declare a variable with `let name = value`"),
    "recipe_name": ("the recipe name must be a quoted string", 'write `recipe "my-recipe" { ... }`'),
    "phase_kind": ("a phase needs a kind", "write `phase cognate { ... }`; kinds: cognate, "
                   "evomerge, quietstar, bitnet, curriculum, baking, experts, compression"),
    "gate_phase": ("a gate names the phase it checks", "write `gate bitnet { retention >= 0.95 }`"),
    "double_equals": ("unexpected `=` where a value should be",
                      "write `key = value` with one `=` (`==` compares, in gates)"),
    "assign_in_gate": ("gate conditions compare with `==`, `>=`, `<=`, `<`, `>` or `!=`",
                       "write `retention >= 0.95`; only `on_fail = stop|warn` uses `=`"),
    "version": ("the version line is `forge <number>`", "write `forge 1` on the first line"),
    "dangling_operator": ("an operator is missing its right-hand side",
                          "complete the expression, e.g. `0.9 * accuracy + 0.1 * diversity`"),
    "chained_comparison": ("comparisons cannot be chained",
                           "combine them with `and`: `a >= 0.5 and a <= 0.9`"),
    "string_unclosed": ("string is not closed", 'close it with `"` on the same line'),
}

EXAMPLES: dict[str, list[str]] = {
    "missing_equals": ['recipe "x" { seed 1 }', "phase cognate { steps 400 }",
                       'recipe "x" { device auto }'],
    "colon": ["phase cognate { steps: 400 }", 'recipe "x" { seed: 1 }'],
    "missing_value": ["phase cognate { steps = }", "let a =", 'recipe "x" { seed = }',
                      "phase cognate { steps = \n}"],
    "list_comma": ["phase cognate { roles = [a b] }", "phase cognate { roles = [1 2] }"],
    "recipe_name": ["recipe tiny { }", "recipe { }"],
    "phase_kind": ["phase { }"],
    "gate_phase": ["gate { retention >= 0.9 }"],
    "double_equals": ["phase cognate { steps == 400 }"],
    "assign_in_gate": ["gate bitnet { retention = 0.9 }"],
    "version": ["forge", "forge x", 'forge "1"'],
    "dangling_operator": ["phase cognate { a = 1 + }", "let a = 2 *", "phase evomerge { fitness = 0.9 * }"],
    "chained_comparison": ["gate bitnet { 0.5 < a < 0.9 }"],
    "string_unclosed": ['recipe "x { }', 'import "a.forge'],
}

_TOKEN_NAMES = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "DURATION": "a duration", "SIZE": "a size", "PERCENT": "a percentage",
    "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`",
    "RPAR": "`)`", "EQUAL": "`=`", "COMMA": "`,`", "SEMICOLON": "`;`", "DOT": "`.`",
    "COMP_OP": "a comparison", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`",
    "_NL": "a newline", "$END": "end of file",
}


RESERVED = ("forge", "import", "as", "let", "recipe", "preset", "extends", "phase", "gate",
            "and", "or", "not", "true", "false")


DURATION_WORDS = {"ms": "ms", "msec": "ms", "msecs": "ms", "millisecond": "ms",
                  "milliseconds": "ms", "s": "s", "sec": "s", "secs": "s", "second": "s",
                  "seconds": "s", "m": "m", "min": "m", "mins": "m", "minute": "m",
                  "minutes": "m", "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
                  "d": "d", "day": "d", "days": "d"}
SIZE_WORDS = {"b": "B", "byte": "B", "bytes": "B", "kb": "KiB", "kib": "KiB", "mb": "MiB",
              "mib": "MiB", "gb": "GiB", "gib": "GiB", "tb": "TiB", "tib": "TiB"}
_UNIT_REACH = 3  # tokens between a misspelt unit and where the parser noticed
_UNIT_WINDOW = 400  # characters before the error that are searched for one


def unit_mistake(text: str, start: int, error_pos: int) -> tuple[int, int, str, str] | None:
    """``(offset, length, message, hint)`` when the statement going wrong at ``error_pos``
    wrote a number with a unit the language lacks (``20 minutes``, ``20min``, ``4gb``):
    the parser reads ``20`` and then a stray name, and would complain further on."""
    first = text.rfind("\n", 0, max(start, error_pos - _UNIT_WINDOW)) + 1  # a line's start
    try:  # only the lines just before the error: bounded work on a huge file
        tokens = list(lark_parser().lex(text[first:error_pos]))
    except UnexpectedInput:
        return None
    pairs = [(i, a, b) for i, (a, b) in enumerate(zip(tokens, tokens[1:], strict=False))
             if a.type in ("INT", "FLOAT") and b.type == "NAME"
             and text[first + a.end_pos:first + b.start_pos] in ("", " ", "\t")
             and str(b).lower() in DURATION_WORDS | SIZE_WORDS]
    if not pairs or len(tokens) - pairs[-1][0] - 2 > _UNIT_REACH:
        return None
    _, number, word = pairs[-1]
    offset = first + number.start_pos
    written = text[offset:first + word.end_pos]
    if str(word).lower() in DURATION_WORDS:
        fixed = f"{number}{DURATION_WORDS[str(word).lower()]}"
        return (offset, len(written), f"`{written}` is not a duration: the units are "
                "ms, s, m (minutes), h and d, written right after the number", f"write `{fixed}`")
    fixed = f"{number}{SIZE_WORDS[str(word).lower()]}"
    return (offset, len(written), f"`{written}` is not a size: the units are B, KiB, "
            "MiB, GiB, TiB (powers of 1024) and KB, MB, GB, TB (powers of 1000), written right "
            "after the number, case as shown", f"write `{fixed}`")


def classify(text: str, err: UnexpectedInput, default: str) -> tuple[str, str]:
    """(message, hint) for a parse error: a known mistake, else what was expected."""
    token = getattr(err, "token", None)
    accepts = set(getattr(err, "accepts", None) or getattr(err, "expected", None) or ())
    if token is not None and str(token) in RESERVED and "NAME" in accepts:
        return (f"`{token}` is a reserved word and cannot be used as a name",
                "choose another name; reserved: " + ", ".join(RESERVED))
    if _at_top_level(err):
        if token is not None and token.type == "NAME" and _next_char(text, token) == "=":
            return MESSAGES["top_level_assign"]
        return (default + " at the top level",
                "a recipe is made of statements: forge, import, let, recipe, preset, phase, gate")
    label = _match(err)
    if label:
        return MESSAGES[label]
    return default, _expected_hint(err)


def _at_top_level(err: UnexpectedInput) -> bool:
    state = getattr(err, "state", None)
    return state is not None and len(getattr(state, "state_stack", ())) <= 1


def _next_char(text: str, token) -> str:
    rest = text[token.end_pos:].lstrip(" \t")
    return rest[:1]


def _signature(err: UnexpectedInput):
    state = getattr(err, "state", None)
    position = getattr(state, "position", None)
    token = getattr(err, "token", None)
    char = None if token is not None else getattr(err, "char", None)
    return position, getattr(token, "type", None), char


@lru_cache(maxsize=1)
def _example_table() -> dict:
    """Signature -> label, by parsing each known-bad snippet once."""
    table: dict = {}
    for label, snippets in EXAMPLES.items():
        for snippet in snippets:
            try:
                lark_parser().parse(snippet)
            except UnexpectedInput as e:
                sig = _signature(e)
                table.setdefault(sig, label)
                table.setdefault((sig[0], None, None), label)
            except Exception:  # an example that fails differently teaches nothing
                continue
    return table


def _match(err: UnexpectedInput) -> str | None:
    """A label for an exact (state, token) match; by state alone only for tokens that end or
    separate things (a stray character or operator gets the generic message instead)."""
    table = _example_table()
    sig = _signature(err)
    if sig in table:
        return table[sig]
    if sig[1] in _LOOSE_TOKENS:
        return table.get((sig[0], None, None))
    return None


_LOOSE_TOKENS = {"RBRACE", "RSQB", "RPAR", "$END", "_NL", "NAME", "INT", "FLOAT", "STRING",
                 "COMMA", "LBRACE"}


def _expected_hint(err: UnexpectedInput) -> str:
    expected = getattr(err, "accepts", None) or getattr(err, "expected", None) or set()
    names = sorted({_TOKEN_NAMES.get(t, f"`{t.lower()}`") for t in expected})
    if not names:
        return "check the syntax near here (see docs/language.md)"
    if len(names) > 8:
        names = names[:8] + ["..."]
    return "expected " + ", ".join(names)
