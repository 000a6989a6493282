"""The project's own files: dependency lists in sync, notebooks stored clean."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from tests.conftest import PROJECT

#: conda-forge names that differ from the PyPI names.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
#: conda packages that are not Python packages: the Java that PySpark runs on.
NOT_PYTHON = ("openjdk",)
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("*.ipynb"))


def _requirement(text: str) -> tuple[str, str]:
    name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", text.strip()).groups()
    return name.lower(), bound.replace(" ", "")


def test_environment_yml_lists_the_dependencies_of_pyproject():
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    spark = project["optional-dependencies"]["spark"]
    pypi = dict(_requirement(r) for r in [*project["dependencies"], *spark])
    environment = yaml.safe_load((PROJECT / "environment.yml").read_text())
    conda, system = {}, {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and not entry.startswith(("python=", "pip")):
            name, bound = _requirement(entry)
            if name in NOT_PYTHON:
                system[name] = bound
            else:
                conda[CONDA_TO_PYPI.get(name, name)] = bound
    assert conda == pypi
    assert set(system) == set(NOT_PYTHON)
    pip_section = next(e["pip"] for e in environment["dependencies"] if isinstance(e, dict))
    assert pip_section == ["-e .[dev]"]
    assert environment["channels"] == ["conda-forge"]


def test_the_test_suite_installs_pyspark_and_the_java_of_environment_yml():
    """``make setup`` installs the dev extra, so the Spark tests always run (never skip)."""
    extras = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    assert set(extras["spark"]) <= set(extras["dev"])
    environment = (PROJECT / "environment.yml").read_text()
    java = re.search(r"^\s*- openjdk=(\d+)$", environment, re.MULTILINE).group(1)
    assert f"openjdk-{java}-jre-headless" in (PROJECT / "Makefile").read_text()


def test_there_are_four_stage_notebooks():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_data_collection",
        "02_segmentation",
        "03_attribution",
        "04_analysis",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs_with_kernelspec_and_parameters(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert re.search(r"^run = ", "".join(tagged[0]["source"]), re.MULTILINE)
