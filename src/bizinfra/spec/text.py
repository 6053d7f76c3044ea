"""Small pieces of wording shared by the models and the loader."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

PathTuple = tuple[str | int, ...]

_FEW = 64  # up to this many names a hint compares the word with each, as difflib does
_SHORTLIST = 16  # beyond, with at most this many names that are one edit from it
_LONGEST_INDEXED = 64  # longer names are matched whole: their deletions would cost their length squared


class Vocabulary:
    """Known names, indexed so that a hint costs about the same however many names there are.

    Beyond a few names it keeps, for each name, the name with one character deleted (a deletion
    neighbourhood): two words one typo apart share such a deletion, so a misspelling finds its
    candidates in a dictionary lookup per character instead of a comparison with every name."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self._near: dict[str, list[str]] = {}
        if len(self.names) > _FEW:
            for name in self.names:
                for variant in _one_deleted(name):
                    self._near.setdefault(variant, []).append(name)

    def candidates(self, word: str) -> list[str]:
        """The names worth comparing `word` with."""
        if len(self.names) <= _FEW:
            return self.names
        found: dict[str, None] = {}
        for variant in _one_deleted(word):
            for name in self._near.get(variant, ()):
                found.setdefault(name)
                if len(found) >= _SHORTLIST:
                    return list(found)
        return list(found)


def _one_deleted(word: str) -> set[str]:
    if len(word) > _LONGEST_INDEXED:
        return {word}
    return {word, *(word[:index] + word[index + 1:] for index in range(len(word)))}


def did_you_mean(word: str, choices: Iterable[str] | Vocabulary) -> str:
    """A hint naming the closest choice, or '' when nothing is close."""
    vocabulary = choices if isinstance(choices, Vocabulary) else Vocabulary(choices)
    close = difflib.get_close_matches(word, vocabulary.candidates(word), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def dotted(path: PathTuple) -> str:
    """('services', 'api', 'calls', 0) -> 'services.api.calls[0]'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
