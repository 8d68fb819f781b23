"""The web playground at / in a real browser (Debian's chromium driven by Playwright) on a real server.

No request may leave the server's origin: every request the page makes is routed through a guard that
aborts and records anything else. Screenshots go to $EASEL_SCREENSHOTS (or a temporary folder).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.conftest import EaselServer, photo

CHROMIUM = "/usr/bin/chromium"
# Screenshots to look at: under the test's own temporary folder, or where EASEL_SCREENSHOTS says (the ones
# committed in bench/sheets/playground/ came from EASEL_SCREENSHOTS=bench/sheets/playground), so a test run
# never rewrites tracked files.
SHEETS = Path(os.environ.get("EASEL_SCREENSHOTS") or tempfile.mkdtemp(prefix="easel-playground-")).resolve()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
TASK_TIMEOUT_MS = 90_000
NEW_TASK_ENDED = """([previous, terminal]) => {
    const id = document.querySelector('#task-id').textContent;
    return id && id !== previous && terminal.includes(document.querySelector('#task-status').textContent); }"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # A missing browser fails the test: scripts/install.sh installs Debian's chromium for the test profile.
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (scripts/install.sh)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


class Session:
    """A browser context whose every request is checked against the server's origin."""

    def __init__(self, browser: Browser, server: EaselServer) -> None:
        self.origin = server.url
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context: BrowserContext = browser.new_context(viewport={"width": 1600, "height": 1000})
        self.context.route("**/*", self._guard)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, key: str) -> Page:
        page = self.page
        page.goto(self.origin + "/")
        page.fill("#api-key", key)
        page.click("#save-key")
        page.wait_for_selector("#model option[value='wanx2.1-imageedit']", state="attached")
        return page

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"requests left {self.origin}: {self.outside}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


@pytest.fixture
def session(browser: Browser, server: EaselServer) -> Iterator[Session]:
    s = Session(browser, server)
    yield s
    s.close()


def until(page: Page, script: str, arg: object = None, timeout_ms: int = TASK_TIMEOUT_MS) -> None:
    """Polls a JavaScript predicate from Python: the page's CSP forbids the eval that wait_for_function uses."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(script, arg):
        message = page.locator("#message")
        assert not (message.is_visible() and message.get_attribute("class") != "info"), message.text_content()
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.1)


def wait_for_new_task(page: Page, previous: str | None) -> str:
    """Waits until a task other than `previous` has ended; returns its id."""
    until(page, NEW_TASK_ENDED, [previous or "", ["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]])
    status = page.text_content("#task-status")
    assert status == "SUCCEEDED", f"{status}: {page.text_content('#message')}"
    until(page, "() => document.querySelector('#after').complete && document.querySelector('#after').naturalWidth > 0")
    return page.text_content("#task-id") or ""


def fetch(url: str) -> np.ndarray:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def stroke(page: Page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A drag across the element, from and to fractions of its size."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=12)
    page.mouse.up()


def region(image: np.ndarray, x: float, y: float, half: int = 6) -> np.ndarray:
    h, w = image.shape[:2]
    cx, cy = round(w * x), round(h * y)
    return image[cy - half:cy + half, cx - half:cx + half]


def test_stylize_then_masked_removal(session: Session, api_key: str, tmp_path: Path) -> None:
    SHEETS.mkdir(parents=True, exist_ok=True)
    source = photo((512, 512))
    path = tmp_path / "astronaut.png"
    source.save(path)
    original = np.asarray(source, dtype=np.int16)
    page = session.open(api_key)

    # 1. stylization_all through the upload flow (policy, form POST, oss:// URL)
    page.select_option("#model", "wanx2.1-imageedit")
    page.select_option("#function", "stylization_all")
    assert page.locator("[data-field='parameters.strength']").count() == 1  # the function's own parameter
    assert page.locator("[data-field='parameters.upscale_factor']").count() == 0
    page.set_input_files("input[type=file][data-field='base_image_url']", str(path))
    page.wait_for_selector("[data-state='ready']")
    assert "oss://" in (page.text_content("[data-state='ready']") or "")
    page.fill("[name='input.prompt']", "转换成法国绘本风格")
    page.click("#submit")
    first = wait_for_new_task(page, None)
    page.screenshot(path=str(SHEETS / "01-stylization_all.png"), full_page=True)
    styled = fetch(page.get_attribute("#after", "src") or "")
    assert styled.shape == original.shape
    assert np.abs(styled - original).mean() > 8, "the stylized result is (nearly) the input"
    assert page.get_attribute("#download", "href") == page.get_attribute("#after", "src")

    # 2. description_edit_with_mask with an empty prompt: a removal, served by the CPU erase engine
    page.select_option("#function", "description_edit_with_mask")
    page.fill("[name='input.prompt']", "")
    page.wait_for_selector("#mask-canvas")
    stroke(page, "#mask-canvas", (0.30, 0.5), (0.70, 0.5))
    page.click("#tool-eraser")
    stroke(page, "#mask-canvas", (0.60, 0.5), (0.80, 0.5))
    page.screenshot(path=str(SHEETS / "02-mask-painted.png"), full_page=True)
    page.click("#submit")
    second = wait_for_new_task(page, first)
    page.fill("#split", "35")
    page.dispatch_event("#split", "input")
    page.screenshot(path=str(SHEETS / "03-removal-result.png"), full_page=True)
    removed = fetch(page.get_attribute("#after", "src") or "")
    assert removed.shape == original.shape
    diff = np.abs(removed - original)
    assert region(diff, 0.42, 0.5).mean() > 6, "the brushed area was not changed"
    assert region(diff, 0.68, 0.5).max() <= 3, "the erased part of the stroke was changed"
    assert region(diff, 0.5, 0.15).max() <= 3, "an unpainted area was changed"

    # 3. the key's history lists both tasks
    page.click("#refresh-history")
    page.wait_for_selector(f"#history li[data-task='{second}']")
    assert page.locator(f"#history li[data-task='{first}']").count() == 1


def test_every_model_gets_a_form(session: Session, api_key: str) -> None:
    """Each model of the listing (relight and the synchronous qwen-image-edit included) renders its
    contract's fields, with the seed's Chinese names."""
    page = session.open(api_key)
    listing = httpx.get(session.origin + "/api/v1/models", timeout=10).json()["data"]
    models = [m for m in listing if "contract" in m]
    assert {m["model"] for m in models} >= {"wanx2.1-imageedit", "wanx-x-painting", "wanx-background-generation-v2",
                                            "wanx-style-repaint-v1", "qwen-image-edit", "relight"}
    for entry in models:
        page.select_option("#model", entry["model"])
        contract = entry["contract"]
        for part in ("input", "parameters"):
            for name, prop in contract.get(part, {}).get("properties", {}).items():
                if name == "function" or "x-mask" in prop:
                    continue
                if part == "parameters" and "functions" in contract:
                    continue  # shown per function, checked in the stylize test
                field = page.locator(f"[data-field='{part}.{name}']")
                assert field.count() == 1, f"{entry['model']}: no form field for {part}.{name}"
                assert prop["title"] in (field.locator("label").first.text_content() or "")
    page.select_option("#model", "wanx-style-repaint-v1")
    assert "小清新 (3)" in (page.locator("[name='input.style_index'] option:checked").text_content() or "")
    page.reload()  # the key stays in this browser's localStorage
    assert page.input_value("#api-key") == api_key


def subject(size: tuple[int, int] = (512, 512)) -> Image.Image:
    """The photo cut out by an ellipse: an RGBA subject on a transparent background."""
    from PIL import ImageDraw

    alpha = Image.new("L", size, 0)
    ImageDraw.Draw(alpha).ellipse((size[0] * 0.25, size[1] * 0.15, size[0] * 0.75, size[1] * 0.95), fill=255)
    rgba = photo(size).convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def test_background_text_layers_relight_and_sync_edit(session: Session, api_key: str, tmp_path: Path) -> None:
    SHEETS.mkdir(parents=True, exist_ok=True)
    cutout = tmp_path / "subject.png"
    subject().save(cutout)
    rgb = tmp_path / "photo.png"
    photo((512, 512)).save(rgb)
    page = session.open(api_key)

    # background generation with a title: its text_results layers are drawn as boxes over the result
    page.select_option("#model", "wanx-background-generation-v2")
    page.set_input_files("input[type=file][data-field='base_image_url']", str(cutout))
    page.wait_for_selector("[data-state='ready']")
    page.fill("[name='input.ref_prompt']", "纯白背景")
    page.fill("[name='input.title']", "分享好时光")
    page.click("#submit")
    task = wait_for_new_task(page, None)
    page.wait_for_selector("#layers .box.text")
    labels = page.locator("#layers .box span").all_text_contents()
    assert any("分享好时光" in label for label in labels), labels
    page.screenshot(path=str(SHEETS / "04-background-text-layers.png"), full_page=True)
    body = httpx.get(f"{session.origin}/api/v1/tasks/{task}", headers={"Authorization": f"Bearer {api_key}"}).json()
    layers = body["output"]["text_results"]["params"][0]["layers"]
    assert page.locator("#layers .box").count() == len(layers)

    # relight on the market API (APPCODE auth, nonces): the brush paints the subject to keep
    page.select_option("#model", "relight")
    page.set_input_files("input[type=file][data-field='image']", str(rgb))
    page.wait_for_selector("[data-state='ready']")
    page.wait_for_selector("#mask-canvas")
    stroke(page, "#mask-canvas", (0.5, 0.2), (0.5, 0.9))
    page.fill("[name='input.positive_prompt']", "warm light from the left")
    page.fill("[name='input.steps']", "15")
    page.click("#submit")
    until(page, "() => ['SUCCESS', 'FAILED'].includes(document.querySelector('#task-status').textContent)")
    assert page.text_content("#task-status") == "SUCCESS", page.text_content("#message")
    until(page, "() => document.querySelector('#after').src.includes('/files/')")
    page.screenshot(path=str(SHEETS / "05-relight.png"), full_page=True)
    relit = fetch(page.get_attribute("#after", "src") or "")
    assert relit.shape == (512, 512, 3)
    page.click("#refresh-history")
    page.wait_for_selector("#history li[data-relight]")

    # qwen-image-edit is synchronous; with no instruct_edit engine configured the page shows why
    page.select_option("#model", "qwen-image-edit")
    page.set_input_files("input[type=file][data-field='image']", str(rgb))
    page.wait_for_selector("[data-state='ready']")
    page.fill("[name='input.text']", "给宇航员戴上一顶红色帽子")
    page.click("#submit")
    page.wait_for_selector("#message:not([hidden])")
    message = page.text_content("#message") or ""
    assert "EngineUnavailable" in message and "instruct_edit" in message, message
    page.screenshot(path=str(SHEETS / "06-qwen-image-edit-unavailable.png"), full_page=True)
