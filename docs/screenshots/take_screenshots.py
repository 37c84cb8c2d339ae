"""Screenshots of a pack's index and monthly summary, as a manager sees them (headless Chromium).

Usage (after `fishpond run --out /tmp/zh --lang zh` and `--out /tmp/en --lang en`)::

    python docs/screenshots/take_screenshots.py /tmp/zh /tmp/en

Writes ``index_<lang>.png`` and ``summary_<lang>.png`` beside this script: the top of each
page (actions, tiles with their direction, the summary box with its links, the trend table
and charts), 1100 px wide, reduced to a 256-colour palette so the files stay small.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
PAGES = {"index": ("index.html", 1500), "summary": ("05_monthly_summary.html", 2300)}


def shoot(pack: Path, context) -> list[Path]:
    lang = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))["lang"]
    written = []
    for name, (html, height) in PAGES.items():
        page = context.new_page()
        page.goto((pack / html).as_uri(), wait_until="load")
        full = HERE / f"{name}_{lang}.png"
        clip = {"x": 0, "y": 0, "width": 1100, "height": height}
        page.screenshot(path=str(full), full_page=True, clip=clip)
        page.close()
        image = Image.open(full).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
        image.save(full, optimize=True)
        written.append(full)
    return written


def main(packs: list[str]) -> None:
    profile = tempfile.mkdtemp(prefix="fishpond-shots-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            viewport={"width": 1100, "height": 900},
        )
        for pack in packs:
            for path in shoot(Path(pack), context):
                print(path, path.stat().st_size // 1024, "KB")
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
