"""The value-of-information estimators on a probabilistic sensitivity sample:
EVPI, regression-based nonparametric EVPPI (Strong, Oakley & Brennan 2014)
and EVSI by the same regression on a preposterior summary statistic (Strong,
Brennan & Oakley 2015), all from one set of draws.

Everything here is plain numpy on arrays: ``nb`` is draws x decisions (net
benefit of each decision in each draw), ``x`` draws x k (the parameters of
interest, or a summary of the data one would collect).
"""

from __future__ import annotations

import numpy as np

__all__ = ["basis", "dirichlet_moments", "evpi", "evppi", "fitted", "preposterior"]

#: Interior knots of the one-parameter spline, at these quantiles of x.
_KNOTS = (0.2, 0.4, 0.6, 0.8)


def evpi(nb: np.ndarray) -> float:
    """E[max_d NB_d] - max_d E[NB_d]: what knowing every parameter would be
    worth, on average, before choosing."""
    nb = np.asarray(nb, dtype=float)
    return _tidy(nb.max(axis=1).mean() - nb.mean(axis=0).max(), nb)


def _tidy(v: float, nb: np.ndarray) -> float:
    """``v``, or 0 when it is rounding error of sums of ``nb`` (a decision no
    draw changes gives exactly 0, not 1e-13)."""
    scale = float(np.abs(nb).max()) if nb.size else 0.0
    return 0.0 if v <= 1e-9 * scale else float(v)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Each column centred and scaled to unit spread (constant columns to 0),
    so that polynomial terms stay well conditioned."""
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def basis(x: np.ndarray) -> np.ndarray:
    """The design matrix of the smoother.

    One parameter: a cubic regression spline (truncated power basis, knots at
    the 20/40/60/80% quantiles): 1, x, x², x³, (x − k)³₊; a GAM's smooth of
    one variable, with eight coefficients. Several: a full quadratic
    polynomial (1, each x, each product and square), the low-order polynomial
    Strong et al. propose beside Gaussian processes, with 1 + k + k(k+1)/2
    coefficients."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    z = _scaled(x)
    n, k = z.shape
    if k == 1:
        u = z[:, 0]
        knots = np.unique(np.quantile(u, _KNOTS))
        cols = [np.ones(n), u, u**2, u**3]
        cols += [np.clip(u - c, 0, None) ** 3 for c in knots]
        return np.column_stack(cols)
    cols = [np.ones(n), *z.T]
    cols += [z[:, a] * z[:, b] for a in range(k) for b in range(a, k)]
    return np.column_stack(cols)


def fitted(nb: np.ndarray, x: np.ndarray) -> np.ndarray:
    """E[NB_d | x] for every draw and decision, by least squares on
    :func:`basis` (one solve for all decisions). Net benefits are taken
    relative to the first decision, whose fitted difference is 0: the part of
    every decision's net benefit that does not depend on the decision is
    noise the regression need not fit."""
    nb = np.asarray(nb, dtype=float)
    inc = nb - nb[:, :1]
    design = basis(x)
    coef, *_ = np.linalg.lstsq(design, inc[:, 1:], rcond=None)
    out = np.zeros_like(inc)
    out[:, 1:] = design @ coef
    return out


def evppi(nb: np.ndarray, x: np.ndarray) -> float:
    """E_x[max_d E(NB_d | x)] - max_d E[NB_d], with the inner expectation the
    regression fit (:func:`fitted`); never negative, and never more than the
    EVPI of the same draws up to the fit's error."""
    g = fitted(nb, x)
    inc = np.asarray(nb, dtype=float) - np.asarray(nb, dtype=float)[:, :1]
    # max of the means of the fitted values: least squares with an intercept
    # reproduces the means of the sample exactly.
    return _tidy(g.max(axis=1).mean() - inc.mean(axis=0).max(), inc)


def dirichlet_moments(rows: np.ndarray) -> np.ndarray:
    """Dirichlet parameters with the draws' means and (on average over the
    entries) variances: alpha = m * s with s + 1 = mean of m(1 - m) / var
    (moment matching; exact for draws from a Dirichlet as the number of draws
    grows). ``rows`` is draws x destinations."""
    m = rows.mean(axis=0)
    v = rows.var(axis=0, ddof=1)
    keep = v > 0
    if not keep.any():
        return np.where(m > 0, np.inf, 0.0)
    s = float(np.mean(m[keep] * (1 - m[keep]) / v[keep])) - 1.0
    return m * max(s, 1e-9)


def preposterior(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A study of ``n`` customers in one stage, once per draw: each draw's row
    (its true probabilities) gives the counts that study would see, and the
    summary is the posterior mean the study would leave, (alpha + counts) /
    (alpha_0 + n) with alpha moment-matched to the draws. Draws x
    destinations."""
    alpha = dirichlet_moments(rows)
    p = np.clip(rows, 0, None)
    p = p / p.sum(axis=1, keepdims=True)
    counts = np.stack([rng.multinomial(n, q) for q in p])
    return (alpha + counts) / (alpha.sum() + n)
