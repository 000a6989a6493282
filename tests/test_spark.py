"""PySpark frames: the same numbers as pandas, computed in Spark, only small tables collected.

One local Spark (``local[2]``) serves the module. The synthetic data is small because every
Spark query costs about a second whatever its size; the journeys are cached once for the
model comparisons (a cache changes where Spark keeps them, not what they are).
"""

from __future__ import annotations

import narwhals as nw
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql.classic.dataframe import DataFrame as ClassicSparkFrame

import segkit as sk
from segkit import clv
from segkit.attribution import MODELS, attribute
from segkit.frames import collect_small, days_between, microseconds_between
from segkit.simulation import simulate

#: PySpark 4.3 warns on each pandas conversion (the test's own: building frames, comparing)
#: that it does not fully support pandas 3 yet, and passes a keyword pandas 3 deprecates.
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

AS_OF = "2025-12-31"
TABLES = ("orders", "customers", "feedback", "touchpoints")
#: Options for the models that need some.
OPTIONS = {"custom": {"weights": {"first": 0.5, "last": 0.3, "middle": 0.2}}}
#: How Spark hands rows to Python (narwhals collects with ``toArrow``).
COLLECTORS = ("toArrow", "toPandas", "collect")


@pytest.fixture(scope="module")
def data():
    return simulate(n_customers=300, seed=7, defects=False)


@pytest.fixture(scope="module")
def frames(spark, data) -> dict[str, SparkFrame]:
    return {name: spark.createDataFrame(getattr(data, name)) for name in TABLES}


@pytest.fixture(scope="module")
def views(data, frames) -> tuple[pd.DataFrame, SparkFrame]:
    """The customer view from pandas and from Spark."""
    expected = sk.customer_view(data.orders, data.customers, data.feedback)
    result = sk.customer_view(frames["orders"], frames["customers"], frames["feedback"])
    return expected, result


@pytest.fixture(scope="module")
def journeys(data, frames) -> tuple[pd.DataFrame, SparkFrame]:
    """The journeys from pandas and from Spark (cached there)."""
    expected = sk.journeys(data.touchpoints, data.orders)
    return expected, sk.journeys(frames["touchpoints"], frames["orders"]).cache()


@pytest.fixture(scope="module")
def labelled(spark, views, journeys) -> tuple[pd.DataFrame, SparkFrame]:
    """Both journeys with the customers' RFM segment as ``segment``."""
    segments = sk.rfm(views[0])[["customer_id", "rfm_segment"]]
    segments = segments.rename(columns={"rfm_segment": "segment"})
    expected = sk.label_journeys(journeys[0], segments)
    result = sk.label_journeys(journeys[1], spark.createDataFrame(segments))
    assert isinstance(result, SparkFrame)
    return expected, result


def _values(column: pd.Series) -> list:
    return [None if pd.isna(value) else value for value in column.tolist()]


def assert_same(result, expected: pd.DataFrame) -> None:
    """``result`` has ``expected``'s columns and rows in order: counts, labels and times
    exactly, floats (money, days, credits) to a relative 1e-9."""
    if isinstance(result, SparkFrame):
        result = result.toPandas()
    assert list(result.columns) == list(expected.columns)
    assert len(result) == len(expected)
    for name in expected.columns:
        got, want = result[name], expected[name]
        if pd.api.types.is_float_dtype(got) or pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(
                got.astype("float64"), want.astype("float64"), rtol=1e-9, atol=0, err_msg=name
            )
        else:
            assert _values(got) == _values(want), name


def test_time_differences_are_the_whole_seconds_and_microseconds_of_pandas(spark):
    """Spark has no duration totals in narwhals: segkit reads the timestamps as numbers."""
    times = pd.DataFrame(
        {
            "later": [
                "2025-03-01 00:00:10.2",
                "2024-02-29 13:00:00",
                "1969-12-31 23:59:59.5",
                "2025-01-01 00:00:00.5",
            ],
            "earlier": [
                "2025-03-01 00:00:09.9",
                "2023-01-01 00:00:00.7",
                "1970-01-01 00:00:00.1",
                "2025-01-03 00:00:00.7",
            ],
        }
    ).apply(lambda column: pd.to_datetime(column, format="ISO8601").astype("datetime64[us]"))

    def differences(native):
        lazy = nw.from_native(native).lazy()
        later, earlier = nw.col("later"), nw.col("earlier")
        return lazy.select(
            days=days_between(later, earlier, lazy),
            micros=microseconds_between(later, earlier, lazy),
        )

    assert_same(
        differences(spark.createDataFrame(times)).to_native(), collect_small(differences(times))
    )


def test_customer_view_is_a_spark_frame_with_the_numbers_of_pandas(views):
    expected, result = views
    assert isinstance(result, SparkFrame)
    assert_same(result, expected)


def test_rfm_and_lifecycle_match_pandas(views):
    expected, result = views
    scored = sk.rfm(result)
    assert isinstance(scored, SparkFrame)
    staged = sk.lifecycle(scored)
    assert isinstance(staged, SparkFrame)
    assert_same(staged, sk.lifecycle(sk.rfm(expected)))
    assert_same(sk.lifecycle_summary(staged), sk.lifecycle_summary(sk.lifecycle(expected)))


def test_journeys_match_pandas(journeys):
    expected, result = journeys
    assert isinstance(result, SparkFrame)
    assert_same(result, expected)


@pytest.mark.parametrize("model", MODELS)
def test_every_attribution_model_credits_like_pandas(journeys, model):
    expected, result = journeys
    options = OPTIONS.get(model, {})
    credits = attribute(result, model, **options)
    assert isinstance(credits, pd.DataFrame)
    assert_same(credits, attribute(expected, model, **options))


@pytest.mark.parametrize("model", ["position_based", "markov", "shapley"])
def test_attribution_per_segment_matches_pandas(labelled, model):
    expected, result = labelled
    assert_same(attribute(result, model, by="segment"), attribute(expected, model, by="segment"))


def test_clv_summary_matches_pandas(data, frames):
    result = clv.summary(frames["orders"], AS_OF)
    assert isinstance(result, SparkFrame)
    assert_same(result, clv.summary(data.orders, AS_OF))


def test_a_session_time_zone_other_than_utc_is_refused(spark, frames):
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        with pytest.raises(ValueError, match=r"orders: .* time zone is Europe/Berlin"):
            sk.customer_view(frames["orders"])
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_the_touchpoint_table_is_never_brought_to_the_driver(spark, data, tmp_path, monkeypatch):
    """Journeys and three models from Parquet files: the plan reads the files (no table
    built on the driver), and every collected result is a small fraction of the touches."""
    for name in ("touchpoints", "orders"):
        getattr(data, name).to_parquet(tmp_path / f"{name}.parquet", index=False)
    touches = spark.read.parquet(str(tmp_path / "touchpoints.parquet"))
    orders = spark.read.parquet(str(tmp_path / "orders.parquet"))
    collected: list[int] = []

    def recording(method):
        def collect(self, *args, **kwargs):
            rows = method(self, *args, **kwargs)
            collected.append(rows.num_rows if hasattr(rows, "num_rows") else len(rows))
            return rows

        return collect

    for name in COLLECTORS:
        monkeypatch.setattr(ClassicSparkFrame, name, recording(getattr(ClassicSparkFrame, name)))

    steps = sk.journeys(touches, orders)
    assert isinstance(steps, SparkFrame)
    assert collected and max(collected) == 1  # the input checks, one row each
    plan = steps._jdf.queryExecution().optimizedPlan().toString()
    leaves = [line for line in plan.splitlines() if "Relation" in line]
    assert leaves and all(line.endswith("] parquet") for line in leaves), leaves
    for model in ("linear", "markov", "shapley"):
        attribute(steps, model)
    # channel lists, transition and coalition counts: all together under a tenth of the touches
    assert sum(collected) * 10 < len(data.touchpoints), collected
