"""Open the report pack in a real headless Chromium, as a manager on an offline PC would.

Debian's ``chromium`` is driven by Playwright with ``executable_path`` (no ``playwright
install``, nothing downloaded). For ``index.html`` and every page of a pack the test records
every request and fails unless: no request other than ``file://`` (and inline ``data:``), no
code cells, no stderr or error outputs, every image loaded, the Chinese title text in the DOM,
and the CJK font available to the page. A screenshot of each page is saved; its path is in the
assertion messages.

Without Chromium the tests skip with a notice, unless ``FISHPOND_REQUIRE_BROWSER=1`` (set by
``.ci/run``): under CI they must run, never skip.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.batch import runner as runner

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURES = Path(__file__).parent / "notebooks" / "fixtures"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _unavailable(reason: str):
    if os.environ.get("FISHPOND_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FISHPOND_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(f"{reason}: browser checks skipped (install with `make sysdeps`)")


@pytest.fixture(scope="module")
def browser():
    """A headless Debian Chromium context with a fresh profile."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    profile = tempfile.mkdtemp(prefix="fishpond-chromium-")
    with sync_playwright() as playwright:
        # Playwright refuses --user-data-dir in args: a persistent context takes the profile.
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            offline=False,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def _inspect(context, html_path: Path, screenshot: Path) -> dict:
    """Load a page, record its requests, and return what the checks need."""
    requests: list[str] = []
    failed: list[str] = []
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        page.goto(html_path.as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        facts = page.evaluate(
            """() => ({
                title: document.title,
                lang: document.documentElement.lang,
                text: document.body.innerText,
                codeInputs: document.querySelectorAll('.jp-CodeCell .jp-InputArea').length,
                stderr: document.querySelectorAll(
                    '[data-mime-type="application/vnd.jupyter.stderr"]').length,
                errors: document.querySelectorAll(
                    '.jp-OutputArea-output.jp-mod-error, .output_error, .ansi-red-fg').length,
                images: Array.from(document.images).map(i => [i.naturalWidth, i.src.slice(0, 40)]),
                cjkFont: document.fonts.check('16px "Noto Sans CJK SC"', '中文'),
            })"""
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    facts["requests"] = requests
    facts["failed"] = failed
    return facts


def _check_pack(context, pack_dir: Path, screenshots: Path) -> dict[str, dict]:
    manifest = json.loads((pack_dir / "manifest.json").read_text(encoding="utf-8"))
    pages = {"index": (pack_dir / "index.html", "存量客户经营月度报告")}
    for entry in manifest["notebooks"]:
        pages[entry["notebook"]] = (pack_dir / entry["html"], entry["title"])
    seen = {}
    for name, (html_path, title) in pages.items():
        shot = screenshots / f"{name}.png"
        facts = _inspect(context, html_path, shot)
        where = f"{html_path.name} (screenshot: {shot})"
        remote = [url for url in facts["requests"] if not url.startswith(("file://", "data:"))]
        assert not remote, f"{where}: network requests {remote}"
        assert not facts["failed"], f"{where}: failed requests {facts['failed']}"
        assert facts["codeInputs"] == 0, f"{where}: {facts['codeInputs']} code cells shown"
        assert facts["stderr"] == 0, f"{where}: {facts['stderr']} stderr outputs shown"
        assert facts["errors"] == 0, f"{where}: {facts['errors']} error outputs shown"
        assert "Traceback" not in facts["text"], f"{where}: a traceback is visible"
        broken = [src for width, src in facts["images"] if width <= 0]
        assert not broken, f"{where}: images that did not load: {broken}"
        assert CJK.search(title), f"{where}: title {title!r} has no Chinese text"
        assert title in facts["text"], f"{where}: title {title!r} not in the page text"
        assert facts["lang"] == manifest["lang"], f"{where}: <html lang={facts['lang']!r}>"
        assert facts["cjkFont"], f"{where}: no CJK font: Chinese renders as boxes"
        seen[name] = facts
    return seen


@pytest.fixture(scope="module")
def fixture_pack(tmp_path_factory):
    """A small pack from the fixture notebooks: one good page, one failure, one not applicable."""
    spec = tmp_path_factory.mktemp("fake") / "dataset.yaml"
    spec.write_text("name: fake\n", encoding="utf-8")
    info = runner.DatasetInfo(
        spec=spec, name="测试数据", roles={"customers"}, latest_month="2026-10", fingerprint={}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "load_dataset_info", lambda spec_path: info)
        return runner.run_pack(
            out=tmp_path_factory.mktemp("fixture_pack") / "2026-10",
            only=["ok_report", "raises", "needs_campaigns"],
            notebooks_dir=FIXTURES,
            timeout=120,
            progress_stream=io.StringIO(),
        )


def test_fixture_pack_in_chromium(browser, fixture_pack, tmp_path):
    assert fixture_pack.statuses == {
        "needs_campaigns": "not_applicable",
        "ok_report": "ok",
        "raises": "failed",
    }
    seen = _check_pack(browser, fixture_pack.out_dir, tmp_path / "screenshots")
    # The good page drew its one matplotlib figure; the failure page shows the error line.
    assert len(seen["ok_report"]["images"]) == 1
    assert "a warning nobody should see" not in seen["ok_report"]["text"]
    assert "ValueError: 分行 000 的数据不完整" in seen["raises"]["text"]
    assert "never reached" not in seen["raises"]["text"]
    assert "1,234,567" in seen["index"]["text"]


@pytest.mark.xdist_group("packs")
def test_sample_pack_in_chromium(browser, sample_pack):
    screenshots = sample_pack.out_dir / "screenshots"
    seen = _check_pack(browser, sample_pack.out_dir, screenshots)
    pages = [name for name in seen if name != "index"]
    assert pages, "the sample pack has no report pages"
    # The notebooks draw charts; a pack without a single figure means plots are not reaching
    # the reports (e.g. a non-inline matplotlib backend in the kernel).
    figures = {name: len(seen[name]["images"]) for name in pages}
    assert sum(figures.values()) > 0, f"no figure in any report: {figures} (see {screenshots})"


# --------------------------------------------------------------------------------------------
# The manager's pack: actions link to their lists and sections; the PDF says the numbers
# --------------------------------------------------------------------------------------------


def _action_links(context, index: Path) -> list[dict]:
    page = context.new_page()
    try:
        page.goto(index.as_uri(), wait_until="load")
        return page.evaluate(
            """() => Array.from(document.querySelectorAll('li[data-action]')).map(li => ({
                name: li.dataset.action,
                list: li.querySelector('a.fp-action-list').getAttribute('href'),
                section: li.querySelector('a.fp-action-section').getAttribute('href'),
                text: li.innerText,
            }))"""
        )
    finally:
        page.close()


@pytest.mark.xdist_group("packs")
def test_every_action_link_reaches_its_target(browser, sample_pack):
    index = sample_pack.out_dir / "index.html"
    actions = _action_links(browser, index)
    assert len(actions) >= 3, actions  # 3-5 actions, each with a list and a section
    for action in actions:
        excel = (index.parent / action["list"]).resolve()
        assert excel.is_file() and excel.read_bytes()[:2] == b"PK", action  # an .xlsx file
        page = browser.new_page()
        try:
            page.goto(index.as_uri(), wait_until="load")
            selector = f'li[data-action="{action["name"]}"] a.fp-action-section'
            page.click(selector)
            page.wait_for_load_state("load")
            anchor = action["section"].split("#", 1)[1]
            assert page.url.endswith(action["section"]), (page.url, action)
            found = page.evaluate(f"() => !!document.getElementById({anchor!r})")
            assert found, f"{action['section']}: no element with id {anchor!r}"
        finally:
            page.close()


def test_pdf_has_the_summary_headline_numbers(sample_pack_en):
    import unicodedata

    from pypdf import PdfReader

    from helpers import summary

    pack = sample_pack_en.out_dir
    assert sample_pack_en.manifest.get("pdf") == ["pdf/index.pdf", "pdf/05_monthly_summary.pdf"]
    tiles = {t["key"]: t["display"] for t in summary.kpi_tiles(
        summary.read_artifacts(pack / "artifacts"), "en")}  # fmt: skip
    headline = [tiles["customers"], tiles["aum"], tiles["churn_rate"]]
    for name in ("index.pdf", "05_monthly_summary.pdf"):
        reader = PdfReader(pack / "pdf" / name)
        text = " ".join(page.extract_text() or "" for page in reader.pages)
        text = " ".join(unicodedata.normalize("NFKC", text).split())
        missing = [number for number in headline if number not in text]
        assert not missing, f"{name}: {missing} not in the PDF text"


@pytest.mark.xdist_group("packs")
def test_pdf_embeds_the_cjk_font(sample_pack, tmp_path):
    """Chinese stays text in the PDF, drawn by fonts carried inside the file.

    Chromium embeds the CJK font as Type 3 glyph procedures (the glyphs live in the PDF) with
    a ToUnicode map; a few characters map to their Kangxi-radical twins (⽉ for 月), which
    NFKC folds back, as a reader's search does.
    """
    import unicodedata

    from pypdf import PdfReader

    from helpers.batch import print_pdf

    pdf = print_pdf(sample_pack.out_dir / "index.html", tmp_path / "index.pdf")
    reader = PdfReader(pdf)
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() or "" for p in reader.pages))
    assert "本月要点与行动" in text and "核心指标" in text, text[:300]
    fonts = []
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            entries = [d.get_object() for d in font.get("/DescendantFonts") or []] or [font]
            descriptors = [e.get("/FontDescriptor") for e in entries]
            embedded = font.get("/Subtype") == "/Type3" or any(
                d is not None and any(k in d.get_object() for k in ("/FontFile2", "/FontFile3"))
                for d in descriptors
            )
            fonts.append((str(font.get("/BaseFont")), str(font.get("/Subtype")), embedded))
    assert fonts and all(embedded for _, _, embedded in fonts), fonts


def _fonts(context, html_path: Path, selector: str) -> dict:
    """Declared font family of ``selector`` and the platform fonts Chromium drew it with."""
    page = context.new_page()
    try:
        page.goto(html_path.as_uri(), wait_until="load")
        declared = page.evaluate(
            "s => getComputedStyle(document.querySelector(s)).fontFamily", selector
        )
        session = context.new_cdp_session(page)
        session.send("DOM.enable")
        session.send("CSS.enable")
        root = session.send("DOM.getDocument")["root"]["nodeId"]
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        used = session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        session.detach()
    finally:
        page.close()
    return {"declared": declared, "used": [font["familyName"] for font in used]}


def test_pack_pages_render_in_the_intended_sans_serif_font(browser, fixture_pack):
    # The pack's own pages inline fishpond.css. Autoescaped, the CSS block turned into
    # &#34;...&#34; and the index fell back to the browser's serif default.
    from helpers.batch import CSS_PATH

    css = CSS_PATH.read_text(encoding="utf-8")
    intended = re.search(r"--fp-font:\s*([^;]+);", css).group(1)
    first = re.match(r'\s*"([^"]+)"', intended).group(1)
    pages = ("index.html", "raises.html", "needs_campaigns.html", "ok_report.html")
    # h1: Chinese glyphs; the footer's run id: Latin glyphs (a serif default shows there).
    for name, selector in [(page, part) for page in pages for part in ("h1", "footer")]:
        fonts = _fonts(browser, fixture_pack.out_dir / name, selector)
        where = f"{name} {selector}: declared {fonts['declared']!r}, drawn with {fonts['used']}"
        declared = fonts["declared"]
        assert declared.startswith(f'"{first}"') and declared.endswith("sans-serif"), where
        assert fonts["used"], where
        # Every glyph of the heading comes from a sans-serif face (Noto Sans CJK with
        # fonts-noto-cjk; DejaVu Sans for Latin on a bare Debian), never from a serif one.
        assert all("Sans" in family for family in fonts["used"]), where
