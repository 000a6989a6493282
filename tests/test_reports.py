"""The real report: a Papermill run per params/*.yaml, the plain papermill route,
and the CLI's failure paths on the real notebooks."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

import segkit as sk
from segkit.cli import main
from segkit.params import load_params
from segkit.runner import NOTEBOOKS, run_report
from tests.conftest import PROJECT

PARAMS_FILES = sorted((PROJECT / "params").glob("*.yaml"))
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture(scope="module", params=PARAMS_FILES, ids=lambda p: p.stem)
def report(request, tmp_path_factory):
    """A full run of one params file into a temporary folder."""
    out = tmp_path_factory.mktemp(request.param.stem)
    return request.param, run_report(request.param, out=out, progress=False)


def test_every_stage_wrote_its_notebook_and_html(report):
    _, result = report
    assert result.ok
    for name in NOTEBOOKS:
        assert (result.out / f"{name}.ipynb").is_file()
        assert (result.out / f"{name}.html").stat().st_size > 10_000
    index = result.index.read_text()
    assert all(f'href="{name}.html"' in index for name in NOTEBOOKS)
    assert sk.__version__ in index


def test_run_json_records_the_params_file_values(report):
    params_file, result = report
    record = json.loads((result.out / "run.json").read_text())
    assert record["parameters"] == load_params(params_file)
    assert [n["status"] for n in record["notebooks"]] == ["ok"] * 4


def test_reports_show_no_email_and_no_code(report):
    _, result = report
    for page in result.out.glob("*.html"):
        text = page.read_text()
        assert not EMAIL.findall(text), page.name
        assert "import segkit as sk" not in text, page.name


def test_data_stage_balances_rows_and_writes_every_table(report):
    params_file, result = report
    raw = sk.load_source(load_params(params_file)["source"])
    data = sk.run_paths(result.out)
    rejects = data.read("rejects")
    for name, frame in raw.tables().items():
        kept = len(data.read(name))
        rejected = rejects.loc[
            (rejects.table == name) & (rejects.action == "rejected"), "row"
        ].nunique()
        assert len(frame) == kept + rejected, name
    if raw.truth is not None:
        planted = raw.truth.defects.sort_values(["table", "row"]).reset_index(drop=True)
        found = rejects.loc[rejects.action == "rejected", ["table", "row", "rule"]]
        found = found.astype({"row": "int64"}).sort_values(["table", "row"])
        pd.testing.assert_frame_equal(found.reset_index(drop=True), planted)


def test_segments_label_every_customer_once(report):
    _, result = report
    data = sk.run_paths(result.out).read_dataset()
    segments = sk.run_paths(result.out).read("segments")
    everyone = set(data.orders["customer_id"])
    if data.customers is not None:
        everyone |= set(data.customers["customer_id"])
    assert segments["customer_id"].is_unique and set(segments["customer_id"]) == everyone
    assert segments["segment"].notna().all()
    assert segments["revenue"].sum() == pytest.approx(data.orders["revenue"].sum())


def test_stage_data_is_reproducible(tmp_path):
    params = PROJECT / "params" / "demo.yaml"
    runs = [
        run_report(params, out=tmp_path / f"run{i}", only=["01_data_collection"], progress=False)
        for i in (1, 2)
    ]
    files = sorted(p.name for p in (runs[0].out / "data").glob("*.parquet"))
    assert "rejects.parquet" in files and len(files) >= 8
    for name in files:
        first, second = (run.out / "data" / name for run in runs)
        assert first.read_bytes() == second.read_bytes(), name


def test_plain_papermill_route_reads_the_earlier_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGKIT_OUTPUTS", str(tmp_path))
    params = PROJECT / "params" / "demo.yaml"
    run_report(params, only=["01_data_collection"], progress=False)
    executed = tmp_path / "02.ipynb"
    command = [
        sys.executable,
        "-m",
        "papermill",
        "--no-progress-bar",
        "-k",
        "python3",
        str(PROJECT / "notebooks" / "02_segmentation.ipynb"),
        str(executed),
        "-f",
        str(params),
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=PROJECT)
    assert executed.is_file()
    assert len(pd.read_parquet(tmp_path / "demo" / "data" / "segments.parquet")) > 1000


def test_later_stage_without_earlier_outputs_names_what_to_run(tmp_path, capsys):
    code = main(
        [
            "run",
            "--params",
            str(PROJECT / "params" / "demo.yaml"),
            "--out",
            str(tmp_path / "fresh"),
            "--only",
            "02_segmentation",
            "--quiet",
        ]
    )
    error = capsys.readouterr().err
    assert code == 1
    assert "02_segmentation failed at cell" in error
    assert "StageOutputMissing" in error and "run 01_data_collection" in error


def test_missing_orders_table_fails_the_run_naming_table(tmp_path, capsys):
    folder = tmp_path / "shop"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["c1"]}).to_csv(folder / "customers.csv", index=False)
    params = tmp_path / "shop.yaml"
    params.write_text(f"source: {{kind: csv, path: {folder}}}\n")
    code = main(["run", "--params", str(params), "--out", str(tmp_path / "out"), "--quiet"])
    error = capsys.readouterr().err
    assert code == 1
    assert "01_data_collection failed at cell" in error
    assert "DataContractError: table 'orders'" in error
    assert (tmp_path / "out" / "01_data_collection.ipynb").is_file()
    statuses = json.loads((tmp_path / "out" / "run.json").read_text())["notebooks"]
    assert [n["status"] for n in statuses] == ["failed", "skipped", "skipped", "skipped"]


def test_broken_parameter_is_refused_before_anything_runs(tmp_path, capsys):
    params = tmp_path / "typo.yaml"
    params.write_text("run: typo\nrfm_bin: 3\n")
    code = main(["run", "--params", str(params), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 1
    assert "rfm_bin" in capsys.readouterr().err
    assert not (tmp_path / "out" / "01_data_collection.ipynb").exists()


def test_attribution_credits_every_tracked_conversion_under_every_model(report):
    _, result = report
    stage = sk.run_paths(result.out)
    data = stage.read_dataset()
    if data.touchpoints is None:
        assert not stage.has("attribution")  # transactions only: the stage says so and skips
        return
    attribution = stage.read("attribution")
    coverage = sk.untracked_conversions(data.touchpoints, data.orders, lookback_days=30).iloc[0]
    tracked = coverage["orders"] - coverage["untracked_orders"]
    per_model = attribution.groupby("model")["conversions"].sum()
    assert len(per_model) == 9
    assert per_model.to_numpy() == pytest.approx([tracked] * 9)
    assert (attribution["conversions"] >= 0).all()


def test_analysis_opens_with_the_summary_and_exports_only_consenting_customers(report):
    _, result = report
    page = (result.out / "04_analysis.html").read_text()
    assert page.index("Executive summary") < page.index("Return on marketing spend")
    assert "Predicted value of today" in page
    stage = sk.run_paths(result.out)
    data = stage.read_dataset()
    exports = result.out / "exports"
    if data.customers is None:
        assert not exports.exists()
        return
    manifest = json.loads((exports / "manifest.json").read_text())
    segments = stage.read("segments")
    consenting = set(data.customers.loc[data.customers["consent_marketing"], "customer_id"])
    exported = 0
    for row in manifest["segments"]:
        rows = pd.read_csv(exports / row["file"])
        assert "email" not in rows
        assert len(rows) == row["exported"]
        members = set(segments.loc[segments["segment"] == row["segment"], "customer_id"])
        assert row["exported"] == len(members & consenting)
        exported += row["exported"]
    assert 0 < exported < len(segments)


# The engine switch: the same Parquet source, read, validated and computed by each engine,
# writes the pandas run's data (every stage's tables) and says which engine ran.
ENGINE_SOURCE_CUSTOMERS = 300
#: Spark in local mode on two cores, few shuffle partitions for small data.
SPARK_TEST_CONF = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"}
STAGE_TABLES = {
    "customers": ["customer_id"],
    "orders": ["order_id"],
    "touchpoints": ["customer_id", "ts", "channel", "campaign", "interaction"],
    "spend": ["date", "channel", "campaign"],
    "feedback": ["customer_id", "ts"],
    "experiments": ["customer_id", "experiment"],
    "segments": ["customer_id"],
    "channel_reach": ["segment", "channel"],
    "attribution": ["segment", "model", "channel"],
    "journeys": ["journey_id", "step"],
}


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory):
    """The report of one Parquet source per engine, run on first use."""
    source = tmp_path_factory.mktemp("parquet-source")
    sk.simulate(n_customers=ENGINE_SOURCE_CUSTOMERS, seed=11).write(source)
    runs = {}

    def run(engine: str):
        if engine not in runs:
            params = {
                "source": {"kind": "parquet", "path": str(source)},
                "as_of": "2026-01-01",
                "engine": engine,
                "spark_conf": SPARK_TEST_CONF,
            }
            out = tmp_path_factory.mktemp(f"engine-{engine}")
            runs[engine] = run_report(params, out=out, progress=False)
        return runs[engine]

    return run


def _stage_table(result, name: str) -> pd.DataFrame:
    """A stage table as pandas, rows sorted by its key, timestamps naive UTC, nullable dtypes."""
    frame = sk.to_pandas(sk.run_paths(result.out).read(name))
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    # nullable types on both sides: engines give Polars/Arrow nulls, pandas its own NA
    return frame.sort_values(STAGE_TABLES[name], ignore_index=True).convert_dtypes()


@pytest.mark.parametrize("engine", ["polars", "duckdb", "spark"])
def test_the_engine_parameter_runs_every_stage_with_pandas_numbers(engine_runs, engine):
    expected, result = engine_runs("pandas"), engine_runs(engine)
    assert result.ok
    for name in STAGE_TABLES:
        got, want = _stage_table(result, name), _stage_table(expected, name)
        assert list(got.columns) == list(want.columns), name
        pd.testing.assert_frame_equal(
            got, want, check_dtype=False, check_exact=False, rtol=1e-9, obj=name
        )
    ledger = ["table", "rule", "column", "action"]
    got, want = (_ledger(run)[ledger].value_counts().sort_index() for run in (result, expected))
    pd.testing.assert_series_equal(got, want)
    page = (result.out / "01_data_collection.html").read_text()
    assert f"engine <strong>{engine}</strong>" in page
    assert "Tables read by <strong>" + engine in (result.out / "02_segmentation.html").read_text()


def _ledger(result) -> pd.DataFrame:
    return sk.to_pandas(sk.run_paths(result.out).read("rejects"))
