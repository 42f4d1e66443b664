"""Nearest segment per axis from a manifest: a numpy core and a Spark-expression twin.

Both apply the model exactly as stored: impute, transform, scale, Euclidean
distance to every centre; ties go to the first centre, as numpy's argmin does.
"""

from __future__ import annotations

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F

from segspark.model.manifest import AxisModel
from segspark.model.transforms import numpy_transform, scale, spark_transform


def scaled_matrix(axis: AxisModel, raw: np.ndarray) -> np.ndarray:
    """Raw feature values (n x d, NaN for missing) -> scaled values as the model sees them."""
    cols = [numpy_transform(raw[:, j], axis.transforms[f], axis.impute[f]) for j, f in enumerate(axis.features)]
    transformed = np.column_stack(cols) if cols else np.empty((raw.shape[0], 0))
    return scale(transformed, np.asarray(axis.scaler_mean), np.asarray(axis.scaler_scale))


def distances(axis: AxisModel, raw: np.ndarray) -> np.ndarray:
    """Euclidean distances (n x k) of raw feature rows (n x d, NaN = missing) to the axis's centres: the one
    implementation the scorer (score.core) and the fit's checks share."""
    x = scaled_matrix(axis, raw)
    centres = axis.centres()
    # |x - c|^2 = sum_j (x_j - c_j)^2, accumulated per feature to avoid an n x k x d temporary.
    sq = np.zeros((x.shape[0], centres.shape[0]))
    for j in range(x.shape[1]):
        sq += (x[:, j : j + 1] - centres[None, :, j]) ** 2
    return np.asarray(np.sqrt(sq), dtype=float)


def dominant(axis: AxisModel, raw: np.ndarray) -> list[str]:
    """The nearest segment id of every row."""
    return [axis.segment_ids[i] for i in np.argmin(distances(axis, raw), axis=1)]


def scaled_columns(axis: AxisModel) -> list[Column]:
    """The axis's scaled features as Spark columns (same arithmetic as `scaled_matrix`)."""
    out = []
    for j, feature in enumerate(axis.features):
        t = spark_transform(F.col(axis.columns[j]), axis.transforms[feature], axis.impute[feature])
        mean, std = axis.scaler_mean[j], axis.scaler_scale[j]
        out.append((t - F.lit(mean)) / F.lit(std) if std > 0 else F.lit(0.0))
    return out


def dominant_column(axis: AxisModel) -> Column:
    """The nearest segment id as one Spark expression (no UDF, no join)."""
    xs = scaled_columns(axis)
    sq = [
        sum(((x - F.lit(c)) ** 2 for x, c in zip(xs, centre, strict=True)), F.lit(0.0))
        for centre in axis.centers_scaled
    ]
    nearest = F.least(*sq) if len(sq) > 1 else sq[0]
    # The first centre at the minimum distance wins ties, like numpy's argmin.
    out = F.when(sq[0] == nearest, F.lit(axis.segment_ids[0]))
    for sid, d in zip(axis.segment_ids[1:], sq[1:], strict=True):
        out = out.when(d == nearest, F.lit(sid))
    return out
