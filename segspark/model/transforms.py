"""Feature transforms before scaling, as Spark columns (fit, score) and numpy (score core).

Both forms implement the same arithmetic so a Spark-scored customer equals the
numpy-scored one: impute the median learnt at fit, then transform.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F


def spark_transform(col: Column, spec: Mapping[str, Any], impute: float) -> Column:
    """Impute then transform one feature column, as fitted (`spec` from the manifest)."""
    x = F.coalesce(col, F.lit(float(impute)))
    kind = spec["kind"]
    if kind == "log1p":
        return F.log1p(F.greatest(x, F.lit(0.0)))
    if kind == "signed_log1p":
        return F.signum(x) * F.log1p(F.abs(x))
    if kind == "clip":
        return F.least(F.greatest(x, F.lit(float(spec["low"]))), F.lit(float(spec["high"])))
    return x


def numpy_transform(x: np.ndarray, spec: Mapping[str, Any], impute: float) -> np.ndarray:
    """The numpy twin of `spark_transform` for a 1-d array."""
    x = np.where(np.isnan(x), float(impute), x)
    kind = spec["kind"]
    if kind == "log1p":
        out = np.log1p(np.maximum(x, 0.0))
    elif kind == "signed_log1p":
        out = np.sign(x) * np.log1p(np.abs(x))
    elif kind == "clip":
        out = np.clip(x, float(spec["low"]), float(spec["high"]))
    else:
        out = x
    return np.asarray(out, dtype=float)


def inverse_transform(y: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Back from transformed to original units (for centres); clipping is not invertible and stays."""
    kind = spec["kind"]
    if kind == "log1p":
        return np.asarray(np.expm1(y), dtype=float)
    if kind == "signed_log1p":
        return np.asarray(np.sign(y) * np.expm1(np.abs(y)), dtype=float)
    return y


def scale(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise like Spark's StandardScaler(withMean, withStd): a zero std gives 0."""
    safe = np.where(std > 0, std, 1.0)
    return np.asarray(np.where(std > 0, (x - mean) / safe, 0.0), dtype=float)
