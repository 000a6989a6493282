"""Self-contained HTML of a report run: one page per notebook and an index page.

The pages are read offline by people who never see the code: nothing is
loaded from the network, images are inline, and code cells are hidden unless
asked for.

Example
-------
>>> from segkit.report_html import export_html
>>> export_html("outputs/demo/02_segmentation.ipynb", "outputs/demo/02_segmentation.html")
... # doctest: +SKIP
PosixPath('outputs/demo/02_segmentation.html')
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import nbformat
import yaml
from nbconvert import HTMLExporter

from segkit.params import mask_secrets

# The lab template without the <script> tags that fetch require.js, MathJax,
# Mermaid and the widget renderer from a CDN: they would fail offline.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
"""
# Remote assets an output itself may carry (a plotly or bokeh figure, say).
_REMOTE_TAG = re.compile(
    r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>",
    re.I,
)


def export_html(ipynb_path: str | Path, html_path: str | Path, with_code: bool = False) -> Path:
    """Write an executed notebook as one self-contained HTML page.

    Parameters
    ----------
    ipynb_path : str or Path
        The executed notebook (a failed one too: its error is shown).
    html_path : str or Path
        Where to write the page.
    with_code : bool, default False
        Show code cells and prompts; by default only markdown and outputs.

    Returns
    -------
    Path
        ``html_path``.

    Example
    -------
    >>> export_html("out/01_data_collection.ipynb", "out/01_data_collection.html")
    ... # doctest: +SKIP
    """
    exporter = HTMLExporter(
        template_name="lab",
        template_file="segkit_offline.html.j2",
        extra_loaders=[jinja2.DictLoader({"segkit_offline.html.j2": _OFFLINE_TEMPLATE})],
        exclude_input=not with_code,
        exclude_input_prompt=not with_code,
        exclude_output_prompt=not with_code,
    )
    notebook = nbformat.read(str(ipynb_path), as_version=4)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = mask_secrets(cell.source)
    body, _ = exporter.from_notebook_node(notebook)
    html_path = Path(html_path)
    html_path.write_text(_REMOTE_TAG.sub("", body), encoding="utf-8")
    return html_path


def write_index(record: Mapping[str, Any], out: str | Path) -> Path:
    """Write ``out/index.html``: the run's notebooks, their status and its parameters.

    Parameters
    ----------
    record : mapping
        The run record the runner writes to ``run.json`` (``run``,
        ``notebooks``, ``parameters``, ``segkit_version``, timestamps...).
    out : str or Path
        The run folder; links to the notebook pages are relative to it.

    Returns
    -------
    Path
        The index page.

    Example
    -------
    >>> import json
    >>> write_index(json.loads(Path("outputs/demo/run.json").read_text()), "outputs/demo")
    ... # doctest: +SKIP
    PosixPath('outputs/demo/index.html')
    """
    esc = html.escape
    title = f"segkit report: {record['run']}"
    status = "completed" if record["ok"] else "failed"
    parameters = yaml.safe_dump(mask_secrets(record["parameters"]), sort_keys=False)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(title)}</title>
<style>{_INDEX_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="{status}">Run {status}: started {_when(record["started"])}, finished
{_when(record["finished"])}, {_seconds(record["duration_seconds"])}.</p>
<table>
<thead><tr><th>#</th><th>Report</th><th>Status</th><th>Duration</th><th>Notes</th></tr></thead>
<tbody>
{"".join(_notebook_row(number, nb) for number, nb in enumerate(record["notebooks"], 1))}
</tbody>
</table>
<p>The data each stage wrote is under <a href="data/">data/</a>; the executed notebooks
(<code>.ipynb</code>) are beside this page.</p>
<h2>Parameters</h2>
<pre>{esc(parameters)}</pre>
<p class="meta">segkit {esc(str(record["segkit_version"]))}, Python
{esc(str(record["python_version"]))}.</p>
</body>
</html>
"""
    path = Path(out) / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _notebook_row(number: int, notebook: Mapping[str, Any]) -> str:
    """One table row: the notebook's page (linked when it exists), status, duration, error."""
    esc = html.escape
    name = esc(notebook["name"])
    link = f'<a href="{esc(notebook["html"])}">{name}</a>' if notebook.get("html") else name
    notes = ""
    if notebook["status"] == "failed":
        cell = f"cell {notebook['cell']}" if notebook.get("cell") else "an unknown cell"
        if notebook.get("execution_count"):
            cell += f" (In [{notebook['execution_count']}])"
        notes = f"failed at {cell}: <code>{esc(str(notebook['error']))}</code>"
    elif notebook["status"] == "skipped":
        notes = "not run: an earlier notebook failed"
    return (
        f'<tr><td>{number}</td><td>{link}</td><td class="{esc(notebook["status"])}">'
        f"{esc(notebook['status'])}</td><td>{_seconds(notebook.get('duration_seconds'))}</td>"
        f"<td>{notes}</td></tr>\n"
    )


def _seconds(duration: float | None) -> str:
    return "" if duration is None else f"{duration:.1f} s"


def _when(timestamp: str) -> str:
    """``2026-05-04T09:30:00+00:00`` as ``2026-05-04 09:30:00 UTC``, escaped."""
    return html.escape(str(timestamp).replace("T", " ").replace("+00:00", " UTC"))


_INDEX_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.6rem; margin-bottom: 0.5rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid #ddd;
         vertical-align: top; }
th { background: #f4f5f7; }
.ok, .completed { color: #1a7f37; }
.failed { color: #cf222e; font-weight: 600; }
.skipped { color: #6e7781; }
pre { background: #f6f8fa; padding: 0.8rem; border-radius: 4px; overflow-x: auto; }
code { font-size: 0.9em; }
.meta { color: #6e7781; font-size: 0.9rem; }
"""
