"""Plot theme and small plotting helpers shared by the notebooks.

Chinese labels need a CJK font. We register Noto Sans CJK SC *by file path* from the
``mplfonts`` package (a PyPI package that ships the font), so plots render Chinese on a machine
with no system fonts and without rebuilding matplotlib's font cache, then hand the family to
``sns.set_theme(font=...)`` (set_theme resets the family, so setting rcParams first is lost).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter

FONT_FILE = "NotoSansCJKsc-Regular.otf"
FONT_FAMILY = "Noto Sans CJK SC"
# A sober, colour-blind-safe palette; tiers keep the same colour in every chart.
TIER_COLOURS = {
    "mass": "#9BB7D4",
    "affluent": "#4C78A8",
    "wealth": "#F58518",
    "private": "#B2182B",
}


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font file (from the ``mplfonts`` package)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The CJK font package 'mplfonts' is not installed; run `make setup` "
            "(it is a dependency in pyproject.toml)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_FILE
    if not path.exists():
        raise RuntimeError(f"CJK font not found at {path}; reinstall mplfonts")
    return path


def register_cjk_font() -> str:
    """Register the bundled CJK font with matplotlib by path; return its family name."""
    path = str(cjk_font_path())
    if path not in {entry.fname for entry in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    return FONT_FAMILY


def set_theme(context: str = "notebook", style: str = "whitegrid") -> None:
    """Apply the Fishpond seaborn theme with the CJK font registered.

    Call once in a notebook's setup cell, before any plot.
    """
    import seaborn as sns  # here, not at import: the runner and its workers never plot

    family = register_cjk_font()
    sns.set_theme(context=context, style=style, palette="deep", font=family)
    matplotlib.rcParams.update(
        {
            "figure.figsize": (8, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "font.sans-serif": [family, "DejaVu Sans"],
        }
    )


def tier_palette(codes: list[str] | None = None) -> dict[str, str]:
    """Colours by tier code, stable across charts; unknown codes get seaborn colours."""
    import seaborn as sns

    codes = codes or list(TIER_COLOURS)
    extra = iter(sns.color_palette("deep", len(codes)).as_hex())
    return {code: TIER_COLOURS.get(code) or next(extra) for code in codes}


def rmb_formatter(unit: float = 1.0, decimals: int = 0) -> FuncFormatter:
    """Tick formatter with thousands separators, optionally in units (1e4 = 万)."""
    return FuncFormatter(lambda value, _: f"{value / unit:,.{decimals}f}")


def sample_note(ax, shown: int, total: int, lang: str = "zh"):
    """State on the chart that it shows a capped sample (DESIGN.md §10); return the Axes."""
    if shown < total:
        text = (
            f"抽样 {shown:,} / {total:,} 位客户"
            if lang == "zh"
            else f"sample of {shown:,} of {total:,} customers"
        )
        ax.annotate(
            text,
            xy=(1.0, -0.12),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize=8,
            color="#666666",
        )
    return ax


def translate_figure(figure, translate) -> None:
    """Replace every text of ``figure`` that ``translate`` changes (codes -> words).

    Tick labels (after a draw, so category axes have their labels), legend entries, titles,
    axis labels and free texts. Numeric tick labels are left to their formatters.
    """
    figure.canvas.draw()
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels()
            texts = [label.get_text() for label in labels]
            new = [translate(text) for text in texts]
            if new != texts:
                axis.set_ticks(axis.get_ticklocs(), new)
        legend = ax.get_legend()
        texts = list(ax.texts) + ([*legend.get_texts(), legend.get_title()] if legend else [])
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        for text in texts:
            value = text.get_text()
            changed = translate(value)
            if changed != value:
                text.set_text(changed)
    for text in figure.texts:
        changed = translate(text.get_text())
        if changed != text.get_text():
            text.set_text(changed)


def _plain_number(value: float, _position=None) -> str:
    """A tick as a manager reads it: 0.4, 12, 1,500, 2,000,000 (no 4×10⁻¹, no 1e6)."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def plain_number_axes(figure) -> None:
    """No scientific notation on any axis: log axes get plain tick labels (0.4, 1,000,000)
    and no minor labels; linear axes with matplotlib's default formatter lose their offset
    ("1e6") and get thousands separators. Axes with their own formatter are left alone."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if axis.get_scale() == "log":
                axis.set_major_formatter(FuncFormatter(_plain_number))
                axis.set_minor_formatter(NullFormatter())
            elif type(formatter) is ScalarFormatter:
                low, high = sorted(abs(v) for v in axis.get_view_interval())
                if high >= 10_000:
                    axis.set_major_formatter(FuncFormatter(_plain_number))


def chart_description(figure, lang: str = "zh") -> str:
    """Alternative text for a chart: its title (the figure's, else its axes' titles).

    Management pages show charts as images; their ``alt`` text (read aloud by screen readers,
    shown when the image cannot load) comes from here. A chart without any title falls back to
    its axis labels, then to a generic word. The text is plain: the page template escapes it.
    """
    parts: list[str] = []
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        parts.append(suptitle.get_text().strip())
    axes = [ax for ax in getattr(figure, "axes", []) if ax.get_visible()]
    if not parts:
        for ax in axes:
            titles = [ax.get_title(loc) for loc in ("center", "left", "right")]
            parts += [title.strip() for title in titles if title.strip()]
    if not parts:
        for ax in axes:
            labels = [ax.get_ylabel().strip(), ax.get_xlabel().strip()]
            labels = [label for label in labels if label]
            if labels:
                parts.append(" / ".join(labels))
    text = "; ".join(dict.fromkeys(" ".join(part.split()) for part in parts))
    return text or ("图表" if lang == "zh" else "Chart")
