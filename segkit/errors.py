"""Exceptions segkit raises, each carrying what a user needs to fix the cause."""

from __future__ import annotations


class SegkitError(Exception):
    """Base class of every error segkit raises on purpose."""


class DataContractError(SegkitError, ValueError):
    """Input cannot be used at all: a required table or column is missing.

    The message names the table, the column and what was expected; row-level
    problems never raise this (they go to the rejects ledger instead).
    """

    def __init__(self, table: str, column: str | None, expected: str, found: str = ""):
        self.table, self.column, self.expected, self.found = table, column, expected, found
        where = f"table '{table}'" + (f", column '{column}'" if column else "")
        message = f"{where}: expected {expected}"
        if found:
            message += f"; found {found}"
        super().__init__(message)


class ParameterError(SegkitError, ValueError):
    """A run's parameters are unknown, missing or malformed."""


class StageOutputMissing(SegkitError, FileNotFoundError):
    """A notebook needs a file that an earlier stage of the run should have written."""


class NotebookFailed(SegkitError, RuntimeError):
    """A notebook of a report run raised; names the notebook, the cell and the error."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: str):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
        at = f"cell {cell}" if cell is not None else "an unknown cell"
        super().__init__(
            f"{notebook} failed at {at}: {error}\n  partial notebook written to {output}"
        )
