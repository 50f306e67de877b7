"""Generate docs/diagnostics.md from the code table (a test keeps them in sync)."""

from forgelang.diagnostics import CODES


def diagnostics_markdown() -> str:
    lines = ["# Diagnostics", "",
             "Every problem a user can cause is reported as "
             "`FILE:LINE:COL: error[CODE]: message`, then the source line with the span",
             "underlined, then a hint. `forge validate --json` gives the same data with ranges",
             "(`{\"severity\", \"code\", \"title\", \"message\", \"hint\", \"range\": {\"file\", "
             "\"start\": {\"line\", \"column\", \"offset\"}, \"end\": {...}}}`).",
             "Exit codes: 0 valid, 1 invalid, 2 usage error.", "",
             "Generated from `forgelang/diagnostics.py` by "
             "`python -m forgelang.diagnostics_doc > docs/diagnostics.md`.", "",
             "| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {title} |" for code, title in CODES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(diagnostics_markdown(), end="")
