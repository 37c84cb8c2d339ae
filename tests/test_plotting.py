"""Chinese labels must render with the bundled font: any missing-glyph warning fails."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from helpers import plotting  # noqa: E402


def test_font_is_shipped_by_a_package_and_registered_by_path():
    path = plotting.cjk_font_path()
    assert path.name == "NotoSansCJKsc-Regular.otf" and path.stat().st_size > 1_000_000
    plotting.register_cjk_font()
    assert str(path) in {entry.fname for entry in font_manager.fontManager.ttflist}


def test_chinese_plot_renders_without_missing_glyph_warnings(tmp_path):
    plotting.set_theme()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" becomes an error
        fig, ax = plt.subplots()
        ax.bar(["大众客户", "潜力客户", "财富客户", "私行客户"], [8000, 1500, 450, -50])
        ax.set_title("客户分层:资产余额(万元)")
        ax.set_xlabel("客户层级")
        ax.yaxis.set_major_formatter(plotting.rmb_formatter())
        plotting.sample_note(ax, 2000, 10000, "zh")
        fig.savefig(tmp_path / "plot.png")
        plt.close(fig)
    assert (tmp_path / "plot.png").stat().st_size > 5000
    assert plt.rcParams["font.sans-serif"][0] == "Noto Sans CJK SC"


def test_missing_glyphs_are_detected_without_the_theme(tmp_path):
    """The check above can fail: DejaVu Sans alone has no Chinese glyphs."""
    with plt.rc_context({"font.family": "DejaVu Sans", "font.sans-serif": ["DejaVu Sans"]}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig, ax = plt.subplots()
            ax.set_title("客户分层")
            fig.savefig(tmp_path / "boxes.png")
            plt.close(fig)
    assert any("missing from font" in str(w.message) for w in caught)


def test_tier_palette_is_stable():
    palette = plotting.tier_palette(["mass", "private", "other"])
    assert palette["mass"] == plotting.TIER_COLOURS["mass"]
    assert palette["other"].startswith("#")


def test_axes_never_show_scientific_notation():
    import matplotlib.pyplot as plt

    from helpers import plotting

    figure, (log_ax, money_ax) = plt.subplots(1, 2)
    log_ax.set_xscale("log")
    log_ax.plot([0.4, 2.5], [1, 2])
    log_ax.set_xticks([0.4, 1, 2])
    money_ax.plot([0, 1], [1e6, 3e6])
    plotting.plain_number_axes(figure)
    figure.canvas.draw()
    assert [t.get_text() for t in log_ax.get_xticklabels()] == ["0.4", "1", "2"]
    labels = [t.get_text() for t in money_ax.get_yticklabels()]
    assert "1,000,000" in labels and money_ax.yaxis.get_offset_text().get_text() == ""
    plt.close(figure)


def test_chart_description_from_titles_then_labels():
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2)
    left.set_title("各层级资产")
    right.set_title("客户数")
    assert plotting.chart_description(figure) == "各层级资产; 客户数"
    figure.suptitle("  资产  结构 ")
    assert plotting.chart_description(figure) == "资产 结构"
    bare, axes = plt.subplots()
    axes.set_xlabel("month")
    axes.set_ylabel("AUM")
    assert plotting.chart_description(bare, "en") == "AUM / month"
    assert plotting.chart_description(plt.figure(), "en") == "Chart"
    assert plotting.chart_description(plt.figure(), "zh") == "图表"
    plt.close("all")
