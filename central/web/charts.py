"""Charts drawn by the central as SVG (#23), with pygal.

The central runs without internet and its pages run no script they did not send: pygal's
SVG would load its tooltip script from a CDN (`js`) and carries its configuration in an
inline `<script>`. Here every chart is rendered with `js=[]`, and the inline script and the
comments naming pygal's web site are taken out of the tree before it is written, so a chart
holds drawing and its own `<style>` only. Each point keeps pygal's `<desc class="value">`:
the figure as drawn, for a reader (and a test) of the SVG.

The functions here turn figures into SVG; which figures, and who may see them, is
`charts_pages`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.etree import ElementTree

import pygal
from pygal.style import Style

SVG = "http://www.w3.org/2000/svg"
STATE_COLOURS = {"OK": "#0a6b2d", "DEGRADED": "#d08a00", "OFFLINE": "#b00020"}
PRIORITY_COLOURS = ("#b00020", "#e0561b", "#d08a00", "#3a6ea5", "#7a7a7a")
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#888",
    font_family="system-ui, sans-serif",
    title_font_family="system-ui, sans-serif",
    label_font_family="system-ui, sans-serif",
    major_label_font_family="system-ui, sans-serif",
    value_font_family="system-ui, sans-serif",
    legend_font_family="system-ui, sans-serif",
    title_font_size=16,
    legend_font_size=12,
    label_font_size=11,
    major_label_font_size=11,
    colors=("#3a6ea5", "#0a6b2d", "#d08a00", "#b00020", "#7a4fa0", "#7a7a7a"),
)

Series = Sequence[tuple[str, Sequence[object]]]


def count(value: float) -> str:
    return f"{value:.0f}"


def decimal(value: float) -> str:
    return f"{value:.2f}"


def _options(title: str, **options) -> dict:
    """What every chart shares: no script (`js=[]`), pygal's own CSS inlined from its
    package (no external stylesheet), no XML declaration (the SVG may sit in a page)."""
    shared = dict(
        title=title, js=[], disable_xml_declaration=True, style=STYLE, width=900,
        height=380, legend_at_bottom=True, truncate_legend=40, truncate_label=30,
        print_values=False, show_y_guides=True, no_data_text="-", value_formatter=count,
    )  # fmt: skip
    shared.update(options)
    return shared


def render(chart) -> str:
    """The chart as SVG text without any `<script>` or comment."""
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            if child.tag is ElementTree.Comment or tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    ElementTree.register_namespace("", SVG)
    return ElementTree.tostring(tree, encoding="unicode")


def line(
    title: str, x_labels: Sequence[str], series: Series, *, major_every: int = 24,
    formatter: Callable[[float], str] = count, y_range: tuple[float, float] | None = None,
    markers: Series = (), marker_colours: Sequence[str] = (),
) -> str:  # fmt: skip
    """A line per series over `x_labels` (None: no figure there), with `markers`: series
    drawn as dots only (a change of state, say), each point possibly `{"value", "label"}`."""
    colours = tuple(STYLE.colors[: len(series)]) + tuple(marker_colours)
    style = Style(**{**STYLE.to_dict(), "colors": colours or STYLE.colors})
    chart = pygal.Line(**_options(
        title, style=style, x_labels_major_every=major_every, show_minor_x_labels=False,
        x_label_rotation=0, value_formatter=formatter, show_dots=True,
        dots_size=2 if len(x_labels) <= 48 else 1, allow_interruptions=True, range=y_range,
        min_scale=2, max_scale=6,
    ))  # fmt: skip
    chart.x_labels = list(x_labels)
    for name, values in series:
        chart.add(name, list(values))
    for name, values in markers:
        chart.add(name, list(values), stroke=False, show_dots=True, dots_size=6)
    return render(chart)


def bars(
    title: str, x_labels: Sequence[str], series: Series, *, stacked: bool = False,
    horizontal: bool = False, colours: Sequence[str] = (),
    formatter: Callable[[float], str] = count, height: int = 380,
) -> str:  # fmt: skip
    """Bars per label, a bar (or, `stacked`, a part of one) per series."""
    kind = {
        (False, False): pygal.Bar,
        (True, False): pygal.StackedBar,
        (False, True): pygal.HorizontalBar,
        (True, True): pygal.HorizontalStackedBar,
    }
    style = Style(**{**STYLE.to_dict(), "colors": tuple(colours) or STYLE.colors})
    chart = kind[(stacked, horizontal)](**_options(
        title, style=style, value_formatter=formatter, height=height,
        x_label_rotation=0 if horizontal or len(x_labels) <= 14 else 40,
        show_legend=len(series) > 1,
    ))  # fmt: skip
    # pygal draws a horizontal chart's first label at the bottom: the first at the top here.
    step = -1 if horizontal else 1
    chart.x_labels = list(x_labels)[::step]
    for name, values in series:
        chart.add(name, list(values)[::step])
    return render(chart)
