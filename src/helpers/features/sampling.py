"""Capped samples for model fits at a bank's size (shared by survival and propensity)."""

from __future__ import annotations

import numpy as np


def stratified_rows(target: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """Sorted row positions of a sample of at most ``cap`` rows with the classes' shares kept.

    Parameters
    ----------
    target : array of 0/1
        The training target.
    cap : int or None
        Most rows; None (or a cap at least the row count) keeps every row.
    seed : int
        Seed of the draw.

    Returns
    -------
    numpy.ndarray of int
        Positions into ``target``, ascending, each at most once (drawn without replacement).
        Each class gets ``round(cap x its share)`` rows, at least one when it has any.
    """
    target = np.asarray(target)
    count = len(target)
    if cap is None or count <= cap:
        return np.arange(count)
    if cap < 1:
        raise ValueError(f"the sample cap must be at least 1 row, not {cap}")
    rng = np.random.default_rng(seed)
    chosen = []
    for value in np.unique(target):
        rows = np.flatnonzero(target == value)
        take = min(len(rows), max(1, int(round(cap * len(rows) / count))))
        chosen.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(chosen))
