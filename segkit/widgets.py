"""Interactive explorers for JupyterLab (ipywidgets).

In a rendered HTML report widgets cannot run, so notebooks show a static table
next to each explorer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import display

from segkit.attribution import DEFAULT_MODELS, attribute
from segkit.journeys import journeys, label_journeys
from segkit.lifecycle import lifecycle
from segkit.rfm import rfm


class SegmentExplorer:
    """Sliders for the RFM bins and the lifecycle windows; segment sizes follow them.

    Parameters
    ----------
    view : DataFrame
        A customer view (pandas), as from :func:`segkit.customer_view`.
    bins, new_days, churn_days : int
        Starting values of the sliders.

    Attributes
    ----------
    shown : tuple of DataFrame
        The RFM segment and lifecycle stage sizes on display, redrawn on every change.

    Example
    -------
    >>> explorer = SegmentExplorer(view)  # doctest: +SKIP
    >>> explorer  # in JupyterLab: move a slider, the tables update  # doctest: +SKIP
    """

    def __init__(
        self, view: pd.DataFrame, bins: int = 5, new_days: int = 90, churn_days: int = 365
    ):
        self.view = view
        self.bins = widgets.IntSlider(bins, min=2, max=9, description="RFM bins")
        self.new_days = widgets.IntSlider(
            new_days, min=7, max=365, step=7, description="New (days)"
        )
        self.churn_days = widgets.IntSlider(
            churn_days, min=30, max=1095, step=15, description="Churn (days)"
        )
        self.output = widgets.Output()
        for slider in (self.bins, self.new_days, self.churn_days):
            slider.observe(self._refresh, names="value")
        self._refresh()

    def sizes(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Customers per RFM segment and per lifecycle stage for the current slider values."""
        scored = rfm(self.view, bins=self.bins.value)
        staged = lifecycle(
            self.view,
            new_days=self.new_days.value,
            churn_days=max(self.churn_days.value, self.new_days.value + 1),
        )
        return _counts(scored, "rfm_segment"), _counts(staged, "lifecycle_stage")

    def _refresh(self, _change: Any = None) -> None:
        rfm_sizes, stage_sizes = self.shown = self.sizes()
        with self.output:
            self.output.clear_output(wait=True)
            display(widgets.HBox([_table(rfm_sizes), _table(stage_sizes)]))

    @property
    def widget(self) -> widgets.VBox:
        return widgets.VBox(
            [widgets.HBox([self.bins, self.new_days, self.churn_days]), self.output]
        )

    def _ipython_display_(self) -> None:
        display(self.widget)


class AttributionExplorer:
    """Switch the attribution model, the lookback window and the segment; credits follow.

    Parameters
    ----------
    touchpoints, orders : DataFrame
        Canonical tables (pandas).
    segments : DataFrame
        One row per customer with ``customer_id`` and ``segment`` (segments.parquet).
    models : sequence of str
        The models offered, by default :data:`segkit.attribution.DEFAULT_MODELS`.
    lookback_days : int
        Starting lookback window of the journeys.
    journey_options : mapping, optional
        Options of :func:`segkit.journeys` other than ``lookback_days``
        (``interactions``, ``collapse_repeats``, ``max_steps``) for every window.
    journeys : DataFrame, optional
        Labelled journeys already built with ``lookback_days`` and
        ``journey_options`` (notebook 03's), used for the starting window instead
        of building them again; other windows are built on first use.

    Attributes
    ----------
    shown : DataFrame
        The channel credits on display, redrawn on every change.

    Example
    -------
    >>> AttributionExplorer(data.touchpoints, data.orders, segments)  # doctest: +SKIP
    """

    def __init__(
        self,
        touchpoints: pd.DataFrame,
        orders: pd.DataFrame,
        segments: pd.DataFrame,
        models: tuple[str, ...] = DEFAULT_MODELS,
        lookback_days: int = 30,
        journey_options: Mapping[str, Any] | None = None,
        journeys: pd.DataFrame | None = None,
    ):
        self.journey_options = dict(journey_options or {})
        self.touchpoints, self.orders, self.segments = touchpoints, orders, segments
        self.model = widgets.Dropdown(options=list(models), description="Model")
        self.lookback = widgets.IntSlider(lookback_days, min=1, max=90, description="Lookback")
        choices = ["All customers", *sorted(segments["segment"].dropna().unique())]
        self.segment = widgets.Dropdown(options=choices, description="Segment")
        self.output = widgets.Output()
        self._journeys: dict[int, pd.DataFrame] = {}
        if journeys is not None:
            self._journeys[lookback_days] = journeys
        for control in (self.model, self.lookback, self.segment):
            control.observe(self._refresh, names="value")
        self._refresh()

    def journeys(self) -> pd.DataFrame:
        """Labelled journeys for the current lookback window (built once per window)."""
        days = self.lookback.value
        if days not in self._journeys:
            built = journeys(
                self.touchpoints, self.orders, lookback_days=days, **self.journey_options
            )
            self._journeys[days] = label_journeys(built, self.segments)
        return self._journeys[days]

    def credits(self) -> pd.DataFrame:
        """Channel credits of the chosen model for the chosen segment, largest first."""
        selected = self.journeys()
        if self.segment.value != "All customers":
            selected = selected[selected["segment"] == self.segment.value]
        credits = attribute(selected, self.model.value)
        total = credits["conversions"].sum()
        return credits.assign(
            share=credits["conversions"] / total if total else float("nan")
        ).sort_values("conversions", ascending=False, ignore_index=True)

    def _refresh(self, _change: Any = None) -> None:
        self.shown = self.credits()
        with self.output:
            self.output.clear_output(wait=True)
            display(_table(self.shown))

    @property
    def widget(self) -> widgets.VBox:
        return widgets.VBox([widgets.HBox([self.model, self.lookback, self.segment]), self.output])

    def _ipython_display_(self) -> None:
        display(self.widget)


def _counts(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    counts = frame[column].value_counts().rename_axis(column).reset_index(name="customers")
    return counts.assign(share=counts["customers"] / counts["customers"].sum())


def _table(frame: pd.DataFrame) -> widgets.HTML:
    formats = {"share": "{:.1%}".format}
    return widgets.HTML(
        frame.to_html(index=False, formatters=formats, float_format="{:,.2f}".format)
    )
