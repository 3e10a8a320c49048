"""The native decision call (credo.serving.compile): the same Decision as the Python path
(``ConfidenceModel.predict_one`` → ``Policy.decide``), bit for bit, on random models, policies
and requests; from arrays, from summaries and from response bodies; hooks and refusals."""

from __future__ import annotations

import importlib.util
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import credo
from credo.calibration import BetaCalibration, HistogramBinning, IsotonicCalibrator, PlattScaling
from credo.risk import InputRisk, RegulatedContent, TooShort
from credo.serving import NativeDecider, ResponseDecider, compile
from credo.signals import TopkSummary, topk_summary

FIELDS = [f for f in TopkSummary._fields if f != "mean_entropy_upper"]  # NaN without vocab_size


def _random_top(rng: np.random.Generator, t: int, k: int, *, holes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top-k logprobs of softmax distributions of random sharpness (rows sorted descending),
    the chosen token usually the top one; with ``holes``, some entries are the −9999 sentinel."""
    logits = rng.normal(size=(t, k + 30)) * rng.uniform(0.3, 6.0)
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    top = -np.sort(-lp, axis=1)[:, :k]
    pick = np.where(rng.uniform(size=t) < 0.8, 0, rng.integers(0, k, size=t))
    chosen = top[np.arange(t), pick].copy()
    if holes and k > 1:
        mask = rng.uniform(size=top.shape) < 0.05
        mask[:, 0] = False
        top[mask] = -9999.0
    return np.ascontiguousarray(top), chosen


def _fit(seed: int, features: list[str], calibrator, calibrator_input: str) -> credo.ConfidenceModel:
    rng = np.random.default_rng(seed)
    rows, y = [], []
    for _ in range(240):
        top, chosen = _random_top(rng, int(rng.integers(1, 40)), int(rng.integers(1, 8)))
        s = topk_summary(top, chosen)
        rows.append([getattr(s, f) for f in features])
        y.append(float(rng.uniform() < 1 / (1 + math.exp(-3 * (s.mean_logprob + 0.5)))))
    return credo.ConfidenceModel(
        features=features, calibrator=calibrator, calibrator_input=calibrator_input, holdout=0.0, cv=3
    ).fit(np.array(rows), np.array(y))


_CALIBRATORS = [
    None,
    IsotonicCalibrator(),
    PlattScaling(),
    BetaCalibration(),
    HistogramBinning(n_bins=5),
]


@pytest.fixture(scope="module")
def models() -> list[credo.ConfidenceModel]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(10):
        feats = list(rng.choice(FIELDS, size=int(rng.integers(1, 6)), replace=False))
        cal = _CALIBRATORS[i % len(_CALIBRATORS)]
        # Beta and histogram calibration take probabilities; isotonic and Platt either scale.
        cal_input = "logit" if isinstance(cal, (IsotonicCalibrator, PlattScaling)) and i % 2 else "probability"
        out.append(_fit(i, feats, cal, cal_input))
    return out


ACTIONS_CHECKS = ["verify", "retrieve", "escalate"]


@st.composite
def policies(draw) -> credo.Policy:
    domains = {}
    for name in draw(
        st.lists(st.sampled_from(["general", "medical", "legal", "code"]), min_size=1, max_size=3, unique=True)
    ):
        thr = draw(st.floats(0.05, 1.0))
        lo = draw(st.floats(0.0, thr))
        hi = draw(st.floats(lo, thr))
        domains[name] = {
            "stakes": draw(st.sampled_from(["low", "medium", "high", "critical"])),
            "threshold": thr,
            "gray_zone": [lo, hi],
            "gray_zone_checks": draw(st.lists(st.sampled_from(ACTIONS_CHECKS), unique=True, max_size=3)),
            "gray_zone_exhausted": draw(st.sampled_from(["abstain", "escalate", "ask"])),
            "below": draw(st.sampled_from(["abstain", "escalate", "ask", "retrieve"])),
            "strict_action": draw(st.sampled_from(["escalate", "abstain"])),
            "min_coverage": draw(st.floats(0.0, 1.0)),
            "max_retries": draw(st.integers(0, 3)),
            "repetition_max": draw(st.floats(0.0, 1.0)),
        }
    cfg = {
        "domains": domains,
        "default_domain": draw(st.sampled_from(sorted(domains))),
        "strict_stakes": draw(st.sampled_from(["medium", "high", "critical"])),
        "costs": {"verify": draw(st.floats(0.0, 5.0)), "escalate": draw(st.floats(0.0, 20.0))},
    }
    return credo.Policy(cfg)


@st.composite
def requests(draw, policy: credo.Policy) -> dict:
    req = {"domain": draw(st.sampled_from([None, *policy.domains]))}
    if draw(st.booleans()):
        req["coverage"] = draw(st.floats(0.0, 1.0))
    if draw(st.booleans()):
        req["repetition"] = draw(st.floats(0.0, 1.0))
    req["attempt"] = draw(st.integers(0, 4))
    req["retrieval_available"] = draw(st.booleans())
    req["checks_done"] = draw(st.lists(st.sampled_from(ACTIONS_CHECKS), unique=True, max_size=3))
    return req


def _same(native: credo.Decision, python: credo.Decision) -> None:
    """Equal in every field, the floats bit for bit."""
    assert native == python
    assert native.confidence.hex() == python.confidence.hex()
    assert type(native.confidence) is float
    assert (native.threshold is None) == (python.threshold is None)
    if native.threshold is not None:
        assert native.threshold.hex() == python.threshold.hex()
    assert native.cost.hex() == python.cost.hex()


def _python_path(model, policy, top, chosen, req) -> credo.Decision:
    return policy.decide(model.predict_one(topk_summary(top, chosen)), **req)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_arrays_path_is_the_python_path_bit_for_bit(models, data):
    model = models[data.draw(st.integers(0, len(models) - 1))]
    policy = data.draw(policies())
    req = data.draw(requests(policy))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top, chosen = _random_top(rng, data.draw(st.integers(1, 300)), data.draw(st.integers(1, 20)), holes=True)
    native = compile(model, policy)
    _same(native.decide(top, chosen, **req), _python_path(model, policy, top, chosen, req))
    _same(native.decide_summary(topk_summary(top, chosen), **req), _python_path(model, policy, top, chosen, req))
    # float32 arrays go straight to the kernel too.
    t32 = top.astype(np.float32)
    _same(native.decide(t32, chosen, **req), _python_path(model, policy, t32, chosen, req))


def test_worded_decisions_are_reused_only_where_they_are_the_same(models):
    """A band's decision is worded once per domain, band, action and confidence to two decimals
    and reused: many requests on one decider, confidences sharing their two decimals included,
    each the Python path's decision."""
    cfg = {"threshold": 0.8, "gray_zone": [0.5, 0.8], "domains": {"general": {}, "medical": {"stakes": "high"}}}
    policy = credo.Policy(cfg)
    rng = np.random.default_rng(11)
    shared = 0
    for model in models[:5]:
        native = compile(model, policy)
        seen: dict[tuple[str, str], set[float]] = {}
        for i in range(120):
            top, chosen = _random_top(rng, int(rng.integers(1, 60)), int(rng.integers(1, 20)))
            req = {"domain": ["general", "medical"][i % 2], "coverage": 0.95 if i % 3 else None}
            got = native.decide(top, chosen, **req)
            _same(got, _python_path(model, policy, top, chosen, req))
            seen.setdefault((req["domain"], f"{got.confidence:.2f}"), set()).add(got.confidence)
        shared += sum(len(v) > 1 for v in seen.values())
    assert shared > 0  # some decisions came from a wording made for another confidence


def test_worded_decisions_belong_to_their_decider(models):
    """Each compiled decider words its own band decisions (a table bounded by its domains: its
    thresholds do not move): deciders of the same model under different thresholds, called in
    turn on the same requests, each give their own policy's Python-path decision."""
    rng = np.random.default_rng(12)
    policies = [
        credo.Policy({"threshold": t, "gray_zone": [t / 2, t], "domains": {"general": {}}}) for t in (0.2, 0.5, 0.8)
    ]
    natives = [compile(models[0], p) for p in policies]
    reasons = set()
    for _ in range(40):
        top, chosen = _random_top(rng, int(rng.integers(1, 60)), int(rng.integers(1, 20)))
        for policy, native in zip(policies, natives, strict=True):
            got = native.decide(top, chosen)
            _same(got, _python_path(models[0], policy, top, chosen, {}))
            reasons.add(got.reasons)
    assert len(reasons) > 3


def _body(top: np.ndarray, chosen: np.ndarray, *, legacy: bool = False) -> bytes:
    """A chat (or legacy) completion body carrying the arrays (json.dumps keeps floats exact)."""
    if legacy:
        lp = {
            "tokens": [f"t{i}" for i in range(len(chosen))],
            "token_logprobs": chosen.tolist(),
            "top_logprobs": [{f"w{j}": v for j, v in enumerate(row)} for row in top.tolist()],
        }
        return json.dumps({"object": "text_completion", "choices": [{"index": 0, "text": "", "logprobs": lp}]}).encode()
    content = [
        {
            "token": f"t{i}",
            "logprob": c,
            "bytes": [116],
            "top_logprobs": [{"token": f"w{j}", "logprob": v, "bytes": None} for j, v in enumerate(row)],
        }
        for i, (c, row) in enumerate(zip(chosen.tolist(), top.tolist(), strict=True))
    ]
    msg = {"role": "assistant", "content": "x", "refusal": None}
    choice = {"index": 0, "message": msg, "logprobs": {"content": content, "refusal": None}, "finish_reason": "stop"}
    return json.dumps({"id": "c", "object": "chat.completion", "model": "m", "choices": [choice], "usage": {}}).encode()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_body_path_is_the_python_path_bit_for_bit(models, data):
    model = models[data.draw(st.integers(0, len(models) - 1))]
    policy = data.draw(policies())
    req = data.draw(requests(policy))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    top, chosen = _random_top(rng, data.draw(st.integers(1, 80)), data.draw(st.integers(1, 20)))
    body = _body(top, chosen, legacy=data.draw(st.booleans()))
    native = compile(model, policy)
    # The Python path as a server ran it before: json.loads, from_openai, topk_summary, policy.
    parsed = credo.formats.from_openai(json.loads(body))
    want = _python_path(model, policy, parsed.top_logprobs, parsed.chosen_logprob, req)
    _same(native.decide_body(body, **req), want)
    _same(native.decide_body(body.decode(), **req), want)
    _same(native.decide_body(memoryview(body), **req), want)
    _same(native.decide_response(json.loads(body), **req), want)
    _same(native.decide_body(json.loads(body), **req), want)
    _same(native.decide_batch([body, body], threads=2, **req)[1], want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_python_hooks_decide_from_the_native_confidence(models, data):
    """Input risk, verifiers and guaranteed thresholds stay Python: the same decision still."""
    model = models[data.draw(st.integers(0, len(models) - 1))]
    policy = data.draw(policies())
    req = data.draw(requests(policy))
    if data.draw(st.booleans()):
        req["risk"] = InputRisk(
            domain=data.draw(st.sampled_from([*policy.domains, "other"])),
            stakes=data.draw(st.sampled_from(["low", "medium", "high", "critical"])),
            ambiguity=data.draw(st.sampled_from([(), ("vague",)])),
            regulated=(),
            tags=(RegulatedContent("medical"), TooShort(1)),
        )
    if data.draw(st.booleans()):
        req["verifier"] = data.draw(st.lists(st.booleans(), min_size=1, max_size=3))
    if data.draw(st.booleans()):
        policy.set_threshold(
            data.draw(st.sampled_from(sorted(policy.domains))), _Guaranteed(data.draw(st.floats(0, 1)))
        )
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    top, chosen = _random_top(rng, data.draw(st.integers(1, 60)), data.draw(st.integers(1, 10)))
    native = compile(model, policy)
    want = _python_path(model, policy, top, chosen, req)
    _same(native.decide(top, chosen, **req), want)
    # An iterable of checks is read once, and the hooks still see it.
    _same(native.decide(top, chosen, **{**req, "checks_done": iter(req["checks_done"])}), want)


class _Guaranteed:
    """A guaranteed threshold as Policy takes one (accept + threshold_)."""

    def __init__(self, thr: float):
        self.threshold_ = thr

    def accept(self, conf: float) -> bool:
        return conf >= self.threshold_


def test_refuses_what_has_no_native_form():
    rng = np.random.default_rng(0)
    policy = credo.Policy()
    with pytest.raises(credo.CredoError, match="calibrator: TemperatureScaling has no native form"):
        compile(_fit(1, ["mean_logprob"], credo.calibration.TemperatureScaling(), "logit"), policy)
    X = rng.normal(size=(200, 1))
    other = credo.ConfidenceModel(features=["verifier_score"], holdout=0.0).fit(X, (X[:, 0] > 0).astype(float))
    with pytest.raises(credo.CredoError, match=r"model.features_: \['verifier_score'\] are not top-k summary fields"):
        compile(other, policy)
    with pytest.raises(credo.CredoError, match=r"policy: expected a credo\.Policy"):
        compile(other, {"domains": {}})
    with pytest.raises(credo.CredoError, match="model: expected a fitted"):
        compile(credo.ConfidenceModel(), policy)


def test_response_decider_uses_the_native_call_or_says_why_not(models):
    policy = credo.Policy()
    decider = ResponseDecider(models[0], policy)
    assert isinstance(decider.native, NativeDecider) and decider.native_error is None
    assert isinstance(policy.compile(models[0]), NativeDecider)
    temp = _fit(2, ["mean_logprob"], credo.calibration.TemperatureScaling(), "logit")
    fallback = ResponseDecider(temp, policy)
    assert fallback.native is None and "TemperatureScaling" in fallback.native_error
    top, chosen = _random_top(np.random.default_rng(5), 30, 5)
    body = _body(top, chosen)
    _same(fallback.decide(body), _python_path(temp, policy, top, chosen, {}))


def test_bad_input_gets_a_credo_error_naming_it(models):
    native = compile(models[0], credo.Policy({"domains": {"general": {}, "medical": {"stakes": "high"}}}))
    top, chosen = _random_top(np.random.default_rng(1), 10, 4)
    with pytest.raises(credo.CredoError, match="domain: 'law' is not configured"):
        native.decide(top, chosen, domain="law")
    with pytest.raises(credo.CredoError, match="coverage: must lie in"):
        native.decide(top, chosen, coverage=1.5)
    with pytest.raises(credo.CredoError, match="attempt: must be a non-negative integer"):
        native.decide(top, chosen, attempt=-1)
    with pytest.raises(credo.CredoError, match="checks_done: unknown check"):
        native.decide(top, chosen, checks_done=["pray"])
    with pytest.raises(credo.CredoError, match="top_logprobs"):
        native.decide([[0.5, "x"]], chosen)
    with pytest.raises(credo.CredoError, match=r"response\.choices\[0\]"):
        native.decide_body(b'{"choices":[{"logprobs":{"content":[{"logprob":"bad"}]}}]}')
    with pytest.raises(credo.CredoError, match="response"):
        native.decide_body(b'{"choices": [')
    with pytest.raises(credo.CredoError, match=r"\[1\]"):
        native.decide_batch([_body(top, chosen), b"{"])
    needs_chosen = [m for m in models if set(m.features_) & {"sum_logprob", "mean_logprob", "min_logprob", "not_top1"}]
    if needs_chosen:
        with pytest.raises(credo.CredoError, match="signals"):
            compile(needs_chosen[0], credo.Policy()).decide(top, None)
    with pytest.raises(credo.CredoError, match="summary"):
        native.decide_summary([1.0, 2.0])


def test_outcome_hundredths_are_the_printed_two_decimals(models):
    """The native outcome's hundredths (the key its worded decision is reused by) are the two
    decimals f"{confidence:.2f}" prints, over many confidences of every model (low coverage
    noted: an outcome the policy words, returned as it is)."""
    rng = np.random.default_rng(17)
    for model in models:
        native = compile(model, credo.Policy({"domains": {"general": {"min_coverage": 0.5}}}))
        _, args = native._request(None, 0.0, None, 0, False, ())
        for _ in range(40):
            top, chosen = _random_top(rng, int(rng.integers(1, 50)), int(rng.integers(1, 8)))
            o = native._decide_arrays(top, chosen, *args)
            assert isinstance(o, credo._credo.Outcome) and o.coverage_noted
            assert o.hundredths == int(f"{o.confidence:.2f}".replace(".", "")), o.confidence


def test_request_arguments_in_every_form_decide_as_the_python_path(models):
    """The request's checks take floats in [0, 1], small ints, bools and no checks done inline;
    every other form goes through the policy's own checks: the same decisions and errors."""
    policy = credo.Policy({"domains": {"general": {}, "medical": {"stakes": "high"}}})
    native = compile(models[0], policy)
    top, chosen = _random_top(np.random.default_rng(5), 30, 6)
    for req in [
        {"coverage": 0.1},
        {"coverage": np.float64(0.1)},
        {"coverage": 1},
        {"coverage": 0.0, "repetition": 1.0},
        {"repetition": np.float32(0.99), "attempt": np.int64(1)},
        {"attempt": 2**70, "repetition": 1.0},
        {"checks_done": ()},
        {"checks_done": ("verify",), "retrieval_available": True, "coverage": 0.0},
        {"checks_done": [], "retrieval_available": np.bool_(True), "coverage": 0.0},
    ]:
        _same(native.decide(top, chosen, **req), _python_path(models[0], policy, top, chosen, req))
    for req, match in [
        ({"coverage": float("nan")}, "coverage: must lie in"),
        ({"coverage": -0.0 - 1e-300}, "coverage: must lie in"),
        ({"repetition": 1.5}, "repetition: must lie in"),
        ({"repetition": True}, "repetition: must be a number"),
        ({"attempt": 1.0}, "attempt"),
        ({"retrieval_available": 1}, "retrieval_available"),
        # An explicit None is not a left-out argument (the native method tells them apart).
        ({"attempt": None}, r"^attempt: must be a non-negative integer"),
        ({"retrieval_available": None}, "^retrieval_available: "),
        ({"checks_done": None}, "^checks_done: "),
        ({"domain": "law"}, r"^domain: 'law' is not configured \(domains: general, medical\)$"),
        ({"domain": b"medical"}, r"^domain: expected a domain name \(str\) or None, got b'medical'$"),
    ]:
        with pytest.raises(credo.CredoError, match=match):
            native.decide(top, chosen, **req)
        with pytest.raises(credo.CredoError, match=match):
            _python_path(models[0], policy, top, chosen, req)


def test_arrays_in_any_layout_decide_as_the_python_path(models):
    """Arrays the native call does not read in place (lists, Fortran order, a strided view, other
    dtypes) are converted as the Python path converts them: the same decisions; and a request
    whose arrays the native call reads in place but whose arguments are not in their common form
    (a numpy float, a str subclass as domain) decides the same too."""
    policy = credo.Policy({"domains": {"general": {}, "medical": {"stakes": "high"}}})
    native = compile(models[1], policy)
    top, chosen = _random_top(np.random.default_rng(8), 40, 6)
    wide = np.repeat(top, 2, axis=1)
    for t, c in [
        (top.tolist(), chosen.tolist()),
        (np.asfortranarray(top), chosen),
        (wide[:, ::2], chosen),
        (top, chosen.astype(np.float32)),
        (top.astype(np.float16), chosen),
        (top[::-1], chosen[::-1]),
    ]:
        for req in [{}, {"domain": "medical", "coverage": 0.5}, {"coverage": np.float64(0.5)}]:
            _same(native.decide(t, c, **req), _python_path(models[1], policy, t, c, req))

    # The fast path reads in place only what it can (C-contiguous, aligned, float64/float32 top,
    # float64 chosen) and hands the rest to the full path (_decide_checked without an outcome),
    # which converts it.
    class Spy(NativeDecider):
        __slots__ = ("converted",)

        def _decide_checked(self, *args):
            self.converted = args[-1] is None
            return super()._decide_checked(*args)

    spy = Spy(models[1], policy)

    def read_in_place(t, c) -> bool:
        spy.converted = False
        _same(spy.decide(t, c), _python_path(models[1], policy, t, c, {}))
        return not spy.converted

    odd = np.zeros(top.nbytes + 1, np.uint8)[1:].view(np.float64).reshape(top.shape)
    odd[...] = top
    fallbacks = [(odd, chosen), (np.asfortranarray(top), chosen), (top, chosen.astype(np.float32)), (top, chosen[::-1])]
    for t, c in fallbacks:
        assert not read_in_place(t, c)
    assert read_in_place(top, chosen)

    # The fast path knows numpy's own float64/float32 descriptor by identity; an equivalent
    # descriptor of its own (an unpickled array's) is read in place too, a byte-swapped one is not.
    own = [pickle.loads(pickle.dumps(a)) for a in (top, chosen, top.astype(np.float32))]
    assert own[0].dtype is not np.dtype(np.float64) and own[0].dtype == np.float64
    swapped = top.astype(top.dtype.newbyteorder())
    for t, c in [(own[0], own[1]), (own[2], own[1]), (top, own[1])]:
        assert read_in_place(t, c)
    for t, c in [(swapped, chosen), (top, chosen.astype(chosen.dtype.newbyteorder()))]:
        assert not read_in_place(t, c)

    class Name(str):
        pass

    req = {"domain": Name("medical")}
    _same(native.decide(top, chosen, **req), _python_path(models[1], policy, top, chosen, req))


def _recordings_module():
    path = Path(__file__).resolve().parents[1] / "examples" / "serving" / "recordings.py"
    spec = importlib.util.spec_from_file_location("credo_example_recordings_native", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_serving_recordings_decide_the_same(models, tmp_path):
    """The serving example's recorded responses (OpenAI and vLLM layouts, 256 tokens × top-20)."""
    rec = _recordings_module()
    paths = rec.write(tmp_path, n=8, tokens=256, top=20, seed=1)
    policy = credo.Policy.from_toml(
        'threshold = 0.6\ngray_zone_checks = ["verify", "retrieve"]\n[domains.general]\n'
        '[domains.medical]\nstakes = "high"\nthreshold = 0.8\n'
    )
    bodies = [p.read_bytes() for p in paths if p.name[0] != "l"]
    assert len(bodies) >= 8
    for model in models:
        native = compile(model, policy)
        for domain in ("general", "medical"):
            batch = native.decide_batch(bodies, domain=domain)
            for body, got in zip(bodies, batch, strict=True):
                top = credo.formats.from_openai(json.loads(body))
                want = _python_path(model, policy, top.top_logprobs, top.chosen_logprob, {"domain": domain})
                _same(native.decide_body(body, domain=domain), want)
                _same(got, want)
