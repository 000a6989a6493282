"""The ``segkit`` command line: exit codes and what it prints."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from segkit import __version__
from segkit.cli import main
from tests.conftest import write_notebook


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (notebooks/, params/) as the working directory, outputs under it."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "weekly.yaml").write_text("threshold: 4\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEGKIT_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path


def test_run_prints_where_the_report_is(project, capsys):
    write_notebook(project / "notebooks", "01_data_collection", "print(threshold * 10)")

    status = main(
        ["run", "--params", "params/weekly.yaml", "--only", "01_data_collection", "--quiet"]
    )

    out = project / "outputs" / "weekly"
    assert status == 0
    assert capsys.readouterr().out.strip() == f"report written to {out / 'index.html'}"
    assert "40" in (out / "01_data_collection.html").read_text()
    assert json.loads((out / "run.json").read_text())["parameters"] == {"threshold": 4}


def test_failing_notebook_exits_1_naming_notebook_cell_and_error(project, capsys):
    write_notebook(project / "notebooks", "01_data_collection", "raise ValueError('boom')")

    status = main(
        ["run", "--params", "params/weekly.yaml", "--only", "01_data_collection", "--quiet"]
    )

    err = capsys.readouterr().err
    out = project / "outputs" / "weekly"
    assert status == 1
    assert "01_data_collection failed at cell 3: ValueError: boom" in err
    assert f"partial notebook written to {out / '01_data_collection.ipynb'}" in err
    assert f"report so far: {out / 'index.html'}" in err
    assert "Traceback" not in err


def test_cell_timeout_flag_stops_a_long_cell(project, capsys):
    write_notebook(project / "notebooks", "01_data_collection", "import time\ntime.sleep(60)")
    argv = ["run", "--params", "params/weekly.yaml", "--only", "01_data_collection", "--quiet"]

    status = main([*argv, "--cell-timeout", "2"])

    err = capsys.readouterr().err
    assert status == 1
    assert "01_data_collection failed at cell 3: CellTimeoutError: the cell was still" in err
    assert "after 2 s" in err
    run = json.loads((project / "outputs" / "weekly" / "run.json").read_text())
    assert run["cell_timeout"] == 2


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_cell_timeout_must_be_seconds(project, capsys, value):
    argv = ["run", "--params", "params/weekly.yaml", "--cell-timeout", value]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "--cell-timeout" in capsys.readouterr().err


def test_unknown_parameter_exits_1_without_running(project, capsys):
    write_notebook(project / "notebooks", "01_data_collection", "print(1)")
    (project / "params" / "typo.yaml").write_text("treshold: 4\n")

    status = main(["run", "--params", "params/typo.yaml", "--only", "01_data_collection"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("segkit: unknown parameter 'treshold' (did you mean 'threshold'?)")
    assert not (project / "outputs" / "typo").exists()


def test_unknown_only_name_exits_1(project, capsys):
    assert main(["run", "--params", "params/weekly.yaml", "--only", "05_extra"]) == 1
    assert "unknown notebook name(s) ['05_extra']" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"segkit {__version__}"


def test_demo_data_writes_the_tables_and_prints_row_counts(tmp_path, capsys):
    status = main(["demo-data", "--customers", "200", "--seed", "1", "--out", str(tmp_path)])

    printed = capsys.readouterr().out
    assert status == 0
    for table in ("customers", "orders"):
        rows = len(pd.read_parquet(tmp_path / f"{table}.parquet"))
        assert re.search(rf"{table}\.parquet +{rows:,} rows", printed)
    assert len(pd.read_parquet(tmp_path / "customers.parquet")) >= 200


def test_demo_data_rejects_zero_customers(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo-data", "--customers", "0", "--out", str(tmp_path)])
    assert "must be at least 1" in capsys.readouterr().err
