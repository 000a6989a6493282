"""segkit: customer segmentation and segment attribution for Jupyter workbooks.

Import it as ``import segkit as sk``.
"""

from importlib.metadata import PackageNotFoundError, version

from segkit import clv, plots
from segkit.activation import AudienceExport, export_audiences
from segkit.attribution import (
    DATA_DRIVEN_MODELS,
    DEFAULT_MODELS,
    MODELS,
    attribute,
    attribute_paths,
    attribution_truth_check,
    compare_models,
    compare_models_long,
    side_by_side,
)
from segkit.audit import Audit, audit
from segkit.budget import BudgetPlan, reallocate_budget
from segkit.clustering import CustomerClusters, cluster
from segkit.clv import BetaGeo, GammaGamma
from segkit.customer_view import customer_view, last_order_time
from segkit.dataset import Dataset, Truth
from segkit.delivery import delivery
from segkit.engines import ENGINES, persist, spark_session, to_engine, to_pandas
from segkit.errors import (
    DataContractError,
    NotebookFailed,
    ParameterError,
    SegkitError,
    StageOutputMissing,
)
from segkit.experiments import ab_brief, ab_test
from segkit.journeys import (
    drop_direct,
    journey_stats,
    journeys,
    journeys_from_paths,
    label_journeys,
    untracked_conversions,
)
from segkit.lifecycle import lifecycle, lifecycle_funnel, lifecycle_summary
from segkit.markov_attribution import MarkovAttribution
from segkit.migration import Migration, migration
from segkit.paths import RunPaths, run_paths
from segkit.playbook import DEFAULT_ACTIONS, playbook, playbook_flags
from segkit.privacy import mask_email, redact
from segkit.profiles import flag_summary, segment_summary, segments_table
from segkit.reach import channel_reach, touch_counts
from segkit.rfm import RFM, RFM_SEGMENTS, rfm, rfm_segment_table
from segkit.roi import funnel, roi, roi_totals
from segkit.rule_segments import MeceReport, RuleSets, apply_rule_sets, check_mece, rule_segments
from segkit.simulation import simulate
from segkit.sources import load_source
from segkit.subsegments import subsegment_rules, subsegments, truth_check
from segkit.summary import executive_summary
from segkit.validation import Validation, validate
from segkit.value import pareto_curve, revenue_share_of_top
from segkit.widgets import AttributionExplorer, SegmentExplorer

try:
    __version__ = version("segkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AttributionExplorer",
    "AudienceExport",
    "Audit",
    "BetaGeo",
    "BudgetPlan",
    "CustomerClusters",
    "DATA_DRIVEN_MODELS",
    "DEFAULT_ACTIONS",
    "DEFAULT_MODELS",
    "ENGINES",
    "DataContractError",
    "Dataset",
    "GammaGamma",
    "MODELS",
    "MarkovAttribution",
    "MeceReport",
    "Migration",
    "NotebookFailed",
    "ParameterError",
    "RFM",
    "RFM_SEGMENTS",
    "RuleSets",
    "RunPaths",
    "SegkitError",
    "SegmentExplorer",
    "StageOutputMissing",
    "Truth",
    "Validation",
    "__version__",
    "ab_brief",
    "ab_test",
    "apply_rule_sets",
    "attribute",
    "attribute_paths",
    "attribution_truth_check",
    "audit",
    "channel_reach",
    "check_mece",
    "cluster",
    "clv",
    "compare_models",
    "compare_models_long",
    "customer_view",
    "delivery",
    "drop_direct",
    "executive_summary",
    "export_audiences",
    "flag_summary",
    "funnel",
    "journey_stats",
    "journeys",
    "journeys_from_paths",
    "label_journeys",
    "last_order_time",
    "lifecycle",
    "lifecycle_funnel",
    "lifecycle_summary",
    "load_source",
    "mask_email",
    "migration",
    "pareto_curve",
    "persist",
    "playbook",
    "playbook_flags",
    "plots",
    "reallocate_budget",
    "redact",
    "revenue_share_of_top",
    "rfm",
    "rfm_segment_table",
    "roi",
    "roi_totals",
    "rule_segments",
    "run_paths",
    "segment_summary",
    "segments_table",
    "side_by_side",
    "simulate",
    "spark_session",
    "subsegment_rules",
    "subsegments",
    "to_engine",
    "to_pandas",
    "touch_counts",
    "truth_check",
    "untracked_conversions",
    "validate",
]
