"""Label-free drift monitoring of the confidence distribution (and, optionally, of decisions).

:class:`DriftMonitor` keeps two fixed-size histograms — the reference window and the current
stream — so memory does not grow with traffic. Against the reference it reports the population
stability index (PSI, over reference-quantile groups of bins), the two-sample Kolmogorov–Smirnov
statistic and asymptotic p-value, the Wasserstein-1 distance, the shift of the mean and the
change of each decision's rate, and raises alarms by threshold. Histogram statistics are exact up
to one bin width (1/1000 of the range by default). State saves to and loads from a checksummed
JSON artefact (``monitor.save(path)``, ``credo.load(path)``).

Prometheus (optional, ``pip install prometheus_client``): :meth:`DriftMonitor.export_prometheus`
sets these gauges, each labelled ``monitor=<name>``:

=================================== ===================================================
``credo_drift_psi``                  population stability index
``credo_drift_ks_statistic``         KS statistic (max CDF gap)
``credo_drift_ks_pvalue``            asymptotic two-sided KS p-value
``credo_drift_wasserstein``          Wasserstein-1 distance (confidence units)
``credo_drift_mean_shift``           mean(current) − mean(reference)
``credo_drift_samples``              samples per window (label ``window``)
``credo_drift_decision_rate``        rate of each decision (labels ``decision``, ``window``)
``credo_drift_alarm``                1 when a statistic crossed its threshold (label ``statistic``)
=================================== ===================================================
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from credo import _artifact, _credo
from credo._base import Estimator
from credo._validate import as_float_array, check_is_fitted, check_positive_int, check_same_length
from credo.exceptions import EmptyInputError, InvalidArgumentError, ShapeError

__all__ = ["DEFAULT_THRESHOLDS", "DriftMonitor", "DriftReport", "ks_2samp"]

#: Alarm thresholds: PSI ≥ 0.2 is the customary "significant shift"; KS alarms when p ≤ 0.01;
#: Wasserstein-1, |mean shift| and |decision-rate change| in confidence (or rate) units.
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "psi": 0.2,
    "ks_pvalue": 0.01,
    "wasserstein": 0.05,
    "mean_shift": 0.05,
    "decision_rate": 0.1,
}


#: Most histogram bins a monitor may ask for (memory is 2 × n_bins floats).
MAX_BINS = 10_000_000


def category_labels(values: Any, name: str) -> np.ndarray:
    """A 1-D array of category names (decisions, segments) as strings; anything that is not a
    flat sequence of labels raises a CredoError naming ``name``."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, RecursionError):
        raise ShapeError(f"{name}: expected a 1-D sequence of labels") from None
    if arr.ndim != 1 or (arr.dtype == object and any(isinstance(v, (list, tuple, dict, np.ndarray)) for v in arr)):
        raise ShapeError(f"{name}: expected a 1-D sequence of labels, got shape {arr.shape}")
    try:
        return arr.astype(str)
    except (ValueError, TypeError, UnicodeError):
        raise InvalidArgumentError(f"{name}: labels must be strings or numbers") from None


def ks_2samp(a: Any, b: Any) -> tuple[float, float]:
    """Exact two-sample KS statistic (as ``scipy.stats.ks_2samp``) and its asymptotic two-sided
    p-value (Kolmogorov distribution with Stephens' correction)."""
    x = as_float_array(a, "a", ndim=1)
    y = as_float_array(b, "b", ndim=1)
    t = _credo.ks_2samp(x, y)
    return t.statistic, t.pvalue


@dataclass(frozen=True)
class DriftReport:
    """Drift of the current window against the reference."""

    n_reference: int
    n_current: float
    psi: float
    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    mean_reference: float
    mean_current: float
    mean_shift: float
    decision_rates: dict[str, tuple[float, float]] = field(default_factory=dict)
    alarms: tuple[str, ...] = ()

    @property
    def alarm(self) -> bool:
        return bool(self.alarms)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"alarm": self.alarm}


_LOCK_INIT = threading.Lock()


@_artifact.register
class DriftMonitor(Estimator):
    """Streaming drift monitor of confidences against a reference window.

    Parameters
    ----------
    n_bins : fine histogram bins over ``value_range`` (memory is 2 × n_bins floats).
    value_range : (low, high) of the monitored score; values outside fall into the end bins.
    psi_bins : number of reference-quantile groups for the PSI.
    thresholds : overrides of :data:`DEFAULT_THRESHOLDS`; ``None`` disables a statistic's alarm.
    decay : optional per-sample forgetting factor in (0, 1): before a batch of m confidences is
        added, the current window (counts, sum, decision counts) is scaled by ``decay**m``, so the
        window is an exponentially weighted recent history; with batches of m its effective size
        settles at m/(1 − decay**m) (1/(1 − decay) when samples arrive one at a time).
        ``None`` (default) keeps everything since the last :meth:`reset`.
    name : label of the Prometheus series.

    Examples
    --------
    >>> mon = DriftMonitor().fit(reference_confidences, decisions=reference_actions)
    >>> mon.update(batch_confidences, decisions=batch_actions)
    >>> report = mon.check(); report.alarm, report.psi
    """

    def __init__(
        self,
        *,
        n_bins: int = 1000,
        value_range: tuple[float, float] = (0.0, 1.0),
        psi_bins: int = 10,
        thresholds: dict[str, float | None] | None = None,
        decay: float | None = None,
        name: str = "credo",
    ) -> None:
        self.n_bins = n_bins
        self.value_range = value_range
        self.psi_bins = psi_bins
        self.thresholds = thresholds
        self.decay = decay
        self.name = name

    # -- thread safety ---------------------------------------------------------------------

    @property
    def _lock(self) -> threading.RLock:
        """The lock serialising fit, reset, update, check and save: one monitor is typically fed
        by many request threads, and update rescales and adds to its histograms in place (the
        native kernel borrows them mutably). Made on first use, kept out of copies and pickles (which
        carry the JSON artefact)."""
        lock: threading.RLock | None = self.__dict__.get("_lock_")
        if lock is None:
            with _LOCK_INIT:
                lock = self.__dict__.setdefault("_lock_", threading.RLock())
        return lock

    # -- configuration ---------------------------------------------------------------------

    def _range(self) -> tuple[float, float]:
        try:
            if isinstance(self.value_range, (str, bytes)) or any(isinstance(v, (str, bytes)) for v in self.value_range):
                raise TypeError
            lo, hi = (float(v) for v in self.value_range)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"value_range: expected (low, high), got {self.value_range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise InvalidArgumentError(f"value_range: must be finite with low < high, got {self.value_range!r}")
        return lo, hi

    def _thresholds(self) -> dict[str, float | None]:
        t = dict(DEFAULT_THRESHOLDS)
        if self.thresholds is not None and not isinstance(self.thresholds, Mapping):
            raise InvalidArgumentError(f"thresholds: expected a dict statistic -> threshold, got {self.thresholds!r}")
        for k, v in (self.thresholds or {}).items():
            if k not in t:
                raise InvalidArgumentError(f"thresholds: unknown statistic {k!r} (known: {', '.join(t)})")
            if v is not None and (
                isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float, np.number)) or not np.isfinite(v)
            ):
                raise InvalidArgumentError(f"thresholds: {k} must be a finite number or None, got {v!r}")
            t[k] = None if v is None else float(v)
        return t

    def _decay(self) -> float | None:
        if self.decay is None:
            return None
        if isinstance(self.decay, (bool, str, bytes)):
            raise InvalidArgumentError(f"decay: must be a number in (0, 1) or None, got {self.decay!r}")
        try:
            d = float(self.decay)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"decay: must be a number in (0, 1) or None, got {self.decay!r}") from None
        if not 0.0 < d < 1.0:
            raise InvalidArgumentError(f"decay: must lie strictly between 0 and 1, got {self.decay!r}")
        return d

    @staticmethod
    def _decisions(decisions: Any, n: int) -> dict[str, int]:
        if decisions is None:
            return {}
        d = category_labels(decisions, "decisions")
        check_same_length(n, decisions=d)
        names, counts = np.unique(d, return_counts=True)
        return {str(k): int(c) for k, c in zip(names, counts, strict=True)}

    # -- fitting and streaming -------------------------------------------------------------

    def fit(self, reference: Any, *, decisions: Any = None) -> DriftMonitor:
        """Builds the reference histogram from a window of confidences (and decisions)."""
        n_bins = check_positive_int(self.n_bins, "n_bins")
        if n_bins > MAX_BINS:
            raise InvalidArgumentError(f"n_bins: at most {MAX_BINS}, got {n_bins}")
        if check_positive_int(self.psi_bins, "psi_bins") > n_bins:
            raise InvalidArgumentError(f"psi_bins: at most n_bins = {n_bins} groups, got {self.psi_bins}")
        self._thresholds()
        self._decay()
        lo, hi = self._range()
        x = as_float_array(reference, "reference", ndim=1)
        ref_decisions = self._decisions(decisions, len(x))
        counts = np.zeros(n_bins)
        s = _credo.hist_update(x, lo, hi, counts).total
        with self._lock:
            self.reference_counts_ = counts
            self.reference_sum_ = s
            self.reference_decisions_ = ref_decisions
            self.reset()
        return self

    def reset(self) -> DriftMonitor:
        """Empties the current window (the reference is kept)."""
        check_is_fitted(self, "reference_counts_")
        with self._lock:
            self.current_counts_ = np.zeros_like(self.reference_counts_)
            self.current_sum_ = 0.0
            self.current_decisions_: dict[str, float] = {}
        return self

    def update(self, confidences: Any, *, decisions: Any = None) -> DriftMonitor:
        """Adds a batch of confidences (and their decisions) to the current window."""
        check_is_fitted(self, "reference_counts_")
        x = as_float_array(confidences, "confidences", ndim=1, allow_empty=True)
        d = self._decisions(decisions, len(x))
        decay = self._decay()
        lo, hi = self._range()
        with self._lock:  # the whole read-modify-write of the window is one step
            if decay is not None and x.size:
                # Fixed memory: forgetting rescales the window in place.
                f = decay**x.size
                self.current_counts_ *= f
                self.current_sum_ *= f
                self.current_decisions_ = {k: v * f for k, v in self.current_decisions_.items()}
            if x.size:
                s = _credo.hist_update(x, lo, hi, self.current_counts_).total
                self.current_sum_ += s
            for k, c in d.items():
                self.current_decisions_[k] = self.current_decisions_.get(k, 0) + c
        return self

    # -- statistics ------------------------------------------------------------------------

    def check(self) -> DriftReport:
        """Drift statistics of the current window against the reference, with alarms."""
        check_is_fitted(self, "reference_counts_")
        with self._lock:  # a consistent snapshot of both windows
            ref_counts, ref_sum = self.reference_counts_, self.reference_sum_
            ref_dec = dict(self.reference_decisions_)
            cur_counts, cur_sum = self.current_counts_.copy(), self.current_sum_
            cur_dec = dict(self.current_decisions_)
        n_ref = int(ref_counts.sum())
        n_cur = float(cur_counts.sum())  # effective size under decay
        if n_cur <= 0:
            raise EmptyInputError("confidences: the current window is empty; call update(...) first")
        lo, hi = self._range()
        d = _credo.hist_drift(ref_counts, cur_counts, lo, hi, int(self.psi_bins))
        psi, ks, p, w1 = d.psi, d.ks_statistic, d.ks_pvalue, d.wasserstein
        m_ref, m_cur = ref_sum / n_ref, cur_sum / n_cur
        rates = {}
        ref_total = sum(ref_dec.values())
        cur_total = sum(cur_dec.values())
        for k in sorted(set(ref_dec) | set(cur_dec)):
            r = ref_dec.get(k, 0) / ref_total if ref_total else float("nan")
            c = cur_dec.get(k, 0) / cur_total if cur_total else float("nan")
            rates[k] = (r, c)
        t = self._thresholds()
        alarms = []
        if t["psi"] is not None and psi >= t["psi"]:
            alarms.append("psi")
        if t["ks_pvalue"] is not None and p <= t["ks_pvalue"]:
            alarms.append("ks_pvalue")
        if t["wasserstein"] is not None and w1 >= t["wasserstein"]:
            alarms.append("wasserstein")
        if t["mean_shift"] is not None and abs(m_cur - m_ref) >= t["mean_shift"]:
            alarms.append("mean_shift")
        if t["decision_rate"] is not None:
            for k, (r, c) in rates.items():
                if np.isfinite(r) and np.isfinite(c) and abs(c - r) >= t["decision_rate"]:
                    alarms.append(f"decision_rate:{k}")
        return DriftReport(n_ref, n_cur, psi, ks, p, w1, m_ref, m_cur, m_cur - m_ref, rates, tuple(alarms))

    # -- Prometheus ------------------------------------------------------------------------

    def export_prometheus(self, registry: Any = None, report: DriftReport | None = None) -> DriftReport:
        """Sets the documented ``credo_drift_*`` gauges (module docstring) in ``registry``
        (prometheus_client's default registry when None) and returns the report."""
        try:
            import prometheus_client as prom
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ImportError("export_prometheus needs prometheus_client: pip install 'credo[monitor]'") from None
        report = report or self.check()
        gauges = _gauges(prom, registry)
        name = str(self.name)
        for key in ("psi", "ks_statistic", "ks_pvalue", "wasserstein", "mean_shift"):
            gauges[key].labels(monitor=name).set(getattr(report, key))
        gauges["samples"].labels(monitor=name, window="reference").set(report.n_reference)
        gauges["samples"].labels(monitor=name, window="current").set(report.n_current)
        for k, (r, c) in report.decision_rates.items():
            gauges["decision_rate"].labels(monitor=name, decision=k, window="reference").set(r)
            gauges["decision_rate"].labels(monitor=name, decision=k, window="current").set(c)
        for stat in ("psi", "ks_pvalue", "wasserstein", "mean_shift"):
            gauges["alarm"].labels(monitor=name, statistic=stat).set(float(stat in report.alarms))
        return report

    # -- artefacts -------------------------------------------------------------------------

    _ARTIFACT_SCHEMA = _artifact.Schema(
        params={
            "n_bins": _artifact.integer(lo=1, hi=10_000_000),
            "value_range": _artifact.pair(_artifact.real(), _artifact.real()),
            "psi_bins": _artifact.integer(lo=1, hi=10_000_000),
            "thresholds": _artifact.nullable(_artifact.mapping(_artifact.nullable(_artifact.real()))),
            "decay": _artifact.nullable(_artifact.real(lo=0, hi=1)),
            "name": _artifact.text(),
        },
        state={
            "reference_counts": _artifact.numbers(min_len=1, lo=0),
            "reference_sum": _artifact.real(),
            "reference_decisions": _artifact.mapping(_artifact.integer()),
            "current_counts": _artifact.numbers(min_len=1, lo=0),
            "current_sum": _artifact.real(),
            "current_decisions": _artifact.mapping(_artifact.real(lo=0)),
        },
        consistent=lambda params, state: _artifact.same_length(state, "reference_counts", "current_counts"),
    )

    def _artifact_state(self) -> dict[str, Any]:
        check_is_fitted(self, "reference_counts_")
        with self._lock:
            return {
                "reference_counts": self.reference_counts_.copy(),
                "reference_sum": self.reference_sum_,
                "reference_decisions": dict(self.reference_decisions_),
                "current_counts": self.current_counts_.copy(),
                "current_sum": self.current_sum_,
                "current_decisions": dict(self.current_decisions_),
            }

    def _artifact_summary(self) -> dict[str, Any]:
        return {
            "n_reference": int(self.reference_counts_.sum()),
            "n_current": float(self.current_counts_.sum()),
            "reference_hash": _artifact.data_hash(self.reference_counts_),
        }

    @classmethod
    def _from_artifact(cls, params: dict[str, Any], state: dict[str, Any]) -> DriftMonitor:
        params = dict(params)
        if params.get("value_range") is not None:
            params["value_range"] = tuple(params["value_range"])
        obj = cls(**params)
        obj.reference_counts_ = _artifact.decode_array(state["reference_counts"])
        obj.current_counts_ = _artifact.decode_array(state["current_counts"])
        if (
            obj.reference_counts_.shape != (int(obj.n_bins),)
            or obj.current_counts_.shape != obj.reference_counts_.shape
        ):
            raise ValueError("histograms do not match n_bins")
        obj.reference_sum_ = _artifact.decode_float(state["reference_sum"])
        obj.current_sum_ = _artifact.decode_float(state["current_sum"])
        obj.reference_decisions_ = {str(k): int(v) for k, v in state["reference_decisions"].items()}
        obj.current_decisions_ = {str(k): float(v) for k, v in state["current_decisions"].items()}
        return obj


_GAUGES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _gauges(prom: Any, registry: Any) -> dict[str, Any]:
    """The credo_drift_* gauges of ``registry``, created once per registry."""
    reg = registry if registry is not None else prom.REGISTRY
    if reg not in _GAUGES:
        g = {}
        for stat, doc in (
            ("psi", "Population stability index of confidences vs the reference"),
            ("ks_statistic", "Two-sample Kolmogorov-Smirnov statistic vs the reference"),
            ("ks_pvalue", "Asymptotic two-sided KS p-value vs the reference"),
            ("wasserstein", "Wasserstein-1 distance of confidences vs the reference"),
            ("mean_shift", "Mean confidence of the current window minus the reference's"),
        ):
            g[stat] = prom.Gauge(f"credo_drift_{stat}", doc, ["monitor"], registry=reg)
        g["samples"] = prom.Gauge("credo_drift_samples", "Samples per window", ["monitor", "window"], registry=reg)
        g["decision_rate"] = prom.Gauge(
            "credo_drift_decision_rate",
            "Rate of each decision per window",
            ["monitor", "decision", "window"],
            registry=reg,
        )
        g["alarm"] = prom.Gauge(
            "credo_drift_alarm",
            "1 when a drift statistic crossed its threshold",
            ["monitor", "statistic"],
            registry=reg,
        )
        _GAUGES[reg] = g
    return _GAUGES[reg]
