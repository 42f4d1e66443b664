"""segspark: behavioural multi-axis fuzzy customer segmentation on Apache Spark.

The public API, for notebooks and jobs of your own (the CLI is built on the same names)::

    import segspark

    config = segspark.load_config(["conf/local.yaml"], ["warehouse.root=/tmp/wh"])
    result = segspark.run_pipeline(config)                    # the whole `segspark run`
    ctx = segspark.make_context(config)                       # or step by step: ctx.spark, ctx.root
    features = segspark.features_step(ctx, result.as_of)
    model = segspark.SegmentationModel.load(result.root)     # the newest fitted model
    profiles = model.transform(segspark.read_table(ctx.spark, result.root, "features", result.as_of.isoformat()))

Names are imported on first use, so `import segspark` stays cheap (the CLI checks its arguments before
pyspark is loaded).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("segspark")
except PackageNotFoundError:  # imported from a source tree or a zip on --py-files without metadata
    __version__ = "0.1.0"

__all__ = [
    "Config",
    "PipelineResult",
    "RunContext",
    "SegmentationModel",
    "SegsparkError",
    "__version__",
    "backfill_step",
    "customer_document",
    "drift_step",
    "features_step",
    "fit_step",
    "get_spark",
    "load_config",
    "make_context",
    "read_table",
    "report_step",
    "run_pipeline",
    "run_week",
    "score_step",
    "segment_catalogue",
    "state_step",
    "validate_step",
]
# Where each name lives; imported on first use (PEP 562).
_HOMES = {
    "segspark.config": ("Config", "load_config"),
    "segspark.context": ("RunContext", "make_context"),
    "segspark.exc": ("SegsparkError",),
    "segspark.model.segmentation": ("SegmentationModel",),
    "segspark.pipeline": ("PipelineResult", "run_pipeline"),
    "segspark.report.data": ("segment_catalogue",),
    "segspark.schedule.weekly": ("run_week",),
    "segspark.score.profile": ("customer_document",),
    "segspark.session": ("get_spark",),
    "segspark.snapshots": ("backfill_step",),
    "segspark.steps": (
        "drift_step",
        "features_step",
        "fit_step",
        "report_step",
        "score_step",
        "state_step",
        "validate_step",
    ),
    "segspark.tables": ("read_table",),
}
_EXPORTS = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from segspark.config import Config, load_config
    from segspark.context import RunContext, make_context
    from segspark.exc import SegsparkError
    from segspark.model.segmentation import SegmentationModel
    from segspark.pipeline import PipelineResult, run_pipeline
    from segspark.report.data import segment_catalogue
    from segspark.schedule.weekly import run_week
    from segspark.score.profile import customer_document
    from segspark.session import get_spark
    from segspark.snapshots import backfill_step
    from segspark.steps import (
        drift_step,
        features_step,
        fit_step,
        report_step,
        score_step,
        state_step,
        validate_step,
    )
    from segspark.tables import read_table


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segspark' has no attribute {name!r}")
