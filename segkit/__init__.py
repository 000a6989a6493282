"""segkit: customer segmentation and segment attribution for Jupyter workbooks.

Import it as ``import segkit as sk``.
"""

from importlib.metadata import PackageNotFoundError, version

from segkit import plots
from segkit.audit import Audit, audit
from segkit.buyer_types import buyer_types
from segkit.dataset import Dataset, Truth
from segkit.delivery import delivery
from segkit.errors import (
    DataContractError,
    NotebookFailed,
    ParameterError,
    SegkitError,
    StageOutputMissing,
)
from segkit.paths import RunPaths, run_paths
from segkit.privacy import mask_email, redact
from segkit.profiles import segment_summary
from segkit.reach import channel_reach, touch_counts
from segkit.simulation import simulate
from segkit.sources import load_source
from segkit.validation import Validation, validate
from segkit.value import pareto_curve, revenue_share_of_top

try:
    __version__ = version("segkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Audit",
    "DataContractError",
    "Dataset",
    "NotebookFailed",
    "ParameterError",
    "RunPaths",
    "SegkitError",
    "StageOutputMissing",
    "Truth",
    "Validation",
    "__version__",
    "audit",
    "buyer_types",
    "channel_reach",
    "delivery",
    "load_source",
    "mask_email",
    "pareto_curve",
    "plots",
    "redact",
    "revenue_share_of_top",
    "run_paths",
    "segment_summary",
    "simulate",
    "touch_counts",
    "validate",
]
