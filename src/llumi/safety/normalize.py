"""Normalise text once, before any rule runs, and keep a map back to the original characters.

Steps, in order (each is cheap; plain ASCII text with no tricks takes the fast path):

1. Unicode folding: lower case, accents and fancy letters folded to ASCII (NFKD), curly quotes to
   straight ones, and a few emoji replaced by the word they stand for (``💊`` -> ``pills``, ``🔪`` ->
   ``knife``, ``🪦`` -> ``grave``); other emoji become a space.
2. Leetspeak inside words that also contain letters: ``k1ll`` -> ``kill``, ``$uicide`` -> ``suicide``,
   ``d13`` -> ``die``. Number-and-unit tokens (``3am``, ``10mg``, ``2nd``) are left alone, so
   quantities stay quantities.
3. Spacing tricks: runs of three or more single letters separated by one space, dot, dash or
   underscore are joined (``k i l l`` -> ``kill``, ``s.u.i.c.i.d.e`` -> ``suicide``).
4. Repeated letters: runs of three or more of the same letter shrink to two (``killlll`` -> ``kill``,
   ``sooooo`` -> ``soo``); rules that must survive stretched vowels (``diiiie``) allow them.

``Normalized.span(start, end)`` maps a span of the normalised text back to the original text, so the
evidence a rule shows is always the person's own words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Emoji (and a few symbols) that carry meaning for the rules; others are replaced by a space.
EMOJI_WORDS = {
    "\U0001F48A": " pills ",  # pill
    "\U0001F52A": " knife ",  # kitchen knife
    "\U0001F5E1": " knife ",  # dagger
    "\U0001FA92": " razor ",  # razor
    "\U0001F52B": " gun ",  # pistol
    "\U0001FAA6": " grave ",  # headstone
    "\u26B0": " coffin ",  # coffin
    "\U0001FAA2": " rope ",  # knot
    "\U0001F480": " skull ",  # skull (often "I'm dead" = laughing)
    "\u2620": " skull ",
    "\U0001F602": " lol ",  # tears of joy
    "\U0001F923": " lol ",  # rolling on the floor laughing
    "\U0001F606": " lol ",
    "\U0001F639": " lol ",
    "\U0001F3B5": " \u266a ",  # musical note: keep as a lyric marker
    "\U0001F3B6": " \u266a ",
    "\u266b": " \u266a ",
    "\u266a": " \u266a ",
}
_PUNCT_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ", "\u2026": "...",
}
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"})
# A token that mixes letters with leet characters; leet chars at the ends count only when a letter is beside them.
_HAS_LEET = re.compile(r"[0-9$@!|]")
_NUMBER_UNIT = re.compile(r"^\d+(?:st|nd|rd|th|s|am|pm|mg|ml|g|kg|lb|lbs|k|m|x|h|hr|hrs|min|yo|ft|in|cm|mm|km|mph|yr|yrs|d)?$")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SPACED = re.compile(r"(?<![a-z])(?:[a-z][ ._\-*]){2,}[a-z](?![a-z])")
# A quick test for "could _SPACED match": two patterns, because an alternation with a "^" branch keeps
# the regex engine from skipping ahead to the separator characters.
_SPACED_INNER = re.compile(r"[ ._\-*][a-z][ ._\-*][a-z](?:[ ._\-*]|$)")
_SPACED_START = re.compile(r"[a-z][ ._\-*][a-z][ ._\-*]")


def _spaced_quick(low: str) -> bool:
    return _SPACED_INNER.search(low) is not None or _SPACED_START.match(low) is not None
_REPEAT = re.compile(r"([a-z])\1{2,}")


@dataclass(frozen=True)
class Normalized:
    """The normalised text and, when it differs in length from the original, a per-character map."""

    original: str
    text: str
    offsets: tuple[int, ...] | None  # offsets[i] = index in original of normalised char i; None = identity

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that normalised ``text[start:end]`` came from."""
        if self.offsets is None:
            return start, end
        if end <= start:
            o = self.offsets[start] if start < len(self.offsets) else len(self.original)
            return o, o
        return self.offsets[start], self.offsets[end - 1] + 1

    def quote(self, start: int, end: int) -> str:
        a, b = self.span(start, end)
        return self.original[a:b]


def _fold_char(c: str) -> str:
    if c in EMOJI_WORDS:
        return EMOJI_WORDS[c]
    if c in _PUNCT_FOLD:
        return _PUNCT_FOLD[c]
    cat = unicodedata.category(c)
    if cat == "So" or cat == "Cs" or c in "\ufe0f\u200d":
        return " "
    decomposed = unicodedata.normalize("NFKD", c)
    out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return out.lower() if out.isascii() else (out.lower() if out.isalpha() else " ")


def _leet_token(tok: str) -> str:
    if not _HAS_LEET.search(tok) or _NUMBER_UNIT.match(tok.rstrip("!")):
        return tok
    # Only translate when letters make up a good part of the token (avoid "1st2nd", "24x7").
    letters = sum(ch.isalpha() for ch in tok)
    if letters < 2 or letters < len(tok) / 3:
        return tok
    # Trailing "!" is punctuation, not an "i".
    stripped = tok.rstrip("!")
    return stripped.translate(_LEET) + tok[len(stripped):]


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching (see the module docstring)."""
    if text.isascii():
        low = text.lower()
        offsets: list[int] | None = None
    else:
        pieces: list[str] = []
        offsets = None
        pos = 0
        for m in _NON_ASCII.finditer(text):
            i = m.start()
            pieces.append(text[pos:i].lower())
            f = _fold_char(m.group(0))
            if len(f) != 1 and offsets is None:
                offsets = list(range(pos))  # every earlier character kept its length: identity so far
            if offsets is not None:
                offsets.extend(range(pos, i))
                offsets.extend([i] * len(f))
            pieces.append(f)
            pos = i + 1
        pieces.append(text[pos:].lower())
        if offsets is not None:
            offsets.extend(range(pos, len(text)))
        low = "".join(pieces)
    # 2. leetspeak: one character for one, so the offsets do not move.
    if _HAS_LEET.search(low):
        low = _apply_leet(low)
    # 3 and 4 delete characters: rebuild the offsets only when they fire.
    for quick, pattern, repl in ((_spaced_quick, _SPACED, _join_spaced), (_has_triple, _REPEAT, _shrink_repeat)):
        if not quick(low):
            continue
        matches = list(pattern.finditer(low))
        if not matches:
            continue
        if offsets is None:
            offsets = list(range(len(low)))
        new_text: list[str] = []
        new_off: list[int] = []
        pos = 0
        for m in matches:
            new_text.append(low[pos:m.start()])
            new_off.extend(offsets[pos:m.start()])
            kept = repl(m)  # indices (relative to the match) of the characters kept
            new_text.append("".join(m.group(0)[k] for k in kept))
            new_off.extend(offsets[m.start() + k] for k in kept)
            pos = m.end()
        new_text.append(low[pos:])
        new_off.extend(offsets[pos:])
        low = "".join(new_text)
        offsets = new_off
    return Normalized(text, low, tuple(offsets) if offsets is not None else None)


_TRIPLES = tuple(c * 3 for c in "abcdefghijklmnopqrstuvwxyz")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789$@!|")


def _has_triple(low: str) -> bool:
    return any(t in low for t in _TRIPLES)  # 26 substring scans beat one backreference regex


def _apply_leet(low: str) -> str:
    """Translate leetspeak in the tokens around each digit or symbol (one character for one)."""
    n = len(low)
    chars: list[str] | None = None
    last_end = -1
    for m in _HAS_LEET.finditer(low):
        i = m.start()
        if i < last_end:
            continue
        a = i
        while a > 0 and low[a - 1] in _TOKEN_CHARS:
            a -= 1
        b = i + 1
        while b < n and low[b] in _TOKEN_CHARS:
            b += 1
        last_end = b
        tok = low[a:b]
        new = _leet_token(tok)
        if new != tok:
            if chars is None:
                chars = list(low)
            chars[a:b] = new
    return "".join(chars) if chars is not None else low


def _join_spaced(m: re.Match) -> list[int]:
    return list(range(0, len(m.group(0)), 2))


def _shrink_repeat(m: re.Match) -> list[int]:
    return [0, len(m.group(0)) - 1]  # keep the last, so a span ends where the stretched run ends
