"""What an instruction-edit model is told for each of the ten repaint styles (wanx-style-repaint-v1, seed 004).

Each recipe is a real restyle: costume, scene and drawing style may all change, as in the service's own
examples (将军百战 puts the person in a general's armour on a battlefield, 喜迎新年 in festive red New Year
clothes). Every prompt ends with the same instruction to keep the person's face, which the identity check
(identity.py) then measures. English, since both instruction-edit families (FLUX.2 klein's Qwen3 encoder,
Qwen-Image-Edit's Qwen2.5-VL) follow it at least as well as Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass

KEEP_FACE = (
    "Keep the same person: the face, face shape, eyes, nose, mouth, skin tone, age and expression stay "
    "unchanged and clearly recognisable as the person in the photo; one person, same pose and framing."
)
NEGATIVE_PROMPT = (
    "different person, changed face, distorted face, deformed eyes, asymmetric eyes, extra people, extra limbs, "
    "blurry, low quality, watermark, logo, signature"
)


@dataclass(frozen=True)
class StylePrompt:
    index: int  # style_index of seed 004
    name: str  # the seed's name for the style
    restyle: str  # what changes: drawing style, costume, scene

    @property
    def prompt(self) -> str:
        return f"{self.restyle} {KEEP_FACE}"


PROMPTS: tuple[StylePrompt, ...] = (
    StylePrompt(0, "复古漫画", "Repaint this photo as a vintage comic book illustration: bold black ink outlines, "
                "halftone dot shading, flat saturated retro colours on slightly yellowed paper, a retro outfit, "
                "a comic-panel city street behind the person."),
    StylePrompt(1, "3D童话", "Turn this photo into a still from a 3D animated fairy-tale film: soft stylised 3D "
                "rendering, smooth shading, a storybook costume, warm magical light and an enchanted forest with "
                "glowing lights behind the person."),
    StylePrompt(2, "二次元", "Redraw this photo as a Japanese anime illustration: clean line art, cel shading, vivid "
                "colours, glossy anime hair highlights, a school-uniform style outfit, a bright blue sky with soft "
                "clouds behind the person."),
    StylePrompt(3, "小清新", "Restyle this photo as a fresh, airy illustration: soft pastel colours, light "
                "watercolour texture, bright natural daylight, a light casual summer outfit, green leaves and small "
                "white flowers behind the person."),
    StylePrompt(4, "未来科技", "Restyle this photo as futuristic sci-fi concept art: a sleek high-tech suit with "
                "glowing neon seams, cyan and magenta rim light, a holographic city of the future behind the "
                "person."),
    StylePrompt(5, "国画古风", "Repaint this photo as a traditional Chinese painting in ancient style: classical "
                "Hanfu robes and hair ornaments, fine gongbi lines with ink-wash shading on xuan paper, muted "
                "mineral colours, misty ink mountains and pines behind the person."),
    StylePrompt(6, "将军百战", "Restyle this photo as an epic ancient Chinese general: ornate battle-worn armour "
                "with a helmet and a red cape, a smoky battlefield with war banners at dusk behind the person, "
                "cinematic dramatic light, detailed digital painting."),
    StylePrompt(7, "炫彩卡通", "Redraw this photo as a vibrant colourful cartoon: thick clean outlines, bold "
                "saturated rainbow colours, playful flat shading, a bright patterned outfit, abstract colour "
                "shapes and confetti behind the person."),
    StylePrompt(8, "清雅国风", "Restyle this photo as an elegant modern Chinese guofeng illustration: refined "
                "Hanfu in pale celadon and ivory, delicate brushwork, plum blossoms and a misty lake pavilion "
                "behind the person, generous white space."),
    StylePrompt(9, "喜迎新年", "Restyle this photo as a festive Chinese New Year portrait: bright red traditional "
                "New Year clothes with gold embroidery, red lanterns, paper-cut window flowers, firecrackers and "
                "福 decorations behind the person, warm joyful light."),
)
