"""Budget reallocation: limits, totals, the greedy against a linear program, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.optimize import linprog

from segkit.budget import CAVEAT, PLAN_COLUMNS, BudgetPlan, reallocate_budget
from segkit.errors import DataContractError, ParameterError


def three_cells() -> pd.DataFrame:
    """Limits with the defaults (±20%): display [80, 120], email [160, 240], search [80, 120]."""
    return pd.DataFrame(
        {
            "segment": ["Loyal", "Loyal", "Champions"],
            "channel": ["display", "email", "search"],
            "cost": [100.0, 200.0, 100.0],
            "revenue": [100.0, 400.0, 400.0],
            "roas": [1.0, 2.0, 4.0],
        }
    )


def test_reallocation_by_hand():
    plan = reallocate_budget(three_cells())
    assert isinstance(plan, BudgetPlan)
    table = plan.table
    assert table.columns.tolist() == ["segment", "channel", *PLAN_COLUMNS]
    # display gives its 20% to search; email sits between them and keeps its budget
    assert table["suggested_cost"].tolist() == pytest.approx([80.0, 200.0, 120.0])
    assert table["change"].tolist() == pytest.approx([-20.0, 0.0, 20.0])
    assert table["change_pct"].tolist() == pytest.approx([-0.2, 0.0, 0.2])
    assert table["share"].tolist() == pytest.approx([0.25, 0.5, 0.25])
    assert table["suggested_share"].tolist() == pytest.approx([0.2, 0.5, 0.3])
    assert table["min_cost"].tolist() == pytest.approx([80.0, 160.0, 80.0])
    assert table["max_cost"].tolist() == pytest.approx([120.0, 240.0, 120.0])
    # 1 * -20 + 2 * 0 + 4 * 20
    assert table["expected_revenue_change"].tolist() == pytest.approx([-20.0, 0.0, 80.0])
    assert plan.expected_revenue_change == pytest.approx(60.0)
    assert plan.total_budget == plan.current_budget == 400.0
    assert plan.budget_moved == pytest.approx(20.0)
    assert table["reason"].tolist() == [
        "cut to its lower limit (80% of current cost); ROAS 1.00",
        "unchanged; ROAS 2.00",
        "raised to its upper limit (+20%); ROAS 4.00",
    ]
    assert plan.caveat == CAVEAT
    assert "not causation" in plan.summary()


def test_a_larger_budget_goes_to_the_highest_roas_first():
    plan = reallocate_budget(three_cells(), total_budget=450)
    # +50: search +20 (full), email +30; then display gives 10 to email's last 10 of headroom
    assert plan.table["suggested_cost"].tolist() == pytest.approx([90.0, 240.0, 120.0])
    assert plan.expected_revenue_change == pytest.approx(-10.0 + 80.0 + 80.0)
    assert plan.budget_moved == pytest.approx(10.0)


def test_a_smaller_budget_is_cut_from_the_lowest_roas_first():
    plan = reallocate_budget(three_cells(), total_budget=350)
    # -50: display -20 (full), email -30; then email gives its last 10 to search
    assert plan.table["suggested_cost"].tolist() == pytest.approx([80.0, 160.0, 110.0])
    assert plan.expected_revenue_change == pytest.approx(-20.0 - 80.0 + 40.0)


def test_min_share_is_the_floor_when_max_change_is_wide():
    plan = reallocate_budget(three_cells(), max_change=1.0, min_share=0.5)
    table = plan.table
    assert table["min_cost"].tolist() == pytest.approx([50.0, 100.0, 50.0])
    assert table["max_cost"].tolist() == pytest.approx([200.0, 400.0, 200.0])
    # display and email give 50 and 50 to search, which doubles
    assert table["suggested_cost"].tolist() == pytest.approx([50.0, 150.0, 200.0])
    assert plan.expected_revenue_change == pytest.approx(-50.0 - 100.0 + 400.0)


def random_cells(seed: int, n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "channel": [f"c{i}" for i in range(n)],
            "cost": rng.uniform(10, 1000, n).round(2),
            "roas": rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 8.0], n),
        }
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("change", [-0.15, 0.0, 0.1])
def test_greedy_matches_the_linear_program(seed, change):
    cells = random_cells(seed)
    total = float(cells["cost"].sum()) * (1 + change)
    plan = reallocate_budget(cells, total_budget=total, by="channel", max_change=0.3)
    new = plan.table["suggested_cost"].to_numpy()
    lower, upper = plan.table["min_cost"].to_numpy(), plan.table["max_cost"].to_numpy()
    assert new.sum() == pytest.approx(total, rel=1e-12)
    assert (new >= lower - 1e-9).all() and (new <= upper + 1e-9).all()
    roas = cells["roas"].to_numpy()
    best = linprog(
        -roas,
        A_eq=np.ones((1, len(new))),
        b_eq=[total],
        bounds=list(zip(lower, upper, strict=True)),
    )
    assert best.success
    assert roas @ new == pytest.approx(-best.fun, rel=1e-9)
    assert plan.expected_revenue_change == pytest.approx(roas @ (new - cells["cost"].to_numpy()))


def test_equal_roas_everywhere_changes_nothing():
    cells = three_cells().assign(roas=2.5)
    for response in ("linear", "diminishing"):
        plan = reallocate_budget(cells, response=response)
        assert plan.table["suggested_cost"].tolist() == pytest.approx([100.0, 200.0, 100.0])
        assert plan.expected_revenue_change == pytest.approx(0.0, abs=1e-9)
        assert plan.budget_moved == pytest.approx(0.0, abs=1e-9)
        assert set(plan.table["reason"]) == {"unchanged; ROAS 2.50"}


def test_equal_roas_cells_share_extra_budget_in_proportion():
    cells = three_cells().assign(roas=[2.0, 2.0, 1.0])
    plan = reallocate_budget(cells, total_budget=430)
    # +30 over display (room 20) and email (room 40) in proportion 1:2, then search gives
    # its 20 to their remaining room, again 1:2: both grow by the same 50/300 = 1/6
    assert plan.table["suggested_cost"].tolist() == pytest.approx([350 / 3, 700 / 3, 80.0])
    assert plan.table["change_pct"].tolist() == pytest.approx([1 / 6, 1 / 6, -0.2])


def test_cells_without_spend_or_roas_are_listed_and_left_alone():
    cells = pd.concat(
        [
            three_cells(),
            pd.DataFrame(
                {
                    "segment": ["Loyal", "Loyal", "Champions"],
                    "channel": ["organic", "referral", "affiliate"],
                    "cost": [np.nan, 0.0, 50.0],
                    "revenue": [300.0, 20.0, np.nan],
                    "roas": [np.nan, np.nan, np.nan],
                }
            ),
        ],
        ignore_index=True,
    )
    plan = reallocate_budget(cells)
    table = plan.table
    assert table["suggested_cost"].iloc[:3].tolist() == pytest.approx([80.0, 200.0, 120.0])
    assert table.iloc[3:][["suggested_cost", "change", "share", "min_cost"]].isna().all().all()
    assert table["reason"].iloc[3:].tolist() == [
        "not moved: no spend recorded for this cell",
        "not moved: no current spend, so nothing to scale from",
        "not moved: ROAS unknown",
    ]
    assert plan.current_budget == 400.0  # the affiliate's 50 with unknown ROAS is not in the plan
    assert plan.expected_revenue_change == pytest.approx(60.0)


def test_nullable_columns_and_a_polars_table():
    cells = three_cells().astype({"cost": "Float64", "roas": "Float64"})
    cells.loc[1, "roas"] = pd.NA
    plan = reallocate_budget(pl.from_pandas(cells))
    assert isinstance(plan.table, pd.DataFrame)
    # email is out; display gives 20 to search
    assert plan.table["suggested_cost"].tolist()[0::2] == pytest.approx([80.0, 120.0])
    assert np.isnan(plan.table["suggested_cost"].iloc[1])


def test_a_channel_only_table():
    cells = three_cells().drop(columns="segment")
    plan = reallocate_budget(cells, by="channel")
    assert plan.table.columns.tolist() == ["channel", *PLAN_COLUMNS]
    assert plan.table["suggested_cost"].tolist() == pytest.approx([80.0, 200.0, 120.0])


def test_diminishing_response_equalises_marginal_roas():
    cells = three_cells()
    plan = reallocate_budget(cells, response="diminishing", max_change=1.0, elasticity=0.5)
    table = plan.table
    new, cost, roas = (table[c].to_numpy() for c in ("suggested_cost", "cost", "roas"))
    assert new.sum() == pytest.approx(400.0)
    marginal = 0.5 * roas * (new / cost) ** -0.5
    inside = (new > table["min_cost"] + 1e-6) & (new < table["max_cost"] - 1e-6)
    at_lower = new <= table["min_cost"] + 1e-6
    at_upper = new >= table["max_cost"] - 1e-6
    level = marginal[inside]
    assert np.ptp(level) == pytest.approx(0.0, abs=1e-9)
    # cells at a limit would rather move further that way
    assert (marginal[at_lower] <= level.min() + 1e-9).all()
    assert (marginal[at_upper] >= level.max() - 1e-9).all()
    expected = (roas * cost * ((new / cost) ** 0.5 - 1)).sum()
    assert plan.expected_revenue_change == pytest.approx(expected)
    # less is expected than under constant ROAS for the same limits
    linear = reallocate_budget(cells, max_change=1.0)
    assert plan.expected_revenue_change < linear.expected_revenue_change


def test_diminishing_respects_limits_and_total():
    cells = random_cells(3)
    total = float(cells["cost"].sum()) * 1.05
    plan = reallocate_budget(cells, total_budget=total, by="channel", response="diminishing")
    new = plan.table["suggested_cost"]
    assert new.sum() == pytest.approx(total, rel=1e-12)
    assert (new >= plan.table["min_cost"] - 1e-9).all()
    assert (new <= plan.table["max_cost"] + 1e-9).all()


def test_an_infeasible_total_names_the_feasible_range():
    with pytest.raises(ParameterError, match=r"between 320\.00 and 480\.00"):
        reallocate_budget(three_cells(), total_budget=500)
    with pytest.raises(ParameterError, match="outside what the limits allow"):
        reallocate_budget(three_cells(), total_budget=300)
    reallocate_budget(three_cells(), total_budget=480)  # the edge itself is feasible


def test_no_cell_taking_part():
    cells = three_cells().assign(cost=np.nan, roas=np.nan)
    plan = reallocate_budget(cells)
    assert plan.total_budget == 0.0 and plan.expected_revenue_change == 0.0
    assert plan.table["suggested_cost"].isna().all()
    with pytest.raises(ParameterError, match="no cell has a cost > 0"):
        reallocate_budget(cells, total_budget=100)


def test_negative_cost_is_rejected_with_the_cell():
    cells = three_cells()
    cells.loc[1, "cost"] = -5.0
    with pytest.raises(DataContractError, match="segment=Loyal, channel=email") as error:
        reallocate_budget(cells)
    assert error.value.table == "ROI table" and error.value.column == "cost"


@pytest.mark.parametrize("column", ["cost", "roas", "channel"])
def test_missing_columns_are_named(column):
    with pytest.raises(DataContractError, match=f"'{column}'"):
        reallocate_budget(three_cells().drop(columns=column))


def test_a_repeated_cell_and_a_text_cost_are_rejected():
    cells = pd.concat([three_cells(), three_cells().iloc[[0]]], ignore_index=True)
    with pytest.raises(DataContractError, match="one row per cell"):
        reallocate_budget(cells)
    with pytest.raises(DataContractError, match="numeric"):
        reallocate_budget(three_cells().astype({"cost": "str"}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_change": -0.1}, "max_change"),
        ({"min_share": 1.5}, "min_share"),
        ({"total_budget": -1}, "total_budget"),
        ({"total_budget": "100"}, "total_budget"),
        ({"response": "log"}, "response"),
        ({"response": "diminishing", "elasticity": 1.0}, "elasticity"),
        ({"by": []}, "by"),
    ],
)
def test_parameters_are_checked(options, message):
    with pytest.raises(ParameterError, match=message):
        reallocate_budget(three_cells(), **options)


def test_the_input_is_not_mutated():
    cells = three_cells()
    before = cells.copy()
    reallocate_budget(cells, total_budget=450)
    reallocate_budget(cells, response="diminishing")
    pd.testing.assert_frame_equal(cells, before)
