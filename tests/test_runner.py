"""The report runner on tiny throwaway notebooks: files written, parameters, failures, HTML."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from papermill.execute import ERROR_MARKER_TAG

from segkit.errors import NotebookFailed, ParameterError, SegkitError
from segkit.params import check_params, load_params, mask_secrets
from segkit.report_html import export_html
from segkit.runner import checked_cell_timeout, run_report
from tests.conftest import write_notebook

DB_URL = "postgresql://ana:s3cret-pw@db.example.com/shop"
# In a code cell only, so it reaches the HTML only when code is shown.
CODE_MARKER = "SOURCE_ONLY_MARKER"


def write_params(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


WRITE_THRESHOLD = (
    f"# {CODE_MARKER}\n"
    "from pathlib import Path\n"
    "(Path(run) / 'data' / 'threshold.txt').write_text(repr(threshold))"
)
READ_THRESHOLD = (
    "from pathlib import Path\n"
    "seen = (Path(run) / 'data' / 'threshold.txt').read_text()\n"
    "(Path(run) / 'data' / 'seen_by_02.txt').write_text(seen)"
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A successful two-notebook run; 02 reads what 01 wrote into the run's data folder."""
    root = tmp_path_factory.mktemp("project")
    notebooks = root / "notebooks"
    write_notebook(notebooks, "01_data_collection", WRITE_THRESHOLD, "print('rows loaded')")
    write_notebook(notebooks, "02_segmentation", READ_THRESHOLD, "print('segments')")
    params = write_params(
        root / "params" / "weekly.yaml", f"threshold: 7\nsource:\n  kind: sql\n  url: {DB_URL}\n"
    )
    result = run_report(
        params,
        out=root / "outputs" / "weekly",
        only=["01_data_collection", "02_segmentation.ipynb"],
        notebooks_dir=notebooks,
        progress=False,
    )
    return result


def test_run_writes_notebooks_html_index_and_data(finished_run):
    out = finished_run.out
    assert out.is_absolute()
    assert finished_run.ok
    assert finished_run.index == out / "index.html"
    for name in ("01_data_collection", "02_segmentation"):
        assert (out / f"{name}.ipynb").is_file()
        assert (out / f"{name}.html").is_file()
    index = finished_run.index.read_text()
    assert '<a href="01_data_collection.html">' in index
    assert '<a href="02_segmentation.html">' in index
    assert 'href="data/"' in index
    assert [record.status for record in finished_run.notebooks] == ["ok", "ok"]


def test_injected_parameter_reaches_the_notebooks(finished_run):
    data = finished_run.out / "data"
    assert (data / "threshold.txt").read_text() == "7"
    assert (data / "seen_by_02.txt").read_text() == "7"


def test_run_json_records_parameters_versions_and_statuses(finished_run):
    from segkit import __version__

    record = json.loads((finished_run.out / "run.json").read_text())
    assert record["parameters"]["threshold"] == 7
    assert record["segkit_version"] == __version__
    assert re.fullmatch(r"3\.\d+\.\d+", record["python_version"])
    assert record["ok"] is True
    assert [nb["status"] for nb in record["notebooks"]] == ["ok", "ok"]
    assert all(nb["started"].endswith("+00:00") for nb in record["notebooks"])
    assert record["started"] <= record["notebooks"][0]["started"] <= record["finished"]
    assert record["duration_seconds"] > 0


def test_database_password_is_masked_in_run_json_and_index(finished_run):
    masked = "postgresql://ana:***@db.example.com/shop"
    run_json = (finished_run.out / "run.json").read_text()
    index = finished_run.index.read_text()
    assert masked in run_json and masked in index
    assert "s3cret" not in run_json and "s3cret" not in index


def test_html_is_self_contained_and_hides_code(finished_run, tmp_path):
    page = (finished_run.out / "01_data_collection.html").read_text()
    assert "rows loaded" in page
    assert CODE_MARKER not in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=[\"']?https?:", page)

    with_code = export_html(
        finished_run.out / "01_data_collection.ipynb", tmp_path / "code.html", with_code=True
    )
    page = with_code.read_text()
    assert CODE_MARKER in page
    assert "s3cret" not in page  # the injected-parameters cell is shown, masked
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=[\"']?https?:", page)


def test_remote_scripts_in_outputs_are_removed(tmp_path):
    path = write_notebook(tmp_path, "plotly_like")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": '<script src="https://cdn.example.com/plot.js"></script>'
                '<link rel="stylesheet" href="https://cdn.example.com/p.css"><b>chart</b>'
            },
        )
    ]
    nbformat.write(notebook, path)
    page = export_html(path, tmp_path / "page.html").read_text()
    assert "<b>chart</b>" in page
    assert "cdn.example.com" not in page


def test_only_runs_one_notebook_into_the_default_folder(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection", WRITE_THRESHOLD)
    write_notebook(notebooks, "02_segmentation", "raise RuntimeError('must not run')")
    monkeypatch.setenv("SEGKIT_OUTPUTS", str(tmp_path / "outs"))
    params = write_params(tmp_path / "params" / "daily.yaml", "threshold: 3\n")

    result = run_report(params, only="01_data_collection", notebooks_dir=notebooks)

    assert result.out == tmp_path / "outs" / "daily"
    assert [record.name for record in result.notebooks] == ["01_data_collection"]
    assert not (result.out / "02_segmentation.ipynb").exists()
    assert (result.out / "data" / "threshold.txt").read_text() == "3"
    assert "[1/1] 01_data_collection" in capsys.readouterr().err


def test_failing_cell_raises_and_still_writes_the_report(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection", "print('fine')")
    write_notebook(notebooks, "02_segmentation", "raise ValueError('boom')", "print('after')")
    write_notebook(notebooks, "03_attribution", "print('not reached')")
    params = write_params(tmp_path / "p.yaml", "threshold: 2\n")
    out = tmp_path / "run"
    names = ["01_data_collection", "02_segmentation", "03_attribution"]

    with pytest.raises(NotebookFailed) as failed:
        run_report(params, out=out, only=names, notebooks_dir=notebooks, progress=False)

    error = failed.value
    assert (error.notebook, error.cell, error.error) == ("02_segmentation", 3, "ValueError: boom")
    assert "02_segmentation failed at cell 3: ValueError: boom" in str(error)
    partial = out / "02_segmentation.ipynb"
    assert error.output == str(partial)
    assert "boom" in partial.read_text()
    assert "boom" in (out / "02_segmentation.html").read_text()
    assert not (out / "03_attribution.ipynb").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["ok"] is False
    assert [nb["status"] for nb in record["notebooks"]] == ["ok", "failed", "skipped"]
    assert record["notebooks"][1]["cell"] == 3
    index = (out / "index.html").read_text()
    assert "failed at cell 3" in index and "ValueError: boom" in index
    assert '<td class="skipped">skipped</td>' in index


@pytest.mark.parametrize(
    ("stuck_cell", "ename", "evalue"),
    [
        (
            "import time\ntime.sleep(60)",
            "CellTimeoutError",
            "the cell was still running after 3 s and was stopped",
        ),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
            "DeadKernelError",
            "the kernel died while the cell ran",
        ),
    ],
    ids=["timeout", "dead-kernel"],
)
def test_stuck_or_dead_kernel_fails_the_notebook_like_a_raising_cell(
    tmp_path, stuck_cell, ename, evalue
):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection", "print('fine')", stuck_cell, "print('after')")
    write_notebook(notebooks, "02_segmentation", "print('not reached')")
    params = write_params(tmp_path / "p.yaml", "threshold: 2\n")
    out = tmp_path / "run"
    names = ["01_data_collection", "02_segmentation"]
    clock = time.perf_counter()

    with pytest.raises(NotebookFailed) as failed:
        run_report(
            params, out=out, only=names, notebooks_dir=notebooks, progress=False, cell_timeout=3
        )

    assert time.perf_counter() - clock < 45
    error = failed.value
    assert (error.notebook, error.cell) == ("01_data_collection", 4)
    assert error.error.startswith(f"{ename}: {evalue}")
    partial = nbformat.read(out / "01_data_collection.ipynb", as_version=4)
    assert partial.cells[0].metadata["tags"] == [ERROR_MARKER_TAG]
    stuck = next(cell for cell in partial.cells if cell.source == stuck_cell)
    assert [output.ename for output in stuck.outputs] == [ename]
    last = partial.cells[-1]
    assert (last.source, last.outputs, last.execution_count) == ("print('after')", [], None)
    assert evalue in (out / "01_data_collection.html").read_text()
    record = json.loads((out / "run.json").read_text())
    assert [nb["status"] for nb in record["notebooks"]] == ["failed", "skipped"]
    assert record["cell_timeout"] == 3


POOL = (
    "import os, pyarrow\n"
    "from pathlib import Path\n"
    "pool = os.environ.get('ARROW_DEFAULT_MEMORY_POOL')\n"
    "backend = pyarrow.default_memory_pool().backend_name\n"
    "(Path(run) / 'data' / 'pool.txt').write_text(f'{pool} {backend}')"
)


@pytest.mark.parametrize(
    ("users", "expected"), [(None, "system system"), ("jemalloc", "jemalloc jemalloc")]
)
def test_kernels_get_the_system_arrow_pool_unless_the_user_chose_one(
    tmp_path, monkeypatch, users, expected
):
    if users is None:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    else:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", users)
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection", POOL)
    params = write_params(tmp_path / "p.yaml", "threshold: 2\n")

    run_report(params, out=tmp_path / "run", notebooks_dir=notebooks, only="01_data_collection")

    assert (tmp_path / "run" / "data" / "pool.txt").read_text() == expected
    assert os.environ.get("ARROW_DEFAULT_MEMORY_POOL") == users


@pytest.mark.parametrize("seconds", [-1, float("inf"), float("nan"), "soon", True])
def test_bad_cell_timeout_is_an_error_and_nothing_runs(tmp_path, seconds):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection", "print('must not run')")
    params = write_params(tmp_path / "p.yaml", "threshold: 2\n")
    out = tmp_path / "run"
    with pytest.raises(ParameterError, match="cell_timeout must be a number of seconds"):
        run_report(params, out=out, notebooks_dir=notebooks, cell_timeout=seconds)
    assert not out.exists()


@pytest.mark.parametrize(("seconds", "expected"), [(None, None), (0, None), (2, 2.0), ("7.5", 7.5)])
def test_cell_timeout_zero_or_none_means_no_limit(seconds, expected):
    assert checked_cell_timeout(seconds) == expected


def test_unknown_parameter_is_an_error_and_nothing_runs(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks, "01_data_collection")
    params = write_params(tmp_path / "p.yaml", "treshold: 2\nsegments: 4\n")
    out = tmp_path / "run"

    with pytest.raises(ParameterError) as error:
        run_report(params, out=out, only=["01_data_collection"], notebooks_dir=notebooks)

    message = str(error.value)
    assert "'treshold' (did you mean 'threshold'?)" in message
    assert "'segments'" in message
    assert "01_data_collection: run, threshold, source" in message
    assert not out.exists()


def test_invalid_yaml_names_the_line(tmp_path):
    params = write_params(tmp_path / "p.yaml", "threshold: 2\nsegments: 4\nsource: demo: x\n")
    with pytest.raises(ParameterError, match=r"p\.yaml is not valid YAML at line 3"):
        load_params(params)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", "must be a mapping"), ("1: x\n", "must be Python identifiers")],
)
def test_params_file_must_map_names_to_values(tmp_path, text, expected):
    with pytest.raises(ParameterError, match=expected):
        load_params(write_params(tmp_path / "p.yaml", text))


def test_missing_params_file(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")


def test_empty_params_file_means_defaults(tmp_path):
    assert load_params(write_params(tmp_path / "p.yaml", "# nothing\n")) == {}


def test_unknown_only_name_lists_the_notebooks(tmp_path):
    with pytest.raises(ParameterError, match="'05_extra'.*01_data_collection, 02_segmentation"):
        run_report({"run": "x"}, out=tmp_path, only=["05_extra"], notebooks_dir=tmp_path)


def test_missing_notebook_is_reported(tmp_path):
    with pytest.raises(SegkitError, match="02_segmentation.ipynb does not exist"):
        run_report({}, out=tmp_path, only=["02_segmentation"], notebooks_dir=tmp_path)


def test_check_params_accepts_declared_names():
    check_params({"threshold": 2, "run": "x"}, {"a": {"run": '"x"'}, "b": {"threshold": "1"}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("duckdb:///data/shop.duckdb", "duckdb:///data/shop.duckdb"),
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        ("mysql+pymysql://u:p%40ss@h:3306/db", "mysql+pymysql://u:***@h:3306/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        (
            {"password": "x", "n": [1, "sqlite:///a.db"]},
            {"password": "***", "n": [1, "sqlite:///a.db"]},
        ),
    ],
)
def test_mask_secrets(value, expected):
    assert mask_secrets(value) == expected


def test_yaml_dates_reach_notebooks_as_iso_text(tmp_path):
    path = tmp_path / "dated.yaml"
    path.write_text("as_of: 2026-01-01\nsource: {start: 2024-02-03}\n")
    assert load_params(path) == {"as_of": "2026-01-01", "source": {"start": "2024-02-03"}}
