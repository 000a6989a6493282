"""Run the report notebooks in order with papermill into one run folder.

A run folder holds each executed notebook (``<name>.ipynb``), its HTML page
(``<name>.html``), ``index.html`` linking them, ``run.json`` recording the
parameters, versions, timings and status of each notebook, and ``data/``
where the stages write their tables.

Example
-------
>>> from segkit.runner import run_report
>>> result = run_report("params/demo.yaml")  # doctest: +SKIP
>>> result.index  # doctest: +SKIP
PosixPath('/home/ana/segkit/outputs/demo/index.html')
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.execute import ERROR_MARKER_TAG, raise_for_execution_errors

from segkit.errors import NotebookFailed, ParameterError, SegkitError
from segkit.params import (
    check_params,
    load_params,
    mask_secrets,
    notebook_parameters,
    quiet_inspector,
)
from segkit.paths import outputs_root, project_root, run_paths
from segkit.report_html import export_html, write_index

#: The report's notebooks, in the order they run (each reads what the one before wrote).
NOTEBOOKS = ("01_data_collection", "02_segmentation", "03_attribution", "04_analysis")

#: Seconds a cell may run before ``run_report`` stops it and fails the notebook.
#: Generous for the report's own cells (the slowest takes about 3 minutes for
#: 1M customers on Polars); it is there so that a kernel which stops answering
#: fails the run instead of holding it forever.
CELL_TIMEOUT = 3600

#: Environment of the report's kernels, where the user has not set these variables.
#: Arrow's default pool (mimalloc) hands freed memory back to the system and faults it
#: in again; with pandas' Arrow-backed text columns that cost notebook 03 half its time
#: in the kernel (system time) at 5M touchpoints. With the system allocator that
#: notebook took 51 s instead of 77 s (sys 14 s instead of 33 s), on the same data.
KERNEL_ENVIRONMENT = {"ARROW_DEFAULT_MEMORY_POOL": "system"}

# The kernel warns on every start that it listens on local TCP without
# encryption; nothing a report user can act on, so only its errors are shown.
_QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


@dataclass
class NotebookRecord:
    """What happened to one notebook of a run (file names are relative to the run folder)."""

    name: str
    status: Literal["ok", "failed", "skipped"] = "skipped"
    started: str | None = None
    finished: str | None = None
    duration_seconds: float | None = None
    notebook: str | None = None
    html: str | None = None
    cell: int | None = None
    execution_count: int | None = None
    error: str | None = None


@dataclass
class RunResult:
    """A finished run: its folder, its index page and a record per notebook."""

    out: Path
    index: Path
    notebooks: list[NotebookRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every notebook ran without error."""
        return all(record.status == "ok" for record in self.notebooks)


def run_report(
    params: str | Path | Mapping[str, Any],
    out: str | Path | None = None,
    only: Sequence[str] | None = None,
    with_code: bool = False,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    cell_timeout: float | None = CELL_TIMEOUT,
) -> RunResult:
    """Execute the report notebooks with one set of parameters into a run folder.

    Parameters
    ----------
    params : str, Path or mapping
        A params file (flat YAML of notebook parameter names to values) or the
        mapping itself. Each notebook gets the parameters it declares, plus
        ``run`` set to the absolute run folder.
    out : str or Path, optional
        The run folder. Default: the ``run`` parameter when given, else
        ``<outputs>/<params file stem>`` (``params/demo.yaml`` → ``outputs/demo``).
    only : sequence of str, optional
        Run just these notebooks (``"02_segmentation"`` or
        ``"02_segmentation.ipynb"``), still in report order.
    with_code : bool, default False
        Show code cells in the HTML pages.
    notebooks_dir : str or Path, optional
        Where the notebooks are; default ``<project root>/notebooks``.
    progress : bool, default True
        Show a progress bar per notebook on stderr.
    cell_timeout : float or None, default 3600
        Seconds one cell may run. A cell still running then is stopped and its
        notebook fails as if the cell had raised (``CellTimeoutError``), as
        does a cell whose kernel dies (``DeadKernelError``, for example killed
        for lack of memory). ``None`` or 0: no limit.

    Returns
    -------
    RunResult
        The run folder, ``index.html`` and a record per notebook.

    Raises
    ------
    ParameterError
        For a bad params file, a parameter no notebook declares, an unknown
        ``only`` name or a negative or infinite ``cell_timeout``; nothing is
        executed then.
    NotebookFailed
        When a cell raises, runs out of time or loses its kernel. The partial
        notebook, its HTML, ``index.html`` and ``run.json`` are written first;
        later notebooks are not run.

    Example
    -------
    >>> run_report("params/demo.yaml", only=["01_data_collection"])  # doctest: +SKIP
    """
    cell_timeout = checked_cell_timeout(cell_timeout)
    values, params_file = _read_params(params)
    selected = _select(only)
    notebooks_dir = Path(notebooks_dir or project_root() / "notebooks").resolve()
    declared = _declared_parameters(notebooks_dir, selected)
    check_params(values, declared)
    out = _output_folder(out, values, params_file)
    run_paths(out).data.mkdir(parents=True, exist_ok=True)

    started, clock = _utc_now(), time.perf_counter()
    records: list[NotebookRecord] = []
    for number, name in enumerate(selected, 1):
        if any(record.status == "failed" for record in records):
            records.append(NotebookRecord(name))
            continue
        parameters = {key: value for key, value in values.items() if key in declared[name]}
        bar = {"desc": f"[{number}/{len(selected)}] {name}"} if progress else False
        records.append(
            _run_notebook(
                notebooks_dir / f"{name}.ipynb", out, parameters, with_code, bar, cell_timeout
            )
        )

    result = RunResult(out, out / "index.html", records)
    seconds = time.perf_counter() - clock
    run_record = _run_record(result, values, params_file, with_code, cell_timeout, started, seconds)
    (out / "run.json").write_text(
        json.dumps(run_record, indent=2, default=str) + "\n", encoding="utf-8"
    )
    write_index(run_record, out)
    for record in records:
        if record.status == "failed":
            raise NotebookFailed(record.name, record.cell, record.error, str(out / record.notebook))
    return result


def checked_cell_timeout(seconds: Any) -> float | None:
    """A cell time limit in seconds, or ``None`` for none (``None`` or 0).

    Raises :class:`ParameterError` for anything but a finite number, 0 or more.

    Example
    -------
    >>> checked_cell_timeout(90), checked_cell_timeout(0)
    (90.0, None)
    """
    try:
        value = 0.0 if seconds is None else float(seconds)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(seconds, bool) or not (math.isfinite(value) and value >= 0):
        raise ParameterError(
            f"cell_timeout must be a number of seconds, 0 or more (0: no limit), not {seconds!r}"
        )
    return value or None


def _run_record(
    result: RunResult,
    values: Mapping[str, Any],
    params_file: Path | None,
    with_code: bool,
    cell_timeout: float | None,
    started: str,
    seconds: float,
) -> dict[str, Any]:
    """What ``run.json`` records: parameters (secrets masked), versions, timings, statuses."""
    return {
        "run": result.out.name,
        "out": str(result.out),
        "params_file": str(params_file) if params_file else None,
        "ok": result.ok,
        "started": started,
        "finished": _utc_now(),
        "duration_seconds": round(seconds, 2),
        "segkit_version": _segkit_version(),
        "python_version": platform.python_version(),
        "with_code": with_code,
        "cell_timeout": cell_timeout,
        "parameters": mask_secrets(values),
        "notebooks": [asdict(record) for record in result.notebooks],
    }


def _run_notebook(
    source: Path,
    out: Path,
    parameters: dict[str, Any],
    with_code: bool,
    bar: dict | bool,
    cell_timeout: float | None,
) -> NotebookRecord:
    """Execute one notebook into ``out`` and export its HTML, failed or not."""
    target = out / source.name
    record = NotebookRecord(source.stem, started=_utc_now(), notebook=target.name)
    clock = time.perf_counter()
    try:
        try:
            with quiet_inspector(), _kernel_environment():
                papermill.execute_notebook(
                    source,
                    target,
                    parameters={**parameters, "run": str(out)},
                    kernel_name="python3",
                    cwd=source.parent,
                    progress_bar=bar,
                    extra_arguments=_QUIET_KERNEL,
                    execution_timeout=cell_timeout,
                )
        except (CellTimeoutError, DeadKernelError) as stop:
            _fail_stopped_cell(target, stop, cell_timeout)
        record.status = "ok"
    except papermill.PapermillExecutionError as error:
        record.status = "failed"
        record.cell = _cell_number(target, error.cell_index)
        record.execution_count = error.exec_count
        record.error = f"{error.ename}: {error.evalue}"
    record.finished = _utc_now()
    record.duration_seconds = round(time.perf_counter() - clock, 2)
    record.html = export_html(target, target.with_suffix(".html"), with_code).name
    return record


@contextmanager
def _kernel_environment() -> Iterator[None]:
    """:data:`KERNEL_ENVIRONMENT` in ``os.environ`` (which kernels inherit) while a notebook
    runs, except the variables the user set; ``os.environ`` is as before afterwards."""
    added = {name: value for name, value in KERNEL_ENVIRONMENT.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _fail_stopped_cell(
    partial: Path, stop: CellTimeoutError | DeadKernelError, cell_timeout: float | None
) -> None:
    """Give the cell that was running when papermill stopped an error output, as if it raised.

    A cell that times out or whose kernel dies leaves no error in the notebook
    papermill wrote. The cell that was running is the last one papermill
    started; with an error output there, papermill's own check marks it at the
    top of the notebook and raises ``PapermillExecutionError`` as for any
    failed cell, so the run records and reports it the same way.
    """
    nb = nbformat.read(str(partial), as_version=4)
    started = [c for c in nb.cells if c.metadata.get("papermill", {}).get("start_time")]
    if isinstance(stop, CellTimeoutError):
        evalue = (
            f"the cell was still running after {cell_timeout:g} s and was stopped "
            "(raise the limit: segkit run --cell-timeout or run_report(cell_timeout=), 0 for none)"
        )
    else:
        evalue = "the kernel died while the cell ran (out of memory, or killed)"
    ename = type(stop).__name__
    error = nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )
    # The kernel's own KeyboardInterrupt from the shutdown, when it came, is replaced.
    cell = started[-1]
    cell.outputs = [output for output in cell.outputs if output.output_type != "error"]
    cell.outputs.append(error)
    cell.metadata.papermill["exception"] = True
    cell.metadata.papermill["status"] = "failed"
    raise_for_execution_errors(nb, str(partial))


def _cell_number(partial: Path, cell_index: int) -> int:
    """The failed cell's position, counted from 1, in the notebook the user wrote.

    Papermill's ``cell_index`` counts the cells of the executed notebook, which
    has an injected-parameters cell the user's notebook lacks; the partial
    notebook it writes also has two error-marker cells added, dropped here first.
    """
    cells = [
        cell
        for cell in nbformat.read(str(partial), as_version=4).cells
        if ERROR_MARKER_TAG not in cell.metadata.get("tags", [])
    ]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:cell_index])
    return cell_index - injected + 1


def _read_params(params: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """The parameters and, when they came from one, the params file."""
    if isinstance(params, Mapping):
        return dict(params), None
    return load_params(params), Path(params).resolve()


def _select(only: Sequence[str] | None) -> tuple[str, ...]:
    """The notebooks to run, in report order; ``only`` names are checked."""
    if only is None:
        return NOTEBOOKS
    if isinstance(only, str):
        only = [only]
    names = {Path(name).name.removesuffix(".ipynb") for name in only}
    unknown = sorted(names - set(NOTEBOOKS))
    if unknown or not names:
        raise ParameterError(
            f"unknown notebook name(s) {unknown}; the notebooks are: {', '.join(NOTEBOOKS)}"
            if unknown
            else f"no notebook named to run; name one or more of: {', '.join(NOTEBOOKS)}"
        )
    return tuple(name for name in NOTEBOOKS if name in names)


def _declared_parameters(notebooks_dir: Path, selected: Sequence[str]) -> dict[str, dict]:
    """The parameters each report notebook present declares; the selected ones must exist."""
    declared = {}
    for name in NOTEBOOKS:
        path = notebooks_dir / f"{name}.ipynb"
        if path.is_file():
            declared[name] = notebook_parameters(path)
        elif name in selected:
            raise SegkitError(f"notebook {path} does not exist")
    return declared


def _output_folder(
    out: str | Path | None, values: Mapping[str, Any], params_file: Path | None
) -> Path:
    """The absolute run folder: ``out``, else the ``run`` parameter, else the params file stem."""
    if out is not None:
        return Path(out).expanduser().resolve()
    if "run" in values:
        return run_paths(str(values["run"])).root.resolve()
    if params_file is not None:
        return (outputs_root() / params_file.stem).resolve()
    raise ParameterError("no run folder: pass out=, or a 'run' parameter, or a params file")


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _segkit_version() -> str:
    from segkit import __version__  # here, not at the top: segkit/__init__ may import runner

    return __version__
