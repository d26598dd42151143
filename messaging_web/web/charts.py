"""Server-rendered SVG line charts (no JavaScript, no chart library): the geometry of the analytics chart,
which templates/analytics/_chart.html draws, with a table beside it as its text alternative."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import format_date

from ..i18n import _l

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
# Distinguishable in colour and, for those who cannot tell the colours apart, by dash pattern.
STYLES = {
    "sent": ("#1f5fbf", ""), "delivered": ("#137a3a", ""), "opened": ("#7a3fb5", "6 3"),
    "clicked": ("#b35c00", "2 3"), "bounced": ("#c0262d", "8 3 2 3"), "complained": ("#8a1a5c", "4 4"),
    "suppressed": ("#555555", "1 3"),
}
# What the chart's legend, its title texts and its table call each line.
SERIES_LABELS = {
    "sent": _l("Sent"), "delivered": _l("Delivered"), "opened": _l("Opened"), "clicked": _l("Clicked"),
    "bounced": _l("Bounced"), "complained": _l("Complained"), "suppressed": _l("Suppressed"),
}


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    dash: str
    points: str  # "x,y x,y ..." in the chart's coordinates
    total: int

    @property
    def label(self) -> str:
        return str(SERIES_LABELS.get(self.name, self.name.capitalize()))


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    series: list[Series]
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, int]]
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def line_chart(days: list, names: tuple[str, ...]) -> Chart:
    """`days`: email_analytics.Day entries, oldest first; one line per figure in `names`."""
    count = max(1, len(days) - 1)
    top = _nice_max(max([getattr(d.figures, n) for d in days for n in names] or [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return round(LEFT + plot_w * i / count, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    series = [
        Series(name, *STYLES[name], " ".join(f"{x(i)},{y(getattr(d.figures, name))}" for i, d in enumerate(days)),
               sum(getattr(d.figures, name) for d in days))
        for name in names
    ]
    every = max(1, len(days) // 6)
    labels = [(x(i), format_date(d.day, "dd MMM")) for i, d in enumerate(days) if i % every == 0]
    ticks = [(y(top * k // 4), top * k // 4) for k in range(5)]
    return Chart(WIDTH, HEIGHT, series, labels, ticks)
