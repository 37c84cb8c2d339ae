"""PDF for e-mail: the index and the monthly summary printed by headless Chromium.

Managers forward a pack by e-mail; two PDFs travel better than a folder. Debian's ``chromium``
(the same binary the browser tests drive) prints each page with ``--print-to-pdf``: it embeds
the fonts it renders with (subset), so Chinese text stays text in the PDF (searchable,
copyable) as long as a CJK font is installed (``fonts-noto-cjk``). Pages print with their
print stylesheet: the folded appendix, the table of contents and the back link are left out.

Nothing is downloaded; the pages are local files and Chromium runs with networking features
off and a throw-away profile. Each PDF is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: Pages of a pack that are printed, in order: (HTML file stem, PDF name).
PDF_PAGES = (("index", "index.pdf"), ("05_monthly_summary", "05_monthly_summary.pdf"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=10000",
)


class PdfError(RuntimeError):
    """The PDF could not be produced (no Chromium, or Chromium failed): says which and why."""


def chromium_executable() -> str | None:
    """The Chromium binary on PATH (``FISHPOND_CHROMIUM`` overrides), or None."""
    override = os.environ.get("FISHPOND_CHROMIUM")
    if override:
        return override if Path(override).is_file() else shutil.which(override)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path, timeout: int = 180) -> Path:
    """Print one local HTML page to ``pdf_path`` with headless Chromium.

    Raises
    ------
    PdfError
        When Chromium is missing, fails, times out or writes no PDF.
    """
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    executable = chromium_executable()
    if executable is None:
        raise PdfError(
            "Chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk); "
            "the PDF needs it"
        )
    if not html_path.is_file():
        raise PdfError(f"no page to print: {html_path}")
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf_path.with_name(f".{pdf_path.name}.partial-{os.getpid()}.pdf")
    with tempfile.TemporaryDirectory(prefix="fishpond-pdf-") as profile:
        command = [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={partial}",
            html_path.as_uri(),
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise PdfError(
                f"Chromium took more than {timeout} s to print {html_path.name}"
            ) from None
    if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise PdfError(f"Chromium could not print {html_path.name}: {detail[0]}")
    os.replace(partial, pdf_path)
    return pdf_path


def write_pack_pdfs(pack_dir: str | Path, timeout: int = 180) -> list[Path]:
    """Print the pack's index and monthly summary (those that exist) into ``<pack>/pdf/``."""
    pack_dir = Path(pack_dir)
    written = []
    for stem, name in PDF_PAGES:
        page = pack_dir / f"{stem}.html"
        if page.is_file():
            written.append(print_pdf(page, pack_dir / "pdf" / name, timeout))
    if not written:
        raise PdfError(f"{pack_dir} has neither index.html nor the monthly summary to print")
    return written


def record_pdfs(pack_dir: str | Path, manifest: dict) -> dict:
    """Print the pack's PDFs and note the result in ``manifest`` (``pdf``: the files relative to
    the pack, or ``pdf_error``: why there are none). Returns the manifest."""
    try:
        printed = write_pack_pdfs(pack_dir)
        manifest["pdf"] = [str(path.relative_to(Path(pack_dir))) for path in printed]
    except PdfError as error:
        manifest["pdf_error"] = str(error)
    return manifest


def announce_pdfs(pack_dir: str | Path, manifest: dict) -> bool:
    """Print where the PDFs went (stdout) or why there are none (stderr); False on the latter."""
    for name in manifest.get("pdf", []):
        print(f"PDF: {Path(pack_dir) / name}")
    if manifest.get("pdf_error"):
        print(f"fishpond run: no PDF: {manifest['pdf_error']}", file=sys.stderr)
        return False
    return True
