"""What a remove_watermark prompt asks to remove: which scripts, and whether it speaks of marks.

Examples (DashScope's documented wording first):
  "去除图像中的文字"  -> all text
  "去除英文文字"      -> Latin text only
  "去除中文水印"      -> Chinese text, as watermark
  "去除品牌标识" / "remove the logo" / "水印" -> all text, as marks (logos, watermarks)
  ""                  -> all text
  "去除英文，保留中文" / "remove english text but keep the chinese" -> Latin only: a clause that
  keeps something (保留, 不要去除, keep, except) takes its scripts out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from easel.engines.text.scripts import SCRIPTS, Script

_CHINESE_WORDS = ("中文", "汉字", "漢字", "中国字", "汉语", "华文", "chinese", "hanzi", "cjk")
_LATIN_WORDS = ("英文", "英语", "英语字母", "字母", "拉丁", "外文", "english", "latin", "alphabet")
_OTHER_WORDS = ("数字", "号码", "digit", "number")
_KEEP_WORDS = ("保留", "保持", "不要去", "不去除", "不删", "除了", "keep", "except", "leave", "preserve", "not ")
_CLAUSE_BREAK = re.compile(r"[，,。.;；!！?？、]|\bbut\b|但是|但")
_MARK_WORDS = (
    "水印",
    "标识",
    "标志",
    "logo",
    "商标",
    "品牌",
    "印章",
    "角标",
    "台标",
    "签名",
    "watermark",
    "brand",
    "trademark",
    "stamp",
    "signature",
    "mark",
)


@dataclass(frozen=True)
class RemovalTarget:
    """scripts: the scripts whose text is removed. marks: the prompt speaks of watermarks or logos.

    named_scripts is False when the prompt names no script, so all text goes.
    """

    scripts: frozenset[Script]
    marks: bool
    named_scripts: bool

    @property
    def description(self) -> str:
        kinds = "all" if not self.named_scripts else "+".join(s for s in SCRIPTS if s in self.scripts)
        return f"{kinds} text" + (" (watermarks/logos)" if self.marks else "")


def removal_target(prompt: str) -> RemovalTarget:
    """Parse a remove_watermark prompt (Chinese or English)."""
    text = (prompt or "").lower()
    removed: set[Script] = set()
    kept: set[Script] = set()
    for clause in _CLAUSE_BREAK.split(text):
        named = _named_scripts(clause)
        (kept if any(word in clause for word in _KEEP_WORDS) else removed).update(named)
    marks = _mentions(text, _MARK_WORDS)
    if removed - kept:
        return RemovalTarget(scripts=frozenset(removed - kept), marks=marks, named_scripts=True)
    if kept:
        return RemovalTarget(scripts=frozenset(SCRIPTS) - kept, marks=marks, named_scripts=True)
    return RemovalTarget(scripts=frozenset(SCRIPTS), marks=marks, named_scripts=False)


def _named_scripts(clause: str) -> set[Script]:
    named: set[Script] = set()
    if _mentions(clause, _CHINESE_WORDS):
        named.add("chinese")
    if _mentions(clause, _LATIN_WORDS):
        named.add("latin")
    if _mentions(clause, _OTHER_WORDS):
        named.add("other")
    return named


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    for word in words:
        if word.isascii():
            # whole words (plural allowed), so "mark" is not read out of "remarks"
            if re.search(rf"\b{re.escape(word)}s?\b", text):
                return True
        elif word in text:
            return True
    return False
