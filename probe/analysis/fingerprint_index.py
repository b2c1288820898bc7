"""Which fingerprints could match a text, found without running each one's regular expression.

Pure: no I/O. Almost every shipped signature is plain text written as a regular expression
(`Server: Barracuda/NGFirewall`, `fortinet\\.net`), or a few plain texts joined by `|`: such a
pattern matches exactly where one of its texts occurs. A word inside such a text (with a
non-word character on both sides, like `Barracuda`) is then a whole word of any text it
matches, so the index keys the fingerprint by one such word of each of its texts, and a text's
words are read once (one `re.findall`). Only the fingerprints whose word occurs, and those the
index cannot key, are then matched for real: the same matches, found without running 1,094
regular expressions over every page (about 2 ms per 3 KB page before).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

WORD = re.compile(r"\w+")
"""A word: what both a fingerprint's text and a page are split into."""
_SPECIAL = frozenset(".^$*+?{}[]|()\\")
"""Characters with a meaning in a regular expression (a lone `]` or `}` is literal in Python,
but treating it as special only leaves the fingerprint unkeyed)."""


class Indexable(Protocol):
    """What the index reads of a fingerprint."""

    @property
    def location(self) -> str:
        """Where the fingerprint looks (`body`, `response`, `header.<name>`)."""
        ...

    @property
    def pattern_type(self) -> str:
        """`full`, `prefix`, `contains` or `regexp`."""
        ...

    @property
    def pattern(self) -> str:
        """The pattern as written in the fingerprint file."""
        ...


def plain_text_of(pattern: str) -> str | None:
    """Return the text a regular expression matches exactly, when it is plain text (escaped
    punctuation allowed: `fortinet\\.net` -> `fortinet.net`); None when it uses other syntax.

    Only for patterns compiled without IGNORECASE or VERBOSE (as `fingerprints` compiles them:
    DOTALL, which changes nothing for plain text).
    """
    chars: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            # `\` before an ASCII letter or digit is a class, an escape or a back-reference;
            # before anything else it stands for that character itself (Python's `re`).
            if char.isascii() and char.isalnum():
                return None
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _SPECIAL:
            return None
        else:
            chars.append(char)
    return None if escaped else "".join(chars)


def _top_level_branches(pattern: str) -> list[str]:
    """Return the pattern split at its unescaped `|` (branches with groups or classes are not
    plain text anyway, so a `|` inside one only makes a branch that `plain_text_of` refuses)."""
    branches: list[str] = []
    start = 0
    escaped = False
    for position, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            branches.append(pattern[start:position])
            start = position + 1
    branches.append(pattern[start:])
    return branches


def plain_texts_of(fingerprint: Indexable) -> list[str] | None:
    """Return the texts one of which the fingerprint's text must contain to match, when its
    pattern is plain text or plain texts joined by `|`; None otherwise."""
    if fingerprint.pattern_type == "contains":
        return [fingerprint.pattern]
    if fingerprint.pattern_type != "regexp":
        return None
    texts: list[str] = []
    for branch in _top_level_branches(fingerprint.pattern):
        text = plain_text_of(branch)
        if text is None:
            return None
        texts.append(text)
    return texts


def inner_words(text: str) -> list[str]:
    """Return the words of `text` with a non-word character on both sides (not at its ends)."""
    return [
        found.group()
        for found in WORD.finditer(text)
        if found.start() > 0 and found.end() < len(text)
    ]


class CandidateIndex:
    """The fingerprints of one group (in order) keyed by an inner word of each of their texts."""

    def __init__(self, fingerprints: Sequence[Indexable]) -> None:
        texts = [plain_texts_of(fp) for fp in fingerprints]
        # Key each text by its word that the fewest fingerprints share, so that a common word
        # of pages ("title") selects few fingerprints.
        shared: Counter[str] = Counter()
        for alternatives in texts:
            for text in alternatives or ():
                shared.update(set(inner_words(text)))
        self._always: list[int] = []
        self._by_word: dict[str, dict[str, list[int]]] = {}
        for position, (fp, alternatives) in enumerate(zip(fingerprints, texts, strict=True)):
            keys = [
                min(words, key=lambda w: (shared[w], w)) if words else None
                for words in (inner_words(text) for text in alternatives or ())
            ]
            if not keys or None in keys:
                self._always.append(position)
                continue
            at = self._by_word.setdefault(fp.location, {})
            for key in dict.fromkeys(keys):
                assert key is not None
                at.setdefault(key, []).append(position)

    def candidates(self, words_at: Callable[[str], set[str]]) -> list[int]:
        """Return, in order, the positions of the fingerprints that could match: every one the
        index cannot rule out, given `words_at(location)`, the words of the texts there."""
        found = set(self._always)
        for location, by_word in self._by_word.items():
            for word in by_word.keys() & words_at(location):
                found.update(by_word[word])
        return sorted(found)


class RequiredText(NamedTuple):
    """Text that every match of a regular expression contains."""

    text: str
    is_ascii_case_folded: bool
    """Whether `text` is ASCII lower case, to look for in a text lowered the same way (the
    pattern ignores case): only texts that are ASCII throughout can be lowered exactly so."""


_GLOBAL_FLAGS = re.compile(r"\(\?([ims]+)\)")
"""A leading inline flag group that leaves literals literal (not `x`, `a`, `L` or `u`)."""
_QUANTIFIERS = frozenset("*+?{")


def has_top_level_branch(pattern: str) -> bool:
    """Return whether the pattern has a `|` outside every group and character class (then no
    single part of it is required)."""
    depth = 0
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            # A `]` right after `[` or `[^` is a literal member of the class.
            position += 2 if pattern.startswith("[^", position) else 1
            position += 1 if pattern.startswith("]", position) else 0
            while position < len(pattern) and pattern[position] != "]":
                position += 2 if pattern[position] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        position += 1
    return False


def required_text_of(pattern: str) -> RequiredText | None:
    """Return the plain text that opens the regular expression (after its global flags and
    any `^`), which every match contains; None when there is none (or under other flags).

    Only for patterns compiled with no flags but DOTALL (as `fingerprints` compiles them). A
    quantifier after the text takes its last character out of it; a `|` outside groups means
    nothing is required.
    """
    position = 0
    ignores_case = False
    while found := _GLOBAL_FLAGS.match(pattern, position):
        ignores_case = ignores_case or "i" in found.group(1)
        position = found.end()
    while pattern.startswith("^", position):
        position += 1
    if has_top_level_branch(pattern):
        return None
    chars: list[str] = []
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            escaped = pattern[position + 1 : position + 2]
            if not escaped:
                return None  # not a valid expression
            if escaped.isascii() and escaped.isalnum():
                break
            chars.append(escaped)
            position += 2
        elif char in _SPECIAL:
            if char in _QUANTIFIERS and chars:
                chars.pop()
            break
        else:
            chars.append(char)
            position += 1
    text = "".join(chars)
    if not text or (ignores_case and not text.isascii()):
        return None
    return RequiredText(text.lower() if ignores_case else text, ignores_case)
