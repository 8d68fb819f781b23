"""Light from a prompt: the words in lexicon.yaml turned into a plan of lights (key, fill, rim, ambient).

The parser is a longest-match scan, not a language model: it finds lexicon terms, groups them by
clause ("左侧暖光，右侧冷色补光" is two lights) and fills what the prompt leaves out from the
setting it names or from a soft studio default. Whatever it assumed or could not honour goes into
`LightPlan.notes`, so the caller can show it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from easel.engines.lazy import Lazy

Vec3 = tuple[float, float, float]

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")
NEUTRAL_KELVIN = 6500.0
DEFAULT_SOFTNESS = 0.55
DEFAULT_FILL = 0.18
DEFAULT_AMBIENT = 0.12
_BACKLIT_FILL = 0.35
# The soft key used when the prompt names no light: upper left, three-quarter, like a portrait studio.
DEFAULT_KEY_XY = (-1.0, 0.8)
_CLAUSE_BREAK = re.compile(
    r"[,.;!?\n\u3001\u3002\uff0c\uff1b\uff01\uff1f]|(?<![a-z])(?:and|with|plus|while)(?![a-z])|和|与|及|并且|同时"
)


@dataclass(frozen=True)
class Light:
    """One light. `direction` points from the subject toward the light in the viewer's frame:
    x to the image's right, y up, z toward the camera (unit length). `colour` is linear RGB with
    channel mean 1, so `intensity` alone sets the brightness."""

    role: str  # "key" | "fill" | "rim" | "ambient"
    direction: Vec3
    colour: Vec3
    intensity: float
    softness: float  # 0 = hard point light, 1 = fully diffuse


@dataclass
class LightPlan:
    """The lights a prompt asks for, plus what the prompt asked for that is not light."""

    lights: list[Light]
    setting: str | None = None
    exposure: float = 1.0  # multiplies the subject's mean brightness (night < 1 < bright)
    named_light: bool = False  # False when the prompt named no light and the default was used
    backdrop_colour: Vec3 | None = None  # linear RGB of a plain backdrop the prompt asked for
    scene_requests: list[str] = field(default_factory=list)  # background content that was not generated
    matched_terms: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lights_with_role(self, role: str) -> list[Light]:
        return [light for light in self.lights if light.role == role]

    @property
    def key(self) -> Light:
        return self.lights_with_role("key")[0]


@dataclass(frozen=True)
class _Term:
    text: str
    category: str
    entry: dict[str, Any]
    pattern: re.Pattern[str]


@dataclass
class _Lexicon:
    terms: list[_Term]  # longest first, so longer terms consume their span before shorter ones
    settings: dict[str, dict[str, Any]]


@dataclass
class _Clause:
    x: float = 0.0
    y: float = 0.0
    front: bool = False
    side: bool = False
    back: bool = False
    has_direction: bool = False
    colours: list[Vec3] = field(default_factory=list)
    second_colours: list[Vec3] = field(default_factory=list)
    role: str | None = None

    @property
    def names_light(self) -> bool:
        return self.has_direction or bool(self.colours) or self.role is not None


@dataclass
class _Scan:
    clauses: list[_Clause]
    qualities: list[dict[str, Any]] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)  # named in the prompt, in order
    implied_settings: list[str] = field(default_factory=list)  # implied by colour words (夕阳, 月光)
    scene_settings: list[str] = field(default_factory=list)  # implied by scene words (海边, 夜景)
    scenes: list[str] = field(default_factory=list)
    generic_scene: str | None = None
    backdrop: Vec3 | None = None
    backdrop_named: bool = False
    matched: list[str] = field(default_factory=list)


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s\-_]+", " ", text)


def _term_pattern(term: str) -> re.Pattern[str]:
    escaped = re.escape(term)
    if re.search(r"[a-z]", term):
        return re.compile(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
    return re.compile(escaped)


def load_lexicon(path: Path = LEXICON_PATH) -> _Lexicon:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms: list[_Term] = []
    for category in ("directions", "roles", "colours", "qualities", "settings", "scenes", "backdrops"):
        for entry in data.get(category, []):
            for raw in entry.get("terms", []):
                text = _normalise_text(str(raw)).strip()
                terms.append(_Term(text, category, entry, _term_pattern(text)))
    for raw in data.get("ignore", {}).get("terms", []):
        text = _normalise_text(str(raw)).strip()
        terms.append(_Term(text, "ignore", {}, _term_pattern(text)))
    terms.sort(key=lambda t: len(t.text), reverse=True)
    settings = {s["name"]: s for s in data.get("settings", [])}
    return _Lexicon(terms, settings)


_lexicon = Lazy(load_lexicon)


def kelvin_to_linear(kelvin: float) -> Vec3:
    """Colour of a black body, as linear RGB relative to 6500 K white, channel mean 1."""
    rgb = _normalise_mean(_srgb_to_linear(_kelvin_to_srgb(kelvin)))
    white = _normalise_mean(_srgb_to_linear(_kelvin_to_srgb(NEUTRAL_KELVIN)))
    return _normalise_mean(tuple(c / w for c, w in zip(rgb, white, strict=True)))  # type: ignore[arg-type]


def srgb_to_light_colour(rgb: list[float] | tuple[float, ...]) -> Vec3:
    """A named colour as a light colour: linear, channel mean 1, desaturated a little so a pure
    primary light does not turn the other channels black."""
    linear = _normalise_mean(_srgb_to_linear(tuple(float(c) for c in rgb)))
    return tuple(0.8 * c + 0.2 for c in linear)  # type: ignore[return-value]


def srgb_to_linear_colour(rgb: list[float] | tuple[float, ...]) -> Vec3:
    return _srgb_to_linear(tuple(float(c) for c in rgb))


def _kelvin_to_srgb(kelvin: float) -> Vec3:
    # Tanner Helland's fit of the Planckian locus, good to a few percent between 1000 K and 40000 K.
    t = max(1000.0, min(40000.0, kelvin)) / 100.0
    red = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    green = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    if t >= 66:
        blue = 255.0
    elif t <= 19:
        blue = 0.0
    else:
        blue = 138.5177312231 * math.log(t - 10) - 305.0447927307
    return tuple(min(255.0, max(0.0, c)) for c in (red, green, blue))  # type: ignore[return-value]


def _srgb_to_linear(rgb: tuple[float, ...]) -> Vec3:
    def channel(c: float) -> float:
        c = c / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return tuple(channel(c) for c in rgb)  # type: ignore[return-value]


def _normalise_mean(rgb: tuple[float, ...]) -> Vec3:
    mean = max(sum(rgb) / 3.0, 1e-6)
    return tuple(c / mean for c in rgb)  # type: ignore[return-value]


def _mix(a: Vec3, b: Vec3, t: float) -> Vec3:
    return tuple((1 - t) * x + t * y for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _unit(v: tuple[float, float, float]) -> Vec3:
    n = math.sqrt(sum(c * c for c in v)) or 1.0
    return (v[0] / n, v[1] / n, v[2] / n)


def _entry_colour(entry: dict[str, Any], rgb_key: str = "rgb") -> Vec3 | None:
    if rgb_key in entry:
        return srgb_to_light_colour(entry[rgb_key])
    if "kelvin" in entry and rgb_key == "rgb":
        # Softened like named colours: a 2400 K sunset must not zero the blue channel outright.
        return _mix(kelvin_to_linear(float(entry["kelvin"])), (1.0, 1.0, 1.0), 0.15)
    return None


def _find_terms(text: str, lexicon: _Lexicon) -> tuple[list[tuple[int, _Term]], list[bool]]:
    consumed = [False] * len(text)
    found: list[tuple[int, _Term]] = []
    for term in lexicon.terms:
        for match in term.pattern.finditer(text):
            start, end = match.span()
            if any(consumed[start:end]):
                continue
            consumed[start:end] = [True] * (end - start)
            found.append((start, term))
    found.sort(key=lambda item: item[0])
    return found, consumed


def _clause_breaks(text: str, consumed: list[bool]) -> list[int]:
    return [m.start() for m in _CLAUSE_BREAK.finditer(text) if not any(consumed[m.start() : m.end()])]


def _scan(text: str, lexicon: _Lexicon) -> _Scan:
    found, consumed = _find_terms(text, lexicon)
    breaks = _clause_breaks(text, consumed)
    scan = _Scan(clauses=[_Clause() for _ in range(len(breaks) + 1)])
    for start, term in found:
        clause = scan.clauses[sum(1 for b in breaks if b < start)]
        if term.category != "ignore":
            scan.matched.append(term.text)
        _apply_term(scan, clause, term, text, start)
    return scan


def _apply_term(scan: _Scan, clause: _Clause, term: _Term, text: str, start: int) -> None:
    entry = term.entry
    if term.category == "directions":
        clause.x += float(entry.get("x", 0.0))
        clause.y += float(entry.get("y", 0.0))
        clause.front |= bool(entry.get("front", False))
        clause.side |= bool(entry.get("side", False))
        clause.back |= bool(entry.get("back", False))
        clause.has_direction = True
    elif term.category == "roles":
        clause.role = clause.role or str(entry["role"])
    elif term.category == "colours":
        colour = _entry_colour(entry)
        if colour is not None:
            clause.colours.append(colour)
        second = _entry_colour(entry, "second_rgb")
        if second is not None:
            clause.second_colours.append(second)
        if "setting" in entry:
            scan.implied_settings.append(str(entry["setting"]))
    elif term.category == "qualities":
        scan.qualities.append(entry)
    elif term.category == "settings":
        scan.settings.append(str(entry["name"]))
    elif term.category == "scenes":
        _apply_scene(scan, term, text, start)
    elif term.category == "backdrops":
        scan.backdrop_named = True
        if "rgb" in entry:
            scan.backdrop = srgb_to_linear_colour(entry["rgb"])


def _apply_scene(scan: _Scan, term: _Term, text: str, start: int) -> None:
    if term.entry.get("generic"):
        # "背景是…" / "…background": keep the words around it, so the note says what was asked.
        snippet = text[max(0, start - 12) : start + len(term.text) + 12].strip(" ,.;，。；")
        scan.generic_scene = scan.generic_scene or snippet
        return
    scan.scenes.append(term.text)
    if "setting" in term.entry:
        scan.scene_settings.append(str(term.entry["setting"]))


class _Settings:
    """Defaults from the settings a prompt names (first), then those its words imply."""

    def __init__(self, names: list[str], lexicon: _Lexicon) -> None:
        self.entries = [lexicon.settings[n] for n in dict.fromkeys(names) if n in lexicon.settings]

    @property
    def name(self) -> str | None:
        return str(self.entries[0]["name"]) if self.entries else None

    def get(self, key: str, default: Any = None) -> Any:
        for entry in self.entries:
            if key in entry:
                return entry[key]
        return default


def _quality(scan: _Scan, settings: _Settings, key: str, default: float) -> float:
    for entry in reversed(scan.qualities):
        if key in entry:
            return float(entry[key])
    return float(settings.get(key, default))


def _product(scan: _Scan, settings: _Settings, key: str) -> float:
    value = float(settings.get(key, 1.0))
    for entry in scan.qualities:
        value *= float(entry.get(key, 1.0))
    return value


def _direction(clause: _Clause, notes: list[str]) -> Vec3:
    x, y = clause.x, clause.y
    if clause.side and x == 0.0:
        x = -1.0
        notes.append("side light without a side named; lit from the left")
    norm = math.hypot(x, y)
    hx, hy = (x / norm, y / norm) if norm > 0 else (0.0, 0.0)
    if clause.back:
        if norm == 0:
            return _unit((0.0, 0.35, -0.8))
        return _unit((hx, hy + 0.2, -0.6 if clause.side else -0.75))
    if clause.side:
        return _unit((hx, hy, 0.15))
    if clause.front:
        return _unit((hx * 0.4, hy * 0.4 + 0.25, 1.0))
    return _unit((hx, hy, 0.55))


def _setting_clause(settings: _Settings) -> _Clause | None:
    spec = settings.get("direction")
    if not spec:
        return None
    return _Clause(
        x=float(spec.get("x", 0.0)),
        y=float(spec.get("y", 0.0)),
        front=bool(spec.get("front", False)),
        side=bool(spec.get("side", False)),
        back=bool(spec.get("back", False)),
        has_direction=True,
    )


def _key_direction(key_clause: _Clause | None, settings: _Settings, notes: list[str], named: bool) -> Vec3:
    if key_clause is not None and key_clause.has_direction:
        return _direction(key_clause, notes)
    from_setting = _setting_clause(settings)
    if from_setting is not None:
        notes.append(f"no light direction named; key light direction from the '{settings.name}' setting")
        return _direction(from_setting, notes)
    if named:
        notes.append("no light direction named; key light from the upper left")
    return _direction(_Clause(x=DEFAULT_KEY_XY[0], y=DEFAULT_KEY_XY[1], has_direction=True), notes)


def _average(colours: list[Vec3]) -> Vec3:
    return _normalise_mean(tuple(sum(c[i] for c in colours) / len(colours) for i in range(3)))


def _setting_colour(settings: _Settings, kelvin_key: str, default_kelvin: float) -> Vec3:
    rgb = settings.get(kelvin_key.replace("kelvin", "rgb"))
    if rgb is not None:
        return srgb_to_light_colour(rgb)
    return kelvin_to_linear(float(settings.get(kelvin_key, default_kelvin)))


def _choose_key_clause(clauses: list[_Clause]) -> _Clause | None:
    lit = [c for c in clauses if c.names_light]
    for clause in lit:
        if clause.role == "key" or (clause.role is None and clause.has_direction):
            return clause
    for clause in lit:
        if clause.role is None:
            return clause
    return None


@dataclass
class _Levels:
    softness: float
    intensity: float
    fill: float
    ambient: float
    exposure: float


def _levels(scan: _Scan, settings: _Settings, named: bool) -> _Levels:
    softness = _quality(scan, settings, "softness", DEFAULT_SOFTNESS if named else 0.8)
    return _Levels(
        softness=softness,
        intensity=_product(scan, settings, "intensity"),
        fill=_quality(scan, settings, "fill", DEFAULT_FILL),
        ambient=_quality(scan, settings, "ambient", DEFAULT_AMBIENT),
        exposure=_product(scan, settings, "exposure"),
    )


def _rim_lights(key_dir: Vec3, colour: Vec3, intensity: float, softness: float) -> list[Light]:
    # Rims sit behind the subject; on the side opposite the key, or on both sides of a frontal key.
    sides = [-math.copysign(1.0, key_dir[0])] if abs(key_dir[0]) > 0.25 else [-1.0, 1.0]
    return [Light("rim", _unit((side * 0.85, 0.3, -0.45)), colour, intensity, min(softness, 0.5)) for side in sides]


def _secondary_light(clause: _Clause, key: Light, levels: _Levels, notes: list[str], spare: list[Vec3]) -> Light:
    colour = _average(clause.colours) if clause.colours else (spare.pop(0) if spare else key.colour)
    role = clause.role or "fill"
    if role == "rim":
        rim_clause = _Clause(x=clause.x, y=clause.y, side=clause.side, back=True, has_direction=True)
        direction = _direction(rim_clause, notes) if clause.has_direction else _unit((-key.direction[0], 0.3, -0.5))
        return Light("rim", direction, colour, 0.9 * key.intensity, min(levels.softness, 0.5))
    direction = _direction(clause, notes) if clause.has_direction else _unit((-key.direction[0] * 0.6, 0.1, 0.9))
    # A second light the prompt places (no role word) is nearly as strong as the key; a named fill is weaker.
    intensity = 0.7 * key.intensity if clause.role is None else max(levels.fill, 0.35) * key.intensity
    return Light("fill", direction, colour, intensity, max(levels.softness, 0.5))


def _background_notes(scan: _Scan) -> list[str]:
    notes = []
    if scan.scenes:
        words = "', '".join(dict.fromkeys(scan.scenes))
        notes.append(
            f"background content '{words}' was not generated: new scene content needs a generative "
            "engine (e.g. IC-Light), which is not configured; only the light was applied"
        )
    elif scan.generic_scene and not scan.backdrop_named:
        notes.append(
            f"the prompt describes background content ('{scan.generic_scene}') that was not generated: "
            "that needs a generative engine (e.g. IC-Light), which is not configured; only the light was applied"
        )
    return notes


def _scene_requests(scan: _Scan) -> list[str]:
    if scan.scenes:
        return list(dict.fromkeys(scan.scenes))
    return [scan.generic_scene] if scan.generic_scene and not scan.backdrop_named else []


def parse_light_prompt(prompt: str) -> LightPlan:
    """Parse a Chinese or English prompt into lights; never fails, falls back to a soft key light."""
    lexicon = _lexicon.get()
    scan = _scan(_normalise_text(prompt or ""), lexicon)
    settings = _Settings(scan.settings + scan.implied_settings + scan.scene_settings, lexicon)
    named = any(c.names_light for c in scan.clauses) or bool(scan.qualities or scan.settings or scan.implied_settings)
    notes: list[str] = []
    if not named and settings.name:
        notes.append(f"no light named in the prompt; used the light of the '{settings.name}' setting its scene implies")
    elif not named:
        notes.append("no light named in the prompt; used a soft key light from the upper left")
    levels = _levels(scan, settings, named)
    key_clause = _choose_key_clause(scan.clauses)
    # Colours named in clauses of their own ("rim light, blue and orange") go to the key first,
    # then to the other lights in order.
    spare = [
        _average(c.colours)
        for c in scan.clauses
        if c.colours and c is not key_clause and not c.has_direction and c.role is None
    ]
    key = _key_light(key_clause, spare, settings, levels, notes, named)
    extra = [c for c in scan.clauses if c.names_light and c is not key_clause and (c.has_direction or c.role)]
    lights = [key] + [_secondary_light(c, key, levels, notes, spare) for c in extra]
    spare = [c for clause in scan.clauses for c in clause.second_colours] + spare
    lights += _supporting_lights(scan, key_clause, key, lights, spare, settings, levels)
    return LightPlan(
        lights=lights,
        setting=settings.name,
        exposure=levels.exposure,
        named_light=named,
        backdrop_colour=scan.backdrop,
        scene_requests=_scene_requests(scan),
        matched_terms=scan.matched,
        notes=notes + _background_notes(scan),
    )


def _key_light(
    key_clause: _Clause | None,
    spare: list[Vec3],
    settings: _Settings,
    levels: _Levels,
    notes: list[str],
    named: bool,
) -> Light:
    if key_clause is not None and key_clause.colours:
        colour = _average(key_clause.colours)
    elif spare:  # a colour named in a clause of its own ("左侧光，暖色调") tints the key
        colour = spare.pop(0)
    else:
        colour = _setting_colour(settings, "kelvin", NEUTRAL_KELVIN)
    direction = _key_direction(key_clause, settings, notes, named)
    return Light("key", direction, colour, levels.intensity, levels.softness)


def _supporting_lights(
    scan: _Scan,
    key_clause: _Clause | None,
    key: Light,
    lights: list[Light],
    spare: list[Vec3],
    settings: _Settings,
    levels: _Levels,
) -> list[Light]:
    """The fill, rims and ambient the prompt did not place itself; `spare` colours go to them first."""
    added: list[Light] = []
    if not any(light.role == "fill" for light in lights) and levels.fill > 0:
        colour = spare[0] if spare else _mix(key.colour, (1.0, 1.0, 1.0), 0.5)
        direction = _unit((-key.direction[0] * 0.6, 0.1, 0.9))
        # Behind a back-lit subject a photographer adds fill (or a reflector), or the face goes black.
        fill = max(levels.fill, _BACKLIT_FILL) if key.direction[2] < 0 else levels.fill
        added.append(Light("fill", direction, colour, fill * levels.intensity, max(levels.softness, 0.6)))
    wants_rim = any(c.back and c is not key_clause for c in scan.clauses) or bool(settings.get("rim", False))
    if wants_rim and not any(light.role == "rim" for light in lights):
        colour = spare[0] if spare else key.colour
        added += _rim_lights(key.direction, colour, 0.8 * levels.intensity, levels.softness)
    if settings.get("ambient_kelvin") or settings.get("ambient_rgb"):
        ambient_colour = _setting_colour(settings, "ambient_kelvin", NEUTRAL_KELVIN)
    else:
        ambient_colour = _mix(key.colour, (1.0, 1.0, 1.0), 0.6)
    added.append(Light("ambient", (0.0, 1.0, 0.0), ambient_colour, levels.ambient, 1.0))
    return added
