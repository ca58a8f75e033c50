"""The Dirichlet side of a discrete fit: posterior parameters from transition
counts and a prior (and what a row never observed becomes), and the point
estimates and standard errors read from them.

Every array is segments x pieces x stages x stages (rows are "from" stages).
A row is either *estimated* (a Dirichlet posterior with parameters ``alpha``)
or *fixed* (absorbing, or never observed under ``unobserved="stay"`` or
``"uniform"``): a fixed row is an assumption, not an estimate, so it has no
spread (standard error 0, interval a point) and is never drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._base.errors import FitError

__all__ = ["UNOBSERVED", "Posterior", "mean", "mode", "posterior", "std_error"]

#: What fit(unobserved=) may be: what a row with no observed transition becomes.
UNOBSERVED = ("stay", "uniform", "prior")


@dataclass(frozen=True)
class Posterior:
    """Dirichlet parameters of every row (for a fixed row: weights whose
    normalisation is the row) and which rows are fixed (segments x pieces x
    stages)."""

    alpha: np.ndarray
    fixed: np.ndarray


def posterior(
    counts: np.ndarray,
    prior: np.ndarray,
    allowed: np.ndarray,
    absorbing: list[int],
    unobserved: str,
    stages: list[str],
    segments: list[str],
) -> Posterior:
    """Counts plus the prior; a row never observed in a tenure piece borrows
    its counts pooled over the pieces; a row never observed in any piece (of
    its segment) stays put, moves uniformly over the allowed stages, or is the
    prior alone (``unobserved``); absorbing rows stay."""
    pooled = counts.sum(axis=1, keepdims=True)
    empty = counts.sum(axis=-1, keepdims=True) == 0
    used = np.where(empty, np.broadcast_to(pooled, counts.shape), counts)
    alpha = used + prior
    fixed = np.zeros(counts.shape[:3], dtype=bool)
    never = pooled.sum(axis=-1)[:, 0, :] == 0  # segments x stages
    for g, i in zip(*np.nonzero(never), strict=True):
        if i in absorbing:
            continue  # set below
        if unobserved == "prior":
            if prior[i].sum() <= 0:
                where = "" if len(segments) == 1 else f" in segment {segments[g]!r}"
                raise FitError(
                    f"unobserved='prior': stage {stages[i]!r} has no observed "
                    f"transition{where} and its prior is zero: give it a positive "
                    "prior (prior= a number, or a matrix with that row), or pass "
                    "unobserved='stay' or 'uniform'"
                )
            alpha[g, :, i, :] = prior[i]  # no data: the prior alone
            continue
        fixed[g, :, i] = True
        alpha[g, :, i, :] = 0.0
        if unobserved == "uniform":
            alpha[g, :, i, :] = allowed[i].astype(float)
        else:  # "stay": the prior alone is no data
            alpha[g, :, i, i] = 1.0
    for i in absorbing:
        alpha[..., i, :] = 0.0
        alpha[..., i, i] = 1.0
        fixed[..., i] = True
    return Posterior(alpha, fixed)


def mean(alpha: np.ndarray) -> np.ndarray:
    """Posterior means (maximum likelihood when the prior is 0): each row's
    parameters normalised; a row without any stays put."""
    tot = alpha.sum(axis=-1, keepdims=True)
    eye = np.broadcast_to(np.eye(alpha.shape[-1]), alpha.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, alpha / np.where(tot > 0, tot, 1), eye)


def mode(post: Posterior) -> np.ndarray:
    """The maximum a posteriori estimate: the mode of each row's Dirichlet,
    ``(alpha_j - 1) / (sum(alpha) - K)`` when every parameter is at least 1.

    At the boundary (some ``alpha_j < 1``, whose density grows without bound
    as ``p_j -> 0``) the mode is the limit point: moves with ``alpha_j <= 1``
    get 0 and the others ``(alpha_j - 1) / sum_k (alpha_k - 1)`` over
    ``alpha_k > 1``. When no parameter exceeds 1 the mode is a vertex if one
    move has ``alpha_j = 1`` and the others less (or the row has one possible
    move), and is not unique otherwise (a flat row such as Dirichlet(1, 1), or
    several vertices): NaN. Fixed rows are their fixed values."""
    a = post.alpha
    excess = np.clip(a - 1.0, 0.0, None)
    total = excess.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, excess / np.where(total > 0, total, 1.0), np.nan)
    # No parameter above 1: a unique vertex, or no unique mode.
    support = a > 0
    ones = support & (a >= 1.0)
    vertex = (total[..., 0] == 0) & (
        (support.sum(axis=-1) == 1) | (ones.sum(axis=-1) == 1)
    )
    pick = np.where(support.sum(axis=-1, keepdims=True) == 1, support, ones)
    out = np.where(vertex[..., None], pick.astype(float), out)
    return np.where(post.fixed[..., None], mean(a), out)


def std_error(post: Posterior, prior: np.ndarray) -> np.ndarray:
    """The standard error of each transition probability.

    With a prior (pseudo-counts in the row): the posterior standard deviation
    of the Beta marginal of the Dirichlet, ``sqrt(p (1 - p) / (A + 1))`` with
    ``p`` the posterior mean and ``A`` the row's parameters summed. Without
    one (maximum likelihood): the binomial standard error
    ``sqrt(p (1 - p) / n)``, ``n`` the row's transitions. Fixed rows: 0."""
    a = post.alpha
    p = mean(a)
    total = a.sum(axis=-1, keepdims=True)
    no_prior = np.broadcast_to(prior.sum(axis=-1)[:, None] == 0, total.shape)
    denom = np.where(no_prior, total, total + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(p * (1.0 - p) / np.where(denom > 0, denom, 1.0))
    se = np.where(denom > 0, se, 0.0)
    return np.where(post.fixed[..., None], 0.0, se)
