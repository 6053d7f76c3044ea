"""Small pieces of wording shared by the models and the loader."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

PathTuple = tuple[str | int, ...]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def dotted(path: PathTuple) -> str:
    """('services', 'api', 'calls', 0) -> 'services.api.calls[0]'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
