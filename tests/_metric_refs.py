"""Independent float64 NumPy re-implementations of the anchors' metric algorithms
(docs/definitions/metrics.md), written from their published code, used as oracles by the metric tests."""

from __future__ import annotations

import numpy as np


def netcal_ece(x: np.ndarray, y: np.ndarray, bins: int = 10, metric: str = "ece") -> float:
    """netcal ECE/ACE/MCE: 1-D input is p(y=1) against y, 2-D is top-label; p clipped to
    [eps, 1−eps]; np.histogramdd bins ([a, b), last closed)."""
    eps = np.finfo(np.float64).eps
    if x.ndim == 2:
        pred, x = x.argmax(1), x.max(1)
    else:
        pred = np.ones(len(x))
    x = np.clip(x, eps, 1 - eps)
    matched = (pred == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.searchsorted(edges, x, side="right") - 1
    idx[x == edges[-1]] = bins - 1
    cnt = np.bincount(idx, minlength=bins).astype(float)
    with np.errstate(invalid="ignore"):
        acc = np.bincount(idx, matched, bins) / cnt
        conf = np.bincount(idx, x, bins) / cnt
    dev = np.nan_to_num(np.abs(acc - conf))
    if metric == "ace":
        return float(dev.sum() / np.count_nonzero(cnt))
    if metric == "mce":
        return float(dev.max())
    return float(np.sum(dev * cnt / len(x)))


def torchmetrics_ece(p: np.ndarray, y: np.ndarray, n_bins: int = 15, norm: str = "l1") -> float:
    """torchmetrics `_binning_bucketize` + `_ce_compute` with float64 torch.linspace edges."""
    steps = n_bins + 1
    step = 1.0 / n_bins
    half = steps // 2
    edges = np.array([i * step if i < half else 1.0 - (steps - i - 1) * step for i in range(steps)])
    idx = np.searchsorted(edges, p, side="right") - 1
    cnt = np.bincount(idx, minlength=steps).astype(float)
    prop = cnt / cnt.sum()
    safe = np.where(cnt > 0, cnt, 1)
    acc = np.bincount(idx, y, steps) / safe
    conf = np.bincount(idx, p, steps) / safe
    if norm == "l1":
        return float(np.sum(np.abs(acc - conf) * prop))
    if norm == "max":
        return float(np.max(np.abs(acc - conf)))
    return float(np.sqrt(np.sum((acc - conf) ** 2 * prop)))


def relplot_binned_ece(f: np.ndarray, y: np.ndarray, nbins: int = 10) -> float:
    bin_size = 1.0 / nbins
    bi = (f / bin_size).astype(int)
    bins = np.zeros(int(1 / bin_size) + 1)
    np.add.at(bins, bi, f - y)
    return float(np.abs(bins).sum() / len(f))


def kumar_debiased_l2(p: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Kumar et al.'s `unbiased_l2_ce` on credo's bins (⌊p·B⌋, last bin closed)."""
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = idx == b
        k = m.sum()
        if k < 2:
            continue
        ybar = y[m].mean()
        total += k / len(p) * ((p[m] - y[m]).mean() ** 2 - ybar * (1 - ybar) / (k - 1))
    return float(max(total, 0.0) ** 0.5)


def relplot_smece(f: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """relplot `smECE` (ReflectedGaussianKernel, smooth_round_to_grid, interpolate, search_param)."""
    from scipy.signal import convolve

    def round_to_grid(v, g):
        out = np.zeros(g)
        b = (f * (g - 1)).astype(int).clip(0, g - 2)
        frac = f * (g - 1) - b
        np.add.at(out, b, (1 - frac) * v)
        np.add.at(out, b + 1, frac * v)
        return out

    def apply(v, t, s):
        g = max(2000, round(20 / s)) // 2 + 1
        vals = round_to_grid(v, g)
        tt = np.linspace(0, 1, g)
        ker = np.exp(-(tt - 0.5) * (tt - 0.5) / (2 * s**2)) / (np.sqrt(2 * np.pi) * s)
        ext = np.concatenate([np.flip(vals)[:-1], vals, np.flip(vals)[1:]])
        sm = convolve(ext, ker, "valid")[g // 2 : g // 2 + g]
        i = (t * (g - 1)).astype(int).clip(0, g - 2)
        r = (t - i * (1 / (g - 1))) / (1 / (g - 1))
        return sm[i] * (1 - r) + sm[i + 1] * r

    def sm(s):
        t = np.linspace(0, 1, max(round(10 / s), 200))
        dens = apply(np.ones_like(f), t, s) + 1e-4
        rs = apply(f - y, t, s) / dens
        return np.sum(np.abs(rs) * dens) / np.sum(dens)

    def pred(a):
        return a < 0.001 or a < sm(a)

    if pred(1):
        s = 1.0
    else:
        start, end = 1.0, 0.0
        for _ in range(10):
            mid = (start + end) / 2
            if pred(mid):
                end = mid
            else:
                start = mid
        s = start
    return float(sm(s)), s


def torch_uncertainty_aurc(conf: np.ndarray, correct: np.ndarray, generalized: bool = False) -> float:
    """torch-uncertainty AURC/AUGRC (stable order here): per-sample risks, trapezoid, / (1 − 1/N)."""
    order = np.argsort(-conf, kind="stable")
    err = 1 - correct[order]
    n = len(conf)
    k = np.arange(1, n + 1)
    risk = np.cumsum(err) / k
    cov = k / n
    if generalized:
        risk = risk * cov
    return float(np.trapezoid(risk, cov) / (1 - 1 / n))


def lm_polygraph_prr(ue: np.ndarray, quality: np.ndarray) -> float:
    """LM-Polygraph PredictionRejectionArea with max_rejection = 1, normalised PRR with the
    expected random score (the mean quality)."""
    q = (quality - quality.min()) / (quality.max() - quality.min())

    def pra(u):
        order = np.argsort(u, kind="stable")
        s = np.cumsum(q[order]) / np.arange(1, len(u) + 1)
        return s.mean()

    rand = q.mean()
    return float((pra(ue) - rand) / (pra(-q) - rand))
