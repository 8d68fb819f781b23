"""Open CJK fonts from the system (Debian `fonts-noto-cjk`): Noto Sans / Noto Serif CJK SC.

Files are found by name in the usual font folders; the face inside each .ttc collection is found
by its family name, so the Simplified Chinese face is used whatever its index in the file.

Noto CJK has no emoji and few symbols: a title with 🎉 or ★ would show a tofu box. Characters the main
face lacks are drawn glyph by glyph from fallback faces (Debian `fonts-symbola`: monochrome outlines of
the Unicode emoji and symbols, which the text masks need; then DejaVu Sans), chosen by each face's cmap.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont

SANS = "Noto Sans CJK SC"
SERIF = "Noto Serif CJK SC"

FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/opentype",
    "/usr/share/fonts/truetype",
    "/usr/share/fonts",
    "/usr/local/share/fonts",
)

# weight name -> file name; Regular and Bold are the weights fonts-noto-cjk ships.
_FAMILY_FILES: dict[str, dict[str, str]] = {
    SANS: {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"},
    SERIF: {"Regular": "NotoSerifCJK-Regular.ttc", "Bold": "NotoSerifCJK-Bold.ttc"},
}
# tried in order for characters the main face has no glyph for
FALLBACK_FILES: tuple[str, ...] = ("Symbola_hint.ttf", "Symbola.ttf", "DejaVuSans.ttf")
# emoji presentation selectors and joiners: a monochrome face draws the base character, these draw tofu
INVISIBLE = frozenset({"\ufe0e", "\ufe0f", "\u200d"})
_BOLD_WORDS = ("bold", "heavy", "black", "medium", "semibold", "demibold")
_MAX_FACES = 16
_lock = threading.Lock()


class FontMissingError(RuntimeError):
    """No usable CJK font is installed."""


def weight_name(weight: str) -> str:
    """A layer's font_weight ("bold", "Medium", "normal", "Regular", "light" ...) to an installed weight."""
    return "Bold" if any(word in weight.lower() for word in _BOLD_WORDS) else "Regular"


def available_families() -> list[str]:
    """Families with both weights installed, sans first."""
    return [family for family in _FAMILY_FILES if all(_find_face(family, w) for w in ("Regular", "Bold"))]


def resolve_family(family: str) -> str:
    """The installed family to draw a requested one with (unknown or missing families fall back to sans)."""
    families = available_families()
    if not families:
        raise FontMissingError(
            "no CJK font found: install Debian's fonts-noto-cjk (NotoSansCJK-*.ttc) into one of "
            + ", ".join(FONT_DIRS)
        )
    return family if family in families else families[0]


def load_font(family: str, weight: str, size: int) -> ImageFont.FreeTypeFont:
    """A FreeType font at a pixel size. Loading is cheap (well under a millisecond) and not shared
    between threads, because one FreeType face must not be used by two threads at once."""
    face = _find_face(resolve_family(family), weight_name(weight))
    if face is None:
        raise FontMissingError(f"font file for {family} {weight} not found")
    path, index = face
    return ImageFont.truetype(path, size=max(1, int(size)), index=index)


@lru_cache(maxsize=32)
def _find_face(family: str, weight: str) -> tuple[str, int] | None:
    file_name = _FAMILY_FILES.get(family, {}).get(weight)
    if file_name is None:
        return None
    for folder in FONT_DIRS:
        path = Path(folder) / file_name
        if path.is_file():
            index = _face_index(str(path), family)
            if index is not None:
                return str(path), index
    return None


def _face_index(path: str, family: str) -> int | None:
    with _lock:
        for index in range(_MAX_FACES):
            try:
                name = ImageFont.truetype(path, size=12, index=index).getname()[0]
            except OSError:
                return None
            if name == family:
                return index
    return None


def text_runs(text: str, family: str, weight: str, size: int) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    """`text` split into runs, each with the face that has its glyphs: the main face where it can, a
    fallback face for what it lacks (the main face when none has it)."""
    main_face = _find_face(resolve_family(family), weight_name(weight))
    if main_face is None:
        raise FontMissingError(f"font file for {family} {weight} not found")
    faces = [main_face, *_fallback_faces()]
    runs: list[tuple[str, tuple[str, int]]] = []
    for char in text:
        if char in INVISIBLE:
            continue
        face = next((f for f in faces if ord(char) in _cmap(*f)), main_face) if not char.isspace() else None
        if runs and (face is None or runs[-1][1] == face):
            runs[-1] = (runs[-1][0] + char, runs[-1][1])
        else:
            runs.append((char, face or main_face))
    return [(run, ImageFont.truetype(path, size=max(1, int(size)), index=index)) for run, (path, index) in runs]


@lru_cache(maxsize=1)
def _fallback_faces() -> tuple[tuple[str, int], ...]:
    found = []
    for name in FALLBACK_FILES:
        for folder in FONT_DIRS:
            matches = sorted(Path(folder).rglob(name)) if Path(folder).is_dir() else []
            if matches:
                found.append((str(matches[0]), 0))
                break
    return tuple(found)


@lru_cache(maxsize=16)
def _cmap(path: str, index: int) -> frozenset[int]:
    with _lock:
        font = TTFont(path, fontNumber=index, lazy=True)
        try:
            return frozenset(font.getBestCmap() or {})
        finally:
            font.close()
