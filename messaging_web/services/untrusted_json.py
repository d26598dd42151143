"""JSON that anyone may have written (webhook bodies, an editor's sample values, a typed variable list)."""
from __future__ import annotations

import json


def parse_untrusted_json(text: str | bytes):
    """json.loads, with deep nesting refused like any other bad JSON: ValueError, never RecursionError.

    (100,000 `[` make the decoder recurse past Python's limit; it stops there safely, but a RecursionError
    is no error anyone catches as "not JSON".)
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
