"""Reading a background prompt: can a studio backdrop answer it, or does it need a generative model?

A prompt is answerable without a generative model when every meaningful word in it is a backdrop
word (solid colour, gradient, studio, seamless paper), a colour (Chinese or English, with light /
dark / pastel / muted modifiers, or #hex) or a word that only describes quality or mood ("高清",
"柔和的光线", "clean", "professional"). Anything else ("山脉", "晚霞", "beach", "wooden table")
is scene content: the words are returned so the caller can say exactly what needs a generative
engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from easel.engines.compose.colour import RGB, mix

BackdropKind = Literal["solid", "gradient", "studio"]

WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GREY: RGB = (128, 128, 128)
DEFAULT_STUDIO: RGB = (232, 231, 228)


@dataclass(frozen=True)
class BackdropSpec:
    """What the prompt asked for. colours are sRGB in prompt order (at least one)."""

    kind: BackdropKind
    colours: tuple[RGB, ...]
    colour_names: tuple[str, ...]
    matched: tuple[str, ...]


COLOURS_ZH: dict[str, RGB] = {
    "纯白": (255, 255, 255), "白": (255, 255, 255), "米白": (244, 239, 228), "象牙白": (250, 246, 234),
    "奶白": (250, 246, 236), "乳白": (250, 247, 238), "黑": (22, 22, 24), "灰": (158, 158, 160),
    "银": (200, 202, 206), "金": (212, 175, 96), "香槟": (234, 215, 180), "红": (200, 38, 44),
    "大红": (215, 25, 32), "中国红": (200, 16, 46), "酒红": (118, 24, 40), "玫红": (214, 37, 109),
    "玫瑰": (228, 120, 140), "粉": (246, 184, 196), "粉红": (244, 166, 184), "藕粉": (226, 190, 190),
    "樱花粉": (250, 210, 220), "橙": (244, 138, 46), "橘": (244, 138, 46), "杏": (247, 209, 172),
    "珊瑚": (250, 128, 114), "黄": (246, 208, 66), "鹅黄": (255, 236, 150), "柠檬黄": (250, 234, 86),
    "米": (236, 224, 202), "卡其": (196, 178, 146), "驼": (192, 154, 108), "棕": (122, 82, 52),
    "褐": (122, 82, 52), "咖啡": (112, 78, 56), "奶茶": (212, 182, 150), "奶油": (250, 240, 212),
    "绿": (68, 160, 92), "墨绿": (28, 78, 58), "薄荷": (170, 230, 202), "牛油果": (192, 210, 122),
    "橄榄": (128, 128, 62), "青": (40, 168, 168), "蒂芙尼蓝": (129, 216, 208), "蓝": (58, 118, 210),
    "天蓝": (135, 200, 240), "湖蓝": (58, 158, 200), "宝蓝": (30, 72, 180), "藏青": (30, 40, 82),
    "海军蓝": (30, 40, 82), "雾霾蓝": (140, 160, 182), "雾蓝": (150, 170, 190), "克莱因蓝": (0, 47, 167),
    "紫": (140, 90, 190), "薰衣草": (190, 170, 222), "香芋紫": (182, 160, 210),
}

COLOURS_EN: dict[str, RGB] = {
    "white": (255, 255, 255), "pure white": (255, 255, 255), "off white": (244, 239, 228),
    "ivory": (250, 246, 234), "cream": (250, 240, 212), "black": (22, 22, 24), "gray": (158, 158, 160),
    "grey": (158, 158, 160), "charcoal": (54, 58, 62), "silver": (200, 202, 206), "gold": (212, 175, 96),
    "champagne": (234, 215, 180), "red": (200, 38, 44), "burgundy": (118, 24, 40), "maroon": (118, 24, 40),
    "rose": (228, 120, 140), "pink": (246, 184, 196), "coral": (250, 128, 114), "peach": (250, 200, 170),
    "orange": (244, 138, 46), "yellow": (246, 208, 66), "beige": (236, 224, 202), "khaki": (196, 178, 146),
    "tan": (210, 180, 140), "camel": (192, 154, 108), "brown": (122, 82, 52), "green": (68, 160, 92),
    "mint": (170, 230, 202), "sage": (176, 192, 160), "olive": (128, 128, 62), "teal": (30, 130, 130),
    "cyan": (40, 190, 200), "turquoise": (64, 200, 190), "blue": (58, 118, 210), "sky blue": (135, 200, 240),
    "baby blue": (170, 210, 240), "navy": (30, 40, 82), "navy blue": (30, 40, 82), "royal blue": (30, 72, 180),
    "purple": (140, 90, 190), "violet": (140, 90, 190), "lavender": (190, 170, 222), "lilac": (200, 170, 220),
    "magenta": (214, 37, 140),
}

Modifier = Literal["light", "dark", "pastel", "muted"]
MODIFIERS_ZH: dict[str, Modifier] = {
    "浅": "light", "淡": "light", "亮": "light", "深": "dark", "暗": "dark", "马卡龙": "pastel",
    "莫兰迪": "muted", "低饱和": "muted",
}
MODIFIERS_EN: dict[str, Modifier] = {
    "light": "light", "pale": "light", "dark": "dark", "deep": "dark", "pastel": "pastel",
    "muted": "muted", "dusty": "muted",
}

KIND_WORDS_ZH: dict[str, BackdropKind] = {
    "纯色": "solid", "单色": "solid", "素色": "solid", "净色": "solid", "白底": "solid", "纯": "solid",
    "渐变": "gradient", "渐层": "gradient", "过渡色": "gradient", "影棚": "studio", "摄影棚": "studio",
    "棚拍": "studio", "无缝": "studio", "背景纸": "studio", "背景布": "studio", "地面": "studio",
}
KIND_WORDS_EN: dict[str, BackdropKind] = {
    "solid": "solid", "plain": "solid", "flat": "solid", "gradient": "gradient", "ombre": "gradient",
    "studio": "studio", "seamless": "studio", "backdrop": "studio", "sweep": "studio", "cyclorama": "studio",
    "infinity": "studio", "floor": "studio", "paper": "studio",
}

# Words that describe quality, mood or the photo itself, never scene content.
FILLER_ZH = (
    "背景图", "背景", "底色", "颜色", "色调", "色系", "色", "的", "和", "与", "及", "或", "跟", "配", "搭配",
    "风格", "简约", "简洁", "干净", "纯净", "高级感", "高级", "质感", "柔和", "柔光", "光线", "灯光", "光影",
    "打光", "明亮", "自然", "高清", "清晰", "丰富", "细节", "电商", "产品图", "产品", "商品", "主图", "拍摄",
    "摄影", "专业", "一个", "一张", "带有", "带", "有", "是", "用", "使用", "为", "主体", "高质量", "质量",
    "写实", "真实", "图片", "照片", "效果", "氛围", "温馨", "舒适", "大气", "时尚", "现代", "极简", "空白",
    "留白", "从", "到", "至", "过渡", "画面", "整体", "在", "上", "中", "里", "下", "之", "很", "非常", "超",
    "唯美", "精致", "优雅", "轻奢", "简单", "柔美", "均匀", "阴影", "投影", "倒影", "光泽", "柔", "亮光",
    "温暖", "清新", "冷", "暖", "调", "系", "底", "布", "面", "墙", "墙面",
)
FILLER_EN = frozenset({
    "a", "an", "the", "with", "and", "or", "of", "in", "on", "to", "from", "into", "background", "backgrounds",
    "color", "colour", "colored", "coloured", "tone", "toned", "tones", "clean", "simple", "minimal",
    "minimalist", "minimalistic", "high", "quality", "professional", "product", "products", "photo",
    "photography", "shot", "shots", "ecommerce", "e", "commerce", "commercial", "lighting", "lit", "soft",
    "softly", "hd", "4k", "8k", "detailed", "details", "realistic", "photorealistic", "elegant", "premium",
    "luxury", "modern", "smooth", "subtle", "natural", "bright", "empty", "blank", "shadow", "shadows",
    "wall", "surface", "style", "styled", "look", "looking", "even", "diffuse", "diffused", "gentle",
    "beautiful", "nice", "pure", "neutral", "warm", "cool", "very", "for", "image", "picture", "render",
    "highly", "sharp", "is", "as", "that", "this", "its", "it", "light", "lights", "at", "by", "against",
    "behind", "under", "over", "around", "only", "just", "set", "setting", "colors", "colours", "toward",
    "towards", "tinted", "hue", "tint", "moody", "dramatic", "cozy", "fresh", "vivid", "vibrant", "calm",
    "rich", "stylish", "sleek",
})

_LEXICON_ZH = frozenset([*COLOURS_ZH, *MODIFIERS_ZH, *KIND_WORDS_ZH, *FILLER_ZH])
_LONGEST_ZH = max(len(word) for word in _LEXICON_ZH)
_STOP_ZH = set("的和与及或、,。,.;;:: !!??~ 　")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_EN_TOKEN = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class _Reading:
    kinds: list[BackdropKind]
    colours: list[tuple[int, RGB, str]]  # (position in prompt, colour, name as written)
    matched: list[str]
    leftovers: list[str]
    modifiers: list[Modifier]  # every modifier seen, so "深色背景" with no colour still reads as dark


def parse_backdrop_prompt(prompt: str) -> BackdropSpec | None:
    """The backdrop a prompt asks for, or None when it asks for scene content.

    An empty prompt, or one with only quality words, gives a neutral light-grey studio.
    """
    reading = _read(prompt)
    if reading.leftovers:
        return None
    colours = [c for _, c, _ in sorted(reading.colours, key=lambda item: item[0])]
    names = [n for _, _, n in sorted(reading.colours, key=lambda item: item[0])]
    if not colours:
        colours = [_lone_modifier_colour(reading.modifiers)]
        names = []
    kind = _choose_kind(reading.kinds, colours)
    if not reading.colours and kind == "solid" and not reading.modifiers:
        colours = [WHITE]
    return BackdropSpec(kind, tuple(colours), tuple(names), tuple(reading.matched))


def needs_generative(prompt: str | None, *, has_reference_edge: bool = False) -> str | None:
    """Why this request needs a generative background engine, or None when a studio backdrop does."""
    if has_reference_edge:
        return ("reference_edge elements ask for generated foreground/background content in given shapes; "
                "that needs a generative background engine")
    leftovers = _read(prompt or "").leftovers
    if not leftovers:
        return None
    return ("ref_prompt asks for scene content that a studio backdrop cannot show ("
            + ", ".join(leftovers[:8]) + "); that needs a generative background engine")


def _choose_kind(kinds: list[BackdropKind], colours: list[RGB]) -> BackdropKind:
    if "gradient" in kinds:
        return "gradient"
    if "studio" in kinds:
        return "studio"
    if "solid" in kinds:
        return "solid"
    # Two named colours without a kind word read as a two-tone gradient ("蓝白背景"); a plain white
    # background is the e-commerce pure-white standard; any other single colour gets a studio sweep.
    if len(colours) >= 2:
        return "gradient"
    return "solid" if colours[0] == WHITE else "studio"


def _lone_modifier_colour(modifiers: list[Modifier]) -> RGB:
    if "dark" in modifiers:
        return (44, 44, 48)
    if "light" in modifiers or "pastel" in modifiers:
        return (240, 239, 236)
    return DEFAULT_STUDIO


def _read(prompt: str) -> _Reading:
    reading = _Reading([], [], [], [], [])
    text = prompt.strip()
    for match in _HEX.finditer(text):
        digits = match.group(0)[1:]
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        reading.colours.append((match.start(), rgb, match.group(0)))
        reading.matched.append(match.group(0))
    text = _HEX.sub(" ", text)
    _read_chinese(text, reading)
    _read_english(text.lower(), reading)
    return reading


def _read_chinese(text: str, reading: _Reading) -> None:
    pending: Modifier | None = None
    leftover = ""
    i = 0
    while i < len(text):
        if not _CJK.match(text[i]):
            leftover = _flush(leftover, reading)
            i += 1
            continue
        word = next((text[i:i + n] for n in range(_LONGEST_ZH, 0, -1) if text[i:i + n] in _LEXICON_ZH), None)
        if word is None:
            leftover += text[i]
            i += 1
            continue
        leftover = _flush(leftover, reading)
        pending = _take_chinese_word(word, i, pending, reading)
        i += len(word)
    _flush(leftover, reading)


def _take_chinese_word(word: str, position: int, pending: Modifier | None, reading: _Reading) -> Modifier | None:
    if word in MODIFIERS_ZH:
        reading.matched.append(word)
        reading.modifiers.append(MODIFIERS_ZH[word])
        return MODIFIERS_ZH[word]
    if word in COLOURS_ZH:
        reading.colours.append((position, _modify(COLOURS_ZH[word], pending), word))
        reading.matched.append(word)
        if word == "纯白":
            reading.kinds.append("solid")
        return None
    if word in KIND_WORDS_ZH:
        reading.kinds.append(KIND_WORDS_ZH[word])
        reading.matched.append(word)
    return pending


def _flush(leftover: str, reading: _Reading) -> str:
    word = "".join(ch for ch in leftover if ch not in _STOP_ZH)
    if word:
        reading.leftovers.append(word)
    return ""


def _read_english(text: str, reading: _Reading) -> None:
    tokens = [(m.group(0), m.start()) for m in _EN_TOKEN.finditer(text) if not _CJK.search(m.group(0))]
    pending: Modifier | None = None
    i = 0
    while i < len(tokens):
        word, position = tokens[i]
        pair = f"{word} {tokens[i + 1][0]}" if i + 1 < len(tokens) else ""
        if pair in COLOURS_EN:
            reading.colours.append((position, _modify(COLOURS_EN[pair], pending), pair))
            reading.matched.append(pair)
            pending, i = None, i + 2
            continue
        pending = _take_english_word(word, position, pending, tokens, i, reading)
        i += 1


def _take_english_word(
    word: str, position: int, pending: Modifier | None, tokens: list[tuple[str, int]], i: int, reading: _Reading
) -> Modifier | None:
    if word in MODIFIERS_EN:
        # "light" alone is about lighting ("soft light"), not a colour; other lone modifiers set the tone.
        next_is_colour = i + 1 < len(tokens) and tokens[i + 1][0] in COLOURS_EN
        if next_is_colour or word != "light":
            reading.matched.append(word)
            reading.modifiers.append(MODIFIERS_EN[word])
            return MODIFIERS_EN[word]
        return pending
    if word in COLOURS_EN:
        reading.colours.append((position, _modify(COLOURS_EN[word], pending), word))
        reading.matched.append(word)
        return None
    if word in KIND_WORDS_EN:
        reading.kinds.append(KIND_WORDS_EN[word])
        reading.matched.append(word)
    elif word not in FILLER_EN and not word.isdigit():
        reading.leftovers.append(word)
    return pending


def _modify(colour: RGB, modifier: Modifier | None) -> RGB:
    if modifier == "light":
        return mix(colour, WHITE, 0.45)
    if modifier == "pastel":
        return mix(colour, WHITE, 0.6)
    if modifier == "dark":
        return mix(colour, BLACK, 0.45)
    if modifier == "muted":
        return mix(mix(colour, GREY, 0.45), WHITE, 0.15)
    return colour


