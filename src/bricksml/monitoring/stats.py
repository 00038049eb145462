"""Distances between a reference sample and a current one, as effect sizes (not p-values).

A p-value shrinks with the window: on a million rows the smallest harmless shift is "significant".
The decisions therefore rest on sizes that do not grow with the rows: the population stability
index (PSI) over the reference's quantile bins, the Wasserstein distance in reference standard
deviations, the Kolmogorov-Smirnov statistic D (a share of rows), the Jensen-Shannon distance.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats
from scipy.spatial import distance

#: Bins of a numeric PSI: deciles of the reference, the usual choice for a PSI.
BINS = 10
#: Floor of a bin's share in a PSI, so that an empty bin on one side gives a large, finite term.
SHARE_FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins (0: identical)."""
    ref = np.clip(np.asarray(reference, dtype=np.float64), SHARE_FLOOR, None)
    cur = np.clip(np.asarray(current, dtype=np.float64), SHARE_FLOOR, None)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles; ties collapse (a column of few values)."""
    values = reference[np.isfinite(reference)]
    if len(values) == 0:
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    if len(values) == 0:
        return np.zeros(len(edges) + 1)
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


def numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    edges = quantile_edges(reference, bins)
    return psi(bin_shares(reference, edges), bin_shares(current, edges))


def wasserstein_in_std(reference: np.ndarray, current: np.ndarray) -> float:
    """The earth mover's distance in reference standard deviations (a scale-free shift)."""
    scale = float(np.std(reference))
    if not np.isfinite(scale) or scale == 0.0:
        scale = max(float(np.abs(reference).mean()) if len(reference) else 0.0, 1.0)
    return float(scipy_stats.wasserstein_distance(reference, current)) / scale


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Kolmogorov-Smirnov D: the largest gap between the two empirical distribution functions."""
    return float(scipy_stats.ks_2samp(reference, current, method="asymp").statistic)


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2: between 0 and 1) of two share vectors."""
    if reference.sum() == 0 or current.sum() == 0:
        return 1.0
    return float(distance.jensenshannon(reference, current, base=2))
