"""Figures for the compare report, written as PNG files.

matplotlib is imported lazily, inside the functions, and only through
``matplotlib.figure.Figure`` with the Agg canvas: no pyplot, no global backend
switch, nothing shown on screen.

Convergence plots (one figure per problem, two panels: vs oracle calls and vs
time): the y axis is the relative objective gap ``(f - f*) / max(1, |f*|)`` when
the problem has a baseline objective ``f*`` (floored at 1e-16, the rounding
level), else the run's stationarity measure (``grad_norm``, ...) -- a gap to the
best value found would be exactly 0 for the best run and says little on
nonconvex problems. Per solver, the line is the median over seeds and the shaded
band spans min to max over seeds; each seed's trace is read as a step function
(its latest sampled value) and holds its final value after it stops. Runs
without a trace (cvxpy) are single markers at their final value.
"""
from __future__ import annotations

__all__ = ["solver_colors", "plot_profiles", "plot_convergence", "convergence_series", "GAP_FLOOR"]

import functools
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..result import Result
from .codec import trace_columns
from .profiles import NEVER_SOLVES, Profile, solver_labels

Y_CEILING = 1e100    # diverging runs are drawn at this height
GAP_FLOOR = 1e-16
MAX_POINTS = 400     # x positions per convergence curve: a panel is about 400 pixels wide
DPI = 100
PNG_LEVEL = 1        # zlib level of the PNGs: faster than PIL's default 6, files about 1.15x larger


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


LEGEND_WIDTH = 2.6     # inches to the right of the axes for the figure's legend


def _margins(fig, width: float, height: float, rows: int, title: bool, legend: float = 0.0) -> None:
    """Fixed margins in inches (a layout engine would draw every figure twice); ``legend``:
    inches kept free on the right for the legend, outside every curve."""
    top = 0.65 if title else 0.4
    plot_width = width - legend
    fig.subplots_adjust(left=0.8 / width, right=1 - (0.25 + legend) / width, bottom=0.6 / height,
                        top=1 - top / height, wspace=1.0 / (plot_width / 2 - 1.0),
                        hspace=0.95 / max(1.0, (height - top - 0.6) / rows - 0.95))


def _outside_legend(fig, axes, width: float) -> None:
    """One legend for the whole figure, right of the axes (never over a curve); entries
    from every panel, each label once, sorted."""
    seen = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(name, handle)
    if seen:
        names = sorted(seen)
        fig.legend([seen[n] for n in names], names, loc="upper left", fontsize=8, frameon=False,
                   bbox_to_anchor=(1 - (LEGEND_WIDTH - 0.1) / width, 1 - 0.7 / fig.get_figheight()))


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _power_label(base: float, value: float, _pos=None) -> str:
    """A log axis' tick label as plain text: ``0.01`` ... ``1000`` (``1`` ... ``1024`` in base 2)
    as numbers, other powers as ``10⁻⁶`` in Unicode superscripts (mathtext, matplotlib's default,
    costs a parser run per label: a third of a report's drawing time)."""
    if value <= 0:
        return "0" if value == 0 else "-" + _power_label(base, -value)
    k = math.log(value, base)
    if abs(k - round(k)) > 1e-9 or (-2 <= k <= 3 if base == 10 else -4 <= k <= 10):
        return f"{value:g}"
    return f"{base:g}" + str(round(k)).translate(_SUPERSCRIPT)


def _tick_labels(ax, x_base: float = 10.0) -> None:
    """Plain-text labels on log and symlog axes, and no minor ticks there unless the axis spans
    less than two powers of its base (each tick is seven artists: minor ticks were half a
    report's drawing time; the grid follows the major ones). Minor ticks are never labelled."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator
    for axis, base, limits in ((ax.xaxis, x_base, ax.get_xlim), (ax.yaxis, 10.0, ax.get_ylim)):
        if axis.get_scale() in ("log", "symlog"):
            axis.set_major_formatter(FuncFormatter(functools.partial(_power_label, base)))
            axis.set_minor_formatter(NullFormatter())
            lo, hi = limits()
            if axis.get_scale() == "symlog" or not 0 < lo < hi < lo * base ** 2:
                axis.set_minor_locator(NullLocator())


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_LEVEL})
    return path


def solver_colors(labels: Sequence[str]) -> dict[str, str]:
    """A stable color per solver label (matplotlib's tab10, then tab20 cycles)."""
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
               "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]
    return {label: palette[i % len(palette)] for i, label in enumerate(sorted(set(labels)))}


# -- profiles ------------------------------------------------------------------
_MEASURE_TEXT = {"oracle_calls": "oracle calls", "time": "time"}


def _draw_profile(ax, profile: Profile, colors: Mapping[str, str]) -> None:
    kind, measure = profile.kind, profile.measure
    tau = f", tau = {profile.tau:g}" if profile.tau is not None else ""
    ax.set_title(f"{kind} profile, {_MEASURE_TEXT.get(measure, measure)}{tau}", fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of instances solved" if kind == "data" else "rho(alpha)")
    if kind == "performance":
        ax.set_xlabel("alpha: cost / best cost (log2)")
    elif measure == "oracle_calls":
        ax.set_xlabel("alpha: oracle calls / (n + 1)")
    else:
        ax.set_xlabel("alpha: seconds")
    alphas = np.asarray(profile.alphas, dtype=float)
    if not profile.curves or alphas.size == 0:
        ax.text(0.5, 0.5, "no instance solved" if profile.curves else "no solver with this measure",
                ha="center", va="center", transform=ax.transAxes)
        return
    positive = alphas[alphas > 0]
    if kind == "performance":
        lo, hi = 1.0, max(2.0, float(alphas.max()) * 2)
        ax.set_xscale("log", base=2)
    elif positive.size == alphas.size:
        lo, hi = float(alphas.min()) / 2, float(alphas.max()) * 2
        ax.set_xscale("log")
    else:   # a zero cost (a solve at the starting point): symlog keeps it on the axis
        lin = float(positive.min()) if positive.size else 1.0
        lo, hi = 0.0, max(float(alphas.max()) * 2, lin * 2)
        ax.set_xscale("symlog", linthresh=lin)
    for label, curve in sorted(profile.curves.items()):
        x = np.concatenate([[lo], alphas, [hi]])
        first = 0.0 if kind == "data" or alphas[0] > lo else float(curve[0])
        y = np.concatenate([[first], curve, [curve[-1]]])
        keep = np.r_[True, y[1:] != y[:-1]]         # the steps only: the same line (10^5 runs: 10^5 alphas)
        keep[-1] = True
        ax.step(x[keep], y[keep], where="post", color=colors.get(label), lw=1.8, label=label)
    ax.set_xlim(lo, hi)
    _tick_labels(ax, 2.0 if kind == "performance" else 10.0)
    ax.grid(True, alpha=0.3)


def plot_profiles(profiles: Sequence[Profile], path: str | Path, *, title: str | None = None,
                  colors: Mapping[str, str] | None = None, columns: int = 2) -> Path:
    """Draw ``profiles`` (one panel each, ``columns`` per row) into the PNG ``path``."""
    if colors is None:
        colors = solver_colors([s for p in profiles for s in p.curves])
    rows = max(1, math.ceil(len(profiles) / columns))
    width, height = 5.2 * columns + LEGEND_WIDTH, 4.2 * rows + (0.4 if title else 0)
    fig = _figure(width, height)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    _margins(fig, width, height, rows, bool(title), LEGEND_WIDTH)
    for ax, profile in zip(axes, profiles):
        _draw_profile(ax, profile, colors)
    for ax in axes[len(profiles):]:
        ax.set_visible(False)
    _outside_legend(fig, axes[:len(profiles)], width)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# -- convergence -----------------------------------------------------------------
def _y_values(points_obj, points_stat, f_star: float | None) -> np.ndarray:
    """Plotted y: the relative gap (floored at GAP_FLOOR) or the stationarity; non-finite values
    are dropped and diverging ones capped at Y_CEILING (a log axis spanning 1e306 overflows)."""
    if f_star is not None:
        y = (np.asarray(points_obj, dtype=float) - f_star) / max(1.0, abs(f_star))
        return np.where(np.isfinite(y), np.clip(y, GAP_FLOOR, Y_CEILING), np.nan)
    y = np.asarray(points_stat, dtype=float)
    return np.where(np.isfinite(y) & (y > 0), np.minimum(y, Y_CEILING), np.nan)


def convergence_series(runs: Sequence[Result], measure: str, f_star: float | None):
    """``(grid, median, low, high)`` over the traced ``runs`` (seeds of one solver), or
    ``None`` when no run has a finite traced value. ``measure``: ``oracle_calls``/``time``.
    ``low``/``high`` are the min and max over the seeds that have started at that x (``nan``
    before any has); ``grid`` has at most :data:`MAX_POINTS` x positions, whatever the
    number of runs.

    Vectorized over runs: every trace point is placed at the first grid point at or after its
    x, then each run's row is forward-filled (a step function holding its latest value), and
    the columns are sorted once (nan last) for the median, min and max."""
    traces = _traces(runs, f_star)
    return None if traces is None else _series(*traces, measure)


def _traces(runs: Sequence[Result], f_star: float | None):
    """``(columns, run index per point, y per point)`` of the traced ``runs``, or ``None``."""
    cols = [trace_columns(r.trace) for r in runs if r.trace]
    if not cols:
        return None
    row = np.repeat(np.arange(len(cols)), [len(c) for c in cols])
    ys = _y_values(np.concatenate([c.objective for c in cols]), np.concatenate([c.stationarity for c in cols]),
                   f_star)
    return cols, row, ys


def _series(cols, row, ys, measure: str):
    """:func:`convergence_series` of :func:`_traces` (shared by both panels of a figure)."""
    xs = np.concatenate([c.oracle_calls if measure == "oracle_calls" else c.time_s for c in cols]).astype(float)
    ok = np.isfinite(ys) & np.isfinite(xs)
    if not ok.any():
        return None
    _, row = np.unique(row[ok], return_inverse=True)        # runs without a finite point have no row
    xs, ys = xs[ok], ys[ok]
    if not np.all((xs[1:] >= xs[:-1]) | (row[1:] != row[:-1])):     # traces run forward: usually sorted
        order = np.lexsort((xs, row))                      # by run, then x (stable)
        xs, ys, row = xs[order], ys[order], row[order]
    n_rows = int(row.max()) + 1
    grid = np.unique(xs)
    if grid.size > MAX_POINTS:
        grid = grid[np.unique(np.linspace(0, grid.size - 1, MAX_POINTS).round().astype(int))]
    col = np.searchsorted(grid, xs, side="left")
    keep = col < grid.size                  # points past a subsampled grid's last x never show
    values = np.full((n_rows, grid.size), np.nan)
    last = np.r_[(row[1:] != row[:-1]) | (col[1:] != col[:-1]), True] & keep   # the latest point per column
    values[row[last], col[last]] = ys[last]
    filled = np.where(np.isnan(values), 0, np.arange(grid.size))
    np.maximum.accumulate(filled, axis=1, out=filled)
    values = np.take_along_axis(values, filled, axis=1)
    values.sort(axis=0)                                    # per x: the started seeds' values, then nan
    count = np.isfinite(values).sum(axis=0)
    at = np.arange(grid.size)
    started = count > 0
    lo_i, hi_i = np.maximum(count - 1, 0) // 2, np.maximum(count, 1) // 2
    med = np.where(started, 0.5 * (values[lo_i, at] + values[hi_i, at]), np.nan)
    low = np.where(started, values[0], np.nan)
    high = np.where(started, values[np.maximum(count - 1, 0), at], np.nan)
    return grid, med, low, high


def plot_convergence(results: Sequence[Result], path: str | Path, *, f_star: float | None = None,
                     title: str | None = None, colors: Mapping[str, str] | None = None,
                     labels: Sequence[str] | None = None) -> Path:
    """Convergence of every solver on one problem (``results``: its runs, all seeds).

    ``f_star``: the baseline objective (y = relative gap) or ``None`` (y = stationarity).
    ``labels``: solver label per result (default :func:`solver_labels`).
    """
    results = list(results)
    labels = list(labels) if labels is not None else solver_labels(results)
    if colors is None:
        colors = solver_colors(labels)
    by_solver: dict[str, list[Result]] = {}
    for r, label in zip(results, labels):
        by_solver.setdefault(label, []).append(r)
    stat_name = next((r.stationarity.name for r in results), "stationarity")
    ylabel = "relative gap (f - f*) / max(1, |f*|)" if f_star is not None else stat_name
    width, height = 10.4 + LEGEND_WIDTH, 4.2 + (0.4 if title else 0)
    fig = _figure(width, height)
    axes = fig.subplots(1, 2, squeeze=False).ravel()
    _margins(fig, width, height, 1, bool(title), LEGEND_WIDTH)
    traces = {label: _traces(runs, f_star) for label, runs in by_solver.items()}
    for ax, measure in zip(axes, ("oracle_calls", "time")):
        drew = False
        for label, runs in sorted(by_solver.items()):
            color = colors.get(label)
            seeds = len(runs)
            series = None if traces[label] is None else _series(*traces[label], measure)
            if series is not None:
                grid, med, low, high = series
                ax.step(grid, med, where="post", color=color, lw=1.6,
                        label=f"{label} (median of {seeds})" if seeds > 1 else label)
                if seeds > 1:
                    ax.fill_between(grid, low, high, step="post", color=color, alpha=0.2, lw=0)
                drew = True
            for r in runs:   # non-iterative runs: one marker at the final value
                if r.trace or r.status in NEVER_SOLVES:
                    continue
                y = _y_values([r.objective], [r.stationarity.value], f_star)[0]
                x = r.total_oracle_calls if measure == "oracle_calls" else r.wall_time_s
                if np.isfinite(y):
                    ax.plot([x], [y], marker="x", ls="none", color=color, ms=8,
                            label=f"{label} (final)" if series is None else None)
                    drew = True
        ax.set_yscale("log")
        if measure == "oracle_calls":
            ax.set_xscale("symlog", linthresh=1)
            ax.set_xlim(left=0)
            ax.set_xlabel("oracle calls")
        else:
            ax.set_xscale("log")
            ax.set_xlabel("time (s)")
        ax.set_ylabel(ylabel)
        _tick_labels(ax)
        ax.grid(True, alpha=0.3)
        if not drew:
            ax.text(0.5, 0.5, "no finite trace", ha="center", va="center", transform=ax.transAxes)
    _outside_legend(fig, axes, width)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
