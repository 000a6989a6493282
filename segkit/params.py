"""A report's parameters: read from YAML, checked against what the notebooks declare.

A params file is a flat YAML mapping of notebook parameter names to values, so
that the same file works with ``segkit run --params`` and with plain
``papermill notebook.ipynb out.ipynb -f params/demo.yaml``. A value may be a
nested mapping (``source: {kind: demo, customers: 2000, seed: 42}``).

Example
-------
>>> from segkit.params import check_params
>>> check_params({"threshold": 2}, {"02_segmentation": {"run": '"demo"', "threshold": "1"}})
>>> mask_secrets({"url": "postgresql://ana:secret@db/sales"})
{'url': 'postgresql://ana:***@db/sales'}
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import papermill
import yaml

from segkit.errors import ParameterError

# ``scheme://user:password@host``: the password is masked, the rest kept for the reader.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I)
# Values under keys like these are masked whole.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_key)$", re.I)


def load_params(path: str | Path) -> dict[str, Any]:
    """Read a params file: a YAML mapping of notebook parameter names to values.

    Parameters
    ----------
    path : str or Path
        The YAML file. An empty file means "every notebook on its defaults".

    Returns
    -------
    dict
        Parameter name to value, in the file's order.

    Raises
    ------
    ParameterError
        If the file is missing, is not valid YAML (the message gives the line),
        or its top level is not a mapping of names.

    Example
    -------
    >>> load_params("params/demo.yaml")["source"]  # doctest: +SKIP
    {'kind': 'demo', 'customers': 2000, 'seed': 42}
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"parameters file {path} does not exist")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ParameterError(f"{path} is not valid YAML{where}: {problem}") from None
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParameterError(
            f"{path}: the top level must be a mapping of notebook parameter names to values "
            f"(name: value), not a {type(params).__name__}"
        )
    not_names = [name for name in params if not (isinstance(name, str) and name.isidentifier())]
    if not_names:
        raise ParameterError(f"{path}: parameter names must be Python identifiers: {not_names}")
    return _dates_as_text(params)


def _dates_as_text(value: Any) -> Any:
    """YAML reads ``2026-01-01`` as a date, which papermill would inject as the bare
    expression ``2026-01-01`` (the number 2024); pass dates on as ISO strings."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    return value


def notebook_parameters(notebook_path: str | Path) -> dict[str, str]:
    """The parameters a notebook declares in its cell tagged ``parameters``.

    Parameters
    ----------
    notebook_path : str or Path
        The ``.ipynb`` file.

    Returns
    -------
    dict
        Parameter name to its default, as the source text of the assignment
        (``'"demo"'``, ``'1'``), in declaration order; empty when the notebook
        has no ``parameters`` cell.

    Example
    -------
    >>> notebook_parameters("notebooks/02_segmentation.ipynb")["run"]  # doctest: +SKIP
    '"demo"'
    """
    with quiet_inspector():
        declared = papermill.inspect_notebook(str(notebook_path))
    return {name: parameter["default"] for name, parameter in declared.items()}


@contextmanager
def quiet_inspector() -> Iterator[None]:
    """Silence papermill's parameter-cell inspector while inside the block.

    It reads the cell line by line and warns about every line holding "=" inside
    a multi-line default (such as ``"orders == 0"`` in a rule set), although it
    still finds every parameter name; the names are all segkit relies on.
    """
    inspector_log = logging.getLogger("papermill.translators")
    level = inspector_log.level
    inspector_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        inspector_log.setLevel(level)


def check_params(params: Mapping[str, Any], notebooks: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise if a parameter is declared by none of the notebooks.

    A misspelt name would otherwise be injected into no notebook and the run
    would silently use a default, so an unknown name is an error.

    Parameters
    ----------
    params : mapping
        Parameter name to value, as :func:`load_params` returns it.
    notebooks : mapping
        Notebook name to the parameters it declares (:func:`notebook_parameters`).

    Raises
    ------
    ParameterError
        Naming each unknown parameter (with a close known name when there is
        one) and listing the known parameters of each notebook.

    Example
    -------
    >>> check_params({"treshold": 2}, {"nb": {"threshold": "1"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    segkit.errors.ParameterError: unknown parameter 'treshold' (did you mean ...
    """
    known = {name for declared in notebooks.values() for name in declared}
    unknown = [name for name in params if name not in known]
    if not unknown:
        return
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        described.append(repr(name) + (f" (did you mean {close[0]!r}?)" if close else ""))
    declared_by = "; ".join(
        f"{notebook}: {', '.join(declared) or '(none)'}" for notebook, declared in notebooks.items()
    )
    plural = "s" if len(unknown) > 1 else ""
    raise ParameterError(
        f"unknown parameter{plural} {', '.join(described)}: no notebook declares "
        f"{'them' if plural else 'it'}. Known parameters by notebook: {declared_by}"
    )


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` safe to show: URL passwords and secret-named keys masked.

    ``duckdb:///x.db`` is kept, ``postgresql://ana:secret@db/sales`` becomes
    ``postgresql://ana:***@db/sales``, and the value of a key ending in
    ``password``, ``secret``, ``token`` or ``api_key`` becomes ``***``. Nested
    mappings and lists are walked; the input is not modified.

    Example
    -------
    >>> mask_secrets({"source": {"url": "mysql://u:p@h/db", "password": "p"}})
    {'source': {'url': 'mysql://u:***@h/db', 'password': '***'}}
    """
    if isinstance(value, Mapping):
        return {
            key: "***" if isinstance(key, str) and _SECRET_KEY.search(key) else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\g<head>***", value)
    return value
