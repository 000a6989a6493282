"""segkit: customer segmentation and segment attribution for Jupyter workbooks.

Import it as ``import segkit as sk``.
"""

from importlib.metadata import PackageNotFoundError, version

from segkit.dataset import Dataset, Truth
from segkit.paths import run_paths

try:
    __version__ = version("segkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Dataset", "Truth", "__version__", "run_paths"]
