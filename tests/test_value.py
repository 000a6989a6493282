"""The Pareto curve of revenue: summed per customer in each engine, drawn with numpy."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from segkit.simulation import simulate
from segkit.value import pareto_curve, revenue_share_of_top
from tests.conftest import ENGINES

ORDERS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "a", "c", None],
        "revenue": [30.0, 20.0, 50.0, 0.0, 1000.0],
    }
)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return simulate(n_customers=300, seed=3).orders


def test_pareto_curve_hand_checked():
    # a 80, b 20, c 0 (counted); the order without a customer is left out
    curve = pareto_curve(ORDERS)
    assert curve["customer_share"].tolist() == [0.0, 1 / 3, 2 / 3, 1.0]
    assert curve["revenue_share"].tolist() == [0.0, 0.8, 1.0, 1.0]
    assert revenue_share_of_top(ORDERS, 1 / 3) == pytest.approx(0.8)
    assert revenue_share_of_top(ORDERS, 1 / 6) == pytest.approx(0.4)


@pytest.mark.parametrize("engine", ENGINES)
def test_pareto_curve_same_in_every_engine(engine, orders):
    expected = pareto_curve(orders)
    result = pareto_curve(ENGINES[engine](orders))
    # engines add a customer's orders in their own order: the same up to rounding
    pd.testing.assert_frame_equal(result, expected, check_exact=False, rtol=1e-12)
    share = revenue_share_of_top(ENGINES[engine](orders), 0.2)
    assert share == pytest.approx(revenue_share_of_top(orders, 0.2), rel=1e-12)
    assert len(result) == orders["customer_id"].nunique() + 1


def test_pareto_curve_skips_nan_revenue_as_pandas_does():
    orders = pl.DataFrame({"customer_id": ["a", "a", "b"], "revenue": [8.0, float("nan"), 2.0]})
    assert pareto_curve(orders.lazy())["revenue_share"].tolist() == [0.0, 0.8, 1.0]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_pareto_curve_without_positive_revenue_is_an_error(engine):
    with pytest.raises(ValueError, match="no positive revenue"):
        pareto_curve(ENGINES[engine](ORDERS.assign(revenue=0.0)))
    with pytest.raises(ValueError, match="top must be in"):
        revenue_share_of_top(ENGINES[engine](ORDERS), 0)


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_pareto_curve_on_spark(spark, orders):
    result = pareto_curve(spark.createDataFrame(orders))
    pd.testing.assert_frame_equal(result, pareto_curve(orders), check_exact=False, rtol=1e-12)
