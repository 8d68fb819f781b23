"""Which writing system a recognised string belongs to, and splitting mixed lines into runs."""

from __future__ import annotations

from typing import Literal

Script = Literal["chinese", "latin", "other"]
SCRIPTS: tuple[Script, ...] = ("chinese", "latin", "other")

_CJK_RANGES = (
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B..G
    (0x3000, 0x303F),  # CJK symbols and punctuation (。、《》)
    (0xFF00, 0xFFEF),  # full-width forms (，：！)
)


def char_script(ch: str) -> Script | None:
    """The script of one character; None for neutral characters (digits, spaces, ASCII punctuation)."""
    code = ord(ch)
    if any(lo <= code <= hi for lo, hi in _CJK_RANGES):
        return "chinese"
    if ch.isalpha():
        # Latin-1 letters and Latin Extended-A/B (é, ß, ł ...) count as Latin; other alphabets do not.
        return "latin" if code < 0x0250 else "other"
    return None


def text_script(text: str) -> Script:
    """The majority script of a string; strings of digits and symbols only are "other"."""
    counts = {name: 0 for name in SCRIPTS}
    for ch in text:
        script = char_script(ch)
        if script is not None:
            counts[script] += 1
    best = max(SCRIPTS, key=lambda name: counts[name])
    return best if counts[best] > 0 else "other"


def script_runs(pieces: list[str]) -> list[tuple[Script, int, int]]:
    """Group consecutive pieces (characters or words) of one line by script: (script, first, end).

    Neutral pieces (digits, punctuation) join the run before them, or the run after them at the start
    of a line, so "版权所有 2024" stays one Chinese run and "© 2024 Example" one Latin run.
    """
    scripts: list[Script | None] = [_piece_script(piece) for piece in pieces]
    known = [s for s in scripts if s is not None]
    if not known:
        return [("other", 0, len(pieces))] if pieces else []
    current: Script = known[0]
    filled: list[Script] = []
    for script in scripts:
        current = script if script is not None else current
        filled.append(current)
    runs: list[tuple[Script, int, int]] = []
    start = 0
    for i in range(1, len(filled) + 1):
        if i == len(filled) or filled[i] != filled[start]:
            runs.append((filled[start], start, i))
            start = i
    return runs


def _piece_script(piece: str) -> Script | None:
    scripts = {char_script(ch) for ch in piece} - {None}
    if not scripts:
        return None
    return text_script(piece)
