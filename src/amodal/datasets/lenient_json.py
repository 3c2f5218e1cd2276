"""Reading the JSON and text files datasets come with, tolerating what editors and tools leave
in them: a byte-order mark, trailing commas. A missing or broken file raises an error naming it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# A JSON string literal (kept as it is) or a comma followed only by whitespace and a closer.
# Matching strings first is what keeps a ", ]" inside a string value untouched.
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(?=\s*[\]}])', re.DOTALL)


def strip_trailing_commas(text: str) -> str:
    """`text` with every comma that directly precedes `]` or `}` replaced by a space.

    A space rather than nothing keeps line and column numbers of later parse errors true.
    """
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or " ", text)


def read_json_lenient(path) -> object:
    """Parse a JSON file, tolerating trailing commas; a broken file raises a ValueError naming it."""
    text = read_text(path, "JSON file")
    try:
        return json.loads(strip_trailing_commas(text))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); "
            "fix the file there (trailing commas are already tolerated)"
        ) from err


def read_text(path, what: str) -> str:
    """The text of a dataset file; `what` names the kind of file in the error when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}; check the path in the dataset spec")
    # utf-8-sig: files saved by Windows editors often start with a byte-order mark.
    return path.read_text(encoding="utf-8-sig")
