"""The machine-readable part of GET /api/v1/models: each model's request contract as JSON Schema.

The schemas are generated from the pydantic models the catalog validates requests with (each model's
input_model and parameters_model, the same classes the OpenAPI document uses), so the listing cannot
drift from what the server accepts. What pydantic cannot know is added here, from the
seed documents: the Chinese name of every field, function and enum value, which fields are images
(with the model's image limits), how a mask is painted, and which parameters each function uses.
Clients (the playground at /) build their forms from this alone.

Extensions to JSON Schema (all prefixed `x-`):
  x-image        on a string field that takes an image URL: {"formats", "min_side", "max_side", "max_bytes"}
  x-mask         on a mask field: {"of": image field, "paint": [R,G,B], "background": [R,G,B], "meaning"}
  x-enum-titles  beside `enum`: the seed's name for each value
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from easel.inputs.decode import FORMAT_NAMES, ImageLimits

if TYPE_CHECKING:
    from easel.catalog.base import CatalogModel

WHITE, BLACK = [255, 255, 255], [0, 0, 0]


@dataclass(frozen=True)
class Contract:
    """What the listing publishes for one model, beyond its pydantic classes."""

    request: str  # "input+parameters" (DashScope body), "messages" (qwen-image-edit), "task_list" (relight)
    path: str
    asynchronous: bool
    # Only where the wire body is not {"input": input_model, "parameters": parameters_model}:
    input: type[BaseModel] | None = None
    parameters: type[BaseModel] | None = None
    titles: dict[str, str] = field(default_factory=dict)  # "input.prompt" -> seed name
    enum_titles: dict[str, dict[str, str]] = field(default_factory=dict)
    images: dict[str, ImageLimits] = field(default_factory=dict)  # "input.base_image_url" -> limits
    masks: dict[str, dict[str, Any]] = field(default_factory=dict)
    enums: dict[str, list[Any]] = field(default_factory=dict)  # values the server checks outside pydantic
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: dict[str, Any] = field(default_factory=dict)  # the seed's example values, for required fields
    notes: list[str] = field(default_factory=list)

    def describe(self, model: CatalogModel) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request, "path": self.path, "async": self.asynchronous}
        input_model = self.input or model.input_model
        parameters_model = self.parameters or model.parameters_model
        if input_model is not None:
            out["input"] = self._schema("input", input_model)
        if parameters_model is not None:
            out["parameters"] = self._schema("parameters", parameters_model)
        if self.functions:
            out["functions"] = self.functions
        if self.notes:
            out["notes"] = self.notes
        return out

    def _schema(self, part: str, model: type[BaseModel]) -> dict[str, Any]:
        schema = _plain(model.model_json_schema())
        for name, prop in schema.get("properties", {}).items():
            where = f"{part}.{name}"
            prop["title"] = self.titles.get(where, prop.get("title", name))
            if where in self.enums:
                prop["enum"] = self.enums[where]
            if where in self.enum_titles:
                prop["x-enum-titles"] = self.enum_titles[where]
            if where in self.images:
                prop["x-image"] = _limits(self.images[where])
            if where in self.masks:
                prop["x-mask"] = self.masks[where]
            if where in self.examples:
                prop["examples"] = [self.examples[where]]
        return schema


def _limits(limits: ImageLimits) -> dict[str, Any]:
    out: dict[str, Any] = {"formats": sorted(FORMAT_NAMES[f] for f in limits.formats), "min_side": limits.min_side,
                           "max_side": limits.max_side, "max_bytes": limits.max_bytes}
    if limits.max_box:
        out["max_box"] = list(limits.max_box)
    return out


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """$refs inlined, Optional[X] as X with "nullable", pydantic's stray ge/le as minimum/maximum."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
            (inner,) = [o for o in options if o != {"type": "null"}]
            node = {**walk(inner), **{k: v for k, v in node.items() if k != "anyOf"}, "nullable": True}
        out = {k: walk(v) for k, v in node.items()}
        for old, new in (("ge", "minimum"), ("le", "maximum")):
            if old in out and isinstance(out[old], int | float):
                out[new] = out.pop(old)
        return out

    return walk(schema)


COMMON_TITLES = {"parameters.n": "生成图片数量", "parameters.seed": "随机种子", "parameters.watermark": "添加水印标识"}


def _wanx_imageedit() -> Contract:
    from easel.catalog import wanx_imageedit as m

    function_titles = {
        "stylization_all": "全局风格化", "stylization_local": "局部风格化", "description_edit": "指令编辑",
        "description_edit_with_mask": "局部重绘", "remove_watermark": "去水印", "expand": "扩图",
        "super_resolution": "超分辨率", "colorization": "黑白上色", "doodle": "线稿生图",
        "control_cartoon_feature": "参考卡通生图",
    }
    # seed 002's function table, column 特殊参数; n, seed and watermark apply to every function
    special = {"stylization_all": ["strength"], "description_edit": ["strength"],
               "expand": ["top_scale", "bottom_scale", "left_scale", "right_scale"],
               "super_resolution": ["upscale_factor"], "doodle": ["is_sketch"]}
    functions = {
        f.value: {"title": function_titles[f.value], "needs_mask": f in m.NEEDS_MASK,
                  "parameters": ["n", "seed", "watermark", *special.get(f.value, [])]}
        for f in m.Function
    }
    functions["description_edit_with_mask"]["hint"] = "提示词可留空: an empty prompt removes what the mask covers"
    return Contract(
        request="input+parameters", path="/api/v1/services/aigc/image2image/image-synthesis", asynchronous=True,
        titles={**COMMON_TITLES, "input.function": "编辑功能类型", "input.prompt": "编辑提示词",
                "input.base_image_url": "输入图像", "input.mask_image_url": "局部重绘时的mask图像",
                "parameters.strength": "图像修改幅度", "parameters.top_scale": "向上扩图比例",
                "parameters.bottom_scale": "向下扩图比例", "parameters.left_scale": "向左扩图比例",
                "parameters.right_scale": "向右扩图比例", "parameters.upscale_factor": "放大倍数",
                "parameters.is_sketch": "输入是否为线稿"},
        enum_titles={"input.function": function_titles},
        images={"input.base_image_url": m.IMAGE_LIMITS, "input.mask_image_url": m.IMAGE_LIMITS},
        masks={"input.mask_image_url": {"of": "base_image_url", "paint": WHITE, "background": BLACK,
                                        "meaning": "白色区域为编辑区域，黑色区域保持不变"}},
        functions=functions,
    )


def _wanx_x_painting() -> Contract:
    from easel.catalog import wanx_x_painting as m

    style_titles = {"<auto>": "默认", "<3d cartoon>": "3D卡通", "<anime>": "动画", "<oil painting>": "油画",
                    "<watercolor>": "水彩", "<sketch>": "素描", "<chinese painting>": "中国画",
                    "<flat illustration>": "扁平插画"}
    return Contract(
        request="input+parameters", path="/api/v1/services/aigc/image2image/image-synthesis", asynchronous=True,
        titles={**COMMON_TITLES, "input.prompt": "正向提示词", "input.base_image_url": "输入图像",
                "input.mask_image_url": "涂抹区域图像", "parameters.style": "输出图像的风格",
                "parameters.size": "输出图像的分辨率", "parameters.mask_color": "涂改区域的颜色"},
        enum_titles={"parameters.style": style_titles},
        enums={"parameters.size": list(m.SIZES)},
        images={"input.base_image_url": m.IMAGE_LIMITS, "input.mask_image_url": m.IMAGE_LIMITS},
        # mask_color empty (the default): the mask is binarised and white marks the area to repaint
        masks={"input.mask_image_url": {"of": "base_image_url", "paint": WHITE, "background": BLACK,
                                        "meaning": "二值化处理后白色代表涂抹区域"}},
        notes=[f"prompt: at most {m.PROMPT_MAX} characters, the rest is cut off"],
    )


def _background_generation() -> Contract:
    from easel.catalog import background_generation as m

    return Contract(
        request="input+parameters", path="/api/v1/services/aigc/background-generation/generation",
        asynchronous=True,
        titles={**COMMON_TITLES, "input.base_image_url": "透明背景的主体图像", "input.ref_image_url": "引导图",
                "input.ref_prompt": "引导文本提示词", "input.neg_ref_prompt": "负向提示词",
                "input.reference_edge": "边缘引导元素", "input.title": "文字主标题", "input.sub_title": "文字副标题",
                "parameters.n": "图片生成的数量", "parameters.noise_level": "噪声强度",
                "parameters.ref_prompt_weight": "文本引导权重", "parameters.scene_type": "使用场景",
                "parameters.model_version": "模型版本"},
        enum_titles={"parameters.scene_type": {"GENERAL": "通用", "ROOM": "家居", "COSMETIC": "美妆"},
                     "parameters.model_version": {"v2": "v2 旧版, 速度快", "v3": "v3 新版, 效果更好"}},
        images={"input.base_image_url": m.SUBJECT_LIMITS, "input.ref_image_url": m.REFERENCE_LIMITS},
        notes=["give at least one of ref_image_url and ref_prompt",
               "with a title, output.text_results.params[].layers give each text and text_mask box "
               "(top, left, width, height in pixels of the result)"],
    )


def _style_repaint() -> Contract:
    from easel.catalog import style_repaint as m

    return Contract(
        request="input+parameters", path="/api/v1/services/aigc/image-generation/generation", asynchronous=True,
        titles={"input.image_url": "输入的人像图像", "input.style_index": "风格化类型索引"},
        enums={"input.style_index": list(range(len(m.STYLE_NAMES)))},
        enum_titles={"input.style_index": {str(i): name for i, name in enumerate(m.STYLE_NAMES)}},
        images={"input.image_url": m.IMAGE_LIMITS},
        examples={"input.style_index": 3},
    )


def _qwen_image_edit() -> Contract:
    from easel.catalog import qwen_image_edit as m

    class QwenEditMessage(BaseModel):
        """The one user message: sent as input.messages[0].content = [{"image": ...}, {"text": ...}]."""

        model_config = ConfigDict(title="input.messages[0].content")
        image: str
        text: str = Field(min_length=1, max_length=m.TEXT_MAX)

    return Contract(
        request="messages", path="/api/v1/services/aigc/multimodal-generation/generation", asynchronous=False,
        input=QwenEditMessage,
        titles={"input.image": "输入图像", "input.text": "编辑提示词", "parameters.negative_prompt": "反向提示词",
                "parameters.watermark": "添加水印标识"},
        images={"input.image": m.IMAGE_LIMITS},
        notes=["synchronous: the answer carries output.choices[0].message.content[0].image"],
    )


def _relight() -> Contract:
    from easel.api.relight.protocol import MAX_TASKS, RelightTaskIn
    from easel.catalog import relight as m

    return Contract(
        request="task_list", path="/api/v1/relight/submit", asynchronous=True, input=RelightTaskIn,
        titles={"input.image": "图像", "input.mask": "mask", "input.positive_prompt": "正向提示词",
                "input.guidance_scale": "提示词强度", "input.steps": "步数", "input.seed": "随机种子",
                # not in seed 000: an Easel extension, named as seed 002 names it
                "input.negative_prompt": "反向提示词"},
        images={"input.image": m.IMAGE_LIMITS, "input.mask": m.IMAGE_LIMITS},
        masks={"input.mask": {"of": "image", "paint": WHITE, "background": BLACK,
                              "meaning": "前景(前景保留区域)值为255, 背景(光影控制区域)值为0; "
                                         "带alpha通道的图像可不传"}},
        examples={"input.guidance_scale": 3.5, "input.steps": 20},
        notes=["Authorization: APPCODE <key> and a fresh X-Ca-Nonce on every call; results via POST "
               "/api/v1/relight/query with data.result_key",
               f"one request carries data.task_list of 1-{MAX_TASKS} tasks with the fields of `input`"],
    )


BUILDERS = {
    "wanx2.1-imageedit": _wanx_imageedit,
    "wanx-x-painting": _wanx_x_painting,
    "wanx-background-generation-v2": _background_generation,
    "wanx-style-repaint-v1": _style_repaint,
    "qwen-image-edit": _qwen_image_edit,
    "relight": _relight,
}
_CACHE: dict[str, dict[str, Any] | None] = {}


def contract_of(model: CatalogModel) -> dict[str, Any] | None:
    """The published contract of a catalog model, or None for a model without one here."""
    if model.name not in _CACHE:
        builder = BUILDERS.get(model.name)
        _CACHE[model.name] = builder().describe(model) if builder else None
    return copy.deepcopy(_CACHE[model.name])
