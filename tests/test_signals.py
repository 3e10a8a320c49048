"""credo.token_signals against a float64 NumPy reference: every dtype, every SIMD path, masks,
ties, temperature, threads, bad input, and the real option logits."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo.signals import simd_level, simd_levels

from .conftest import data_path, subprocess_env

LEVELS = simd_levels()
try:
    import ml_dtypes
except ImportError:  # optional (credo[dtypes]): the bfloat16 cases skip
    ml_dtypes = None
# bfloat16 needs ml_dtypes: without it the parametrised cases skip and the property test draws
# from the other dtypes.
DTYPES = [np.float32, np.float16, *([ml_dtypes.bfloat16] if ml_dtypes else []), np.float64]
DTYPE_PARAMS = [
    np.float32,
    np.float16,
    pytest.param(
        ml_dtypes.bfloat16 if ml_dtypes else np.float32,
        marks=pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes (credo[dtypes]) is not installed"),
        id="bfloat16",
    ),
    np.float64,
]


def reference(logits: np.ndarray, chosen: np.ndarray | None = None, temperature: float = 1.0) -> dict:
    """All signals in float64 NumPy, from the values as stored (after the dtype's rounding)."""
    x = np.asarray(logits, dtype=np.float64) / temperature
    m = x.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]
    lp = x - lse[..., None]
    with np.errstate(invalid="ignore"):
        plogp = np.where(np.isfinite(lp), np.exp(lp) * lp, 0.0)
    padded = np.concatenate([x, np.full((*x.shape[:-1], 1), -np.inf)], axis=-1)  # V = 1
    top2 = np.sort(padded, axis=-1)[..., ::-1][..., :2]
    out = {
        "logsumexp": lse,
        "entropy": -plogp.sum(axis=-1),
        "max_logprob": top2[..., 0] - lse,
        "argmax": np.argmax(x, axis=-1),
        "margin_logit": top2[..., 0] - top2[..., 1],
        "margin_prob": np.exp(top2[..., 0] - lse) - np.exp(top2[..., 1] - lse),
    }
    if chosen is not None:
        raw = np.asarray(logits, dtype=np.float64)
        c = np.take_along_axis(raw, chosen[..., None], axis=-1)
        out["chosen_logprob"] = np.take_along_axis(lp, chosen[..., None], axis=-1)[..., 0]
        out["chosen_rank"] = (raw > c).sum(axis=-1)
    return out


def assert_matches(got: credo.signals.TokenSignals, want: dict, atol: float = 1e-5) -> None:
    for name, w in want.items():
        g = getattr(got, name)
        assert g.shape == w.shape, name
        if name in ("argmax", "chosen_rank"):
            np.testing.assert_array_equal(g, w, err_msg=name)
        else:
            np.testing.assert_allclose(g, w, rtol=0, atol=atol, err_msg=name)


@pytest.mark.parametrize("level", LEVELS)
def test_llama3_vocabulary_float32_every_simd_path(level: str, rng: np.random.Generator) -> None:
    x = (rng.standard_normal((3, 128_256)) * 4).astype(np.float32)
    x[1, rng.integers(0, 128_256, 5000)] = -np.inf
    x[2, :10] = 25.0  # a peaked row
    chosen = rng.integers(0, 128_256, 3)
    for t in (1.0, 0.7):
        got = credo.token_signals(x, chosen, temperature=t, _simd=level)
        assert got.simd == level
        assert_matches(got, reference(x, chosen, t))


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", DTYPE_PARAMS, ids=lambda d: np.dtype(d).name)
def test_every_dtype_every_path(level: str, dtype: type, rng: np.random.Generator) -> None:
    x = (rng.standard_normal((2, 5, 3001)) * 3).astype(dtype)
    x[0, 1, ::3] = -np.inf
    chosen = rng.integers(0, 3001, (2, 5))
    got = credo.token_signals(x, chosen, _simd=level)
    assert got.shape == (2, 5)
    assert_matches(got, reference(x, chosen))
    assert got.provenance.vocab_size == 3001 and got.provenance.mode == "full"


def test_float64_keeps_float64_precision(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 1000)) * 10
    got = credo.token_signals(x)
    assert_matches(got, reference(x), atol=1e-12)


def test_ties_masks_and_single_finite_entry() -> None:
    x = np.array(
        [
            [1.0, 3.0, 3.0, -np.inf],  # tie for the maximum: first index, margin 0
            [-np.inf, -np.inf, 2.0, -np.inf],  # one finite entry: entropy 0, margin inf
            [0.0, 0.0, 0.0, 0.0],
        ],
        dtype=np.float32,
    )
    s = credo.token_signals(x, [2, 2, 3])
    assert list(s.argmax) == [1, 2, 0]
    assert s.margin_logit[0] == 0 and s.margin_prob[0] == 0
    assert s.chosen_rank[0] == 0  # ties share the better rank
    assert s.entropy[1] == 0 and s.max_logprob[1] == 0 and np.isinf(s.margin_logit[1])
    assert s.margin_prob[1] == 1
    np.testing.assert_allclose(s.entropy[2], np.log(4), atol=1e-6)
    assert s.chosen_rank[2] == 0


def test_temperature_scales_logits(rng: np.random.Generator) -> None:
    x = rng.standard_normal((6, 500)).astype(np.float32)
    a = credo.token_signals(x, temperature=2.0)
    b = credo.token_signals(x.astype(np.float64) / 2.0)
    np.testing.assert_allclose(a.entropy, b.entropy, atol=1e-6)
    np.testing.assert_allclose(a.margin_logit, b.margin_logit, atol=1e-6)
    assert a.provenance.temperature == 2.0


@pytest.mark.parametrize("level", LEVELS)
def test_large_float32_logits_at_a_temperature(level: str) -> None:
    """The float32 lanes scale by 1/T in float32; the log-probabilities are formed with that same
    scale, so large logits keep them (before: 32 equal logits of 30000 at T = 0.7 gave
    max_logprob -3.46676, not -ln 32; two logits near -1.01e4 a max_logprob above 0)."""
    equal = np.full((1, 32), 30_000.0, dtype=np.float32)
    s = credo.token_signals(equal, [0], temperature=0.7, _simd=level)
    np.testing.assert_allclose([s.max_logprob[0], s.chosen_logprob[0]], -np.log(32), rtol=0, atol=1e-6)
    np.testing.assert_allclose(s.entropy[0], np.log(32), rtol=0, atol=1e-6)
    pairs = np.array([[-10_100.0, -10_100.5], [-10_099.99, -10_100.0], [-10_100.0, -10_100.0]], np.float32)
    for t in (0.7, 1.3):
        s = credo.token_signals(pairs, temperature=t, _simd=level)
        want = reference(pairs, None, t)
        assert (s.max_logprob <= 0).all()
        np.testing.assert_allclose(s.max_logprob, want["max_logprob"], rtol=0, atol=1e-6)


def test_thread_counts_are_bit_identical(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 64, 700)).astype(np.float32)
    chosen = rng.integers(0, 700, (4, 64))
    one = credo.token_signals(x, chosen, threads=1)
    two = credo.token_signals(x, chosen, threads=2)
    for name, arr in one.to_dict().items():
        assert np.array_equal(arr, getattr(two, name)), name
        assert arr.tobytes() == getattr(two, name).tobytes(), name


def test_non_contiguous_and_negative_strides_give_correct_results(rng: np.random.Generator) -> None:
    base = rng.standard_normal((6, 400)).astype(np.float32)
    for view in (base[:, ::-1], base[::2], base.T.copy().T, base[:, 1::2], base[::-1]):
        assert_matches(credo.token_signals(view), reference(view))


def test_dlpack_and_array_protocol_objects(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 50)).astype(np.float32)

    class DLPackOnly:
        def __init__(self, a: np.ndarray) -> None:
            self._a = a

        def __dlpack__(self, **kw):  # type: ignore[no-untyped-def]
            return self._a.__dlpack__(**kw)

        def __dlpack_device__(self):  # type: ignore[no-untyped-def]
            return self._a.__dlpack_device__()

    class ArrayOnly:
        def __array__(self, dtype=None, copy=None):  # type: ignore[no-untyped-def]
            return x

    want = reference(x)
    assert_matches(credo.token_signals(DLPackOnly(x)), want)
    assert_matches(credo.token_signals(ArrayOnly()), want)
    assert_matches(credo.token_signals(x.tolist()), reference(np.asarray(x.tolist())))


def test_torch_tensors_when_available(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 3, 100)
    want = reference(x.numpy())
    assert_matches(credo.token_signals(x), want)
    got = credo.token_signals(x.to(torch.bfloat16))
    assert_matches(got, reference(x.to(torch.bfloat16).float().numpy()))


def test_env_override_forces_scalar_in_a_subprocess() -> None:
    code = "import numpy as np, credo; print(credo.token_signals(np.zeros((1, 3), np.float32)).simd)"
    for want in ("scalar", LEVELS[-1]):
        env = subprocess_env() | {"CREDO_SIMD": want}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == want
    env = subprocess_env() | {"CREDO_SIMD": "nonsense"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == LEVELS[-1]
    assert simd_level() in LEVELS


def test_invalid_rows_raise_naming_batch_and_position() -> None:
    x = np.zeros((2, 3, 4), np.float32)
    x[1, 2, 3] = np.nan
    with pytest.raises(credo.NonFiniteError, match=r"logits: batch 1, position 2 contains NaN at vocabulary index 3"):
        credo.token_signals(x)
    x[1, 2, 3] = np.inf
    with pytest.raises(credo.NonFiniteError, match=r"\+inf at vocabulary index 3"):
        credo.token_signals(x)
    y = np.zeros((3, 4), np.float16)
    y[1] = -np.inf
    with pytest.raises(credo.NonFiniteError, match=r"row 1 has no finite entry"):
        credo.token_signals(y)
    s = credo.token_signals(y, [0, 1, 2], invalid="nan")
    assert np.isnan(s.entropy[1]) and s.argmax[1] == -1 and s.chosen_rank[1] == -1
    np.testing.assert_allclose(s.entropy[[0, 2]], np.log(4), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"logits": np.zeros(5, np.float32)}, credo.ShapeError, "logits: expected a 2-D"),
        ({"logits": np.zeros((1, 2, 3, 4), np.float32)}, credo.ShapeError, "logits:"),
        ({"logits": np.zeros((0, 5), np.float32)}, credo.EmptyInputError, "logits: is empty"),
        ({"logits": np.zeros((3, 0), np.float32)}, credo.EmptyInputError, "logits: is empty"),
        ({"logits": np.zeros((2, 3), np.int64)}, credo.InvalidArgumentError, "logits: expected floating"),
        ({"logits": np.array([["a", "b"]])}, credo.InvalidArgumentError, "logits: expected floating"),
        ({"logits": [[1.0, 2.0], [3.0]]}, credo.InvalidArgumentError, "logits: cannot be read"),
        ({"chosen": [0]}, credo.ShapeError, "chosen: has shape"),
        ({"chosen": [0, 5]}, credo.InvalidArgumentError, "chosen: token id 5 at row 1 is outside"),
        ({"chosen": [-1, 0]}, credo.InvalidArgumentError, "chosen: token id -1"),
        ({"chosen": [0.5, 1.0]}, credo.InvalidArgumentError, "chosen: token ids must be integers"),
        ({"temperature": 0.0}, credo.InvalidArgumentError, "temperature:"),
        ({"temperature": float("nan")}, credo.InvalidArgumentError, "temperature:"),
        ({"temperature": "hot"}, credo.InvalidArgumentError, "temperature:"),
        ({"threads": 0}, credo.InvalidArgumentError, "threads:"),
        ({"invalid": "skip"}, credo.InvalidArgumentError, "invalid:"),
        ({"_simd": "sse9"}, credo.InvalidArgumentError, "_simd:"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, exc: type, match: str) -> None:
    args = {"logits": np.zeros((2, 5), np.float32)} | kwargs
    with pytest.raises(exc, match=match):
        credo.token_signals(args.pop("logits"), args.pop("chosen", None), **args)


def test_unsupported_simd_level_is_refused() -> None:
    missing = [lvl for lvl in ("avx2", "avx512", "neon") if lvl not in LEVELS]
    for lvl in missing:
        with pytest.raises(credo.CredoError, match=r"simd: .* not supported"):
            credo.token_signals(np.zeros((1, 3), np.float32), _simd=lvl)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 5),
    vocab=st.integers(1, 300),
    dtype=st.sampled_from(DTYPES),
    mask_frac=st.floats(0.0, 0.95),
    scale=st.floats(0.1, 30.0),
    seed=st.integers(0, 2**32 - 1),
    level=st.sampled_from(LEVELS),
)
def test_property_matches_reference(rows, vocab, dtype, mask_frac, scale, seed, level) -> None:  # type: ignore[no-untyped-def]
    r = np.random.default_rng(seed)
    x = (r.standard_normal((rows, vocab)) * scale).astype(dtype)
    x[r.random((rows, vocab)) < mask_frac] = -np.inf
    x[np.arange(rows), r.integers(0, vocab, rows)] = dtype(1.0)  # at least one finite entry per row
    chosen = r.integers(0, vocab, rows)
    got = credo.token_signals(x, chosen, _simd=level)
    assert_matches(got, reference(x, chosen), atol=2e-5)
    assert np.all(got.entropy >= 0) and np.all(got.entropy <= np.log(vocab) + 1e-5)
    assert np.all(got.max_logprob <= 1e-6) and np.all(got.chosen_rank >= 0)


@pytest.mark.parametrize("name", ["Llama-2-13b-hf_mmlu_10k_base_icl1", "Mistral-7B-v0.1_hellaswag_10k_base_icl1"])
def test_real_option_logits(name: str) -> None:
    z = np.load(data_path("llm-option-logits", f"{name}.npz"))
    logits = z["logits"]
    assert logits.dtype == np.float32 and logits.shape == (10000, 6)
    for level in LEVELS:
        s = credo.token_signals(logits, np.argmax(logits, axis=1), _simd=level)
        assert_matches(s, reference(logits, np.argmax(logits, axis=1)))
        assert np.all(s.chosen_rank == 0)
    # A real model is far from uniform over six options on average.
    assert 0 < s.entropy.mean() < np.log(6)


def test_unaligned_buffers_are_copied_not_misread(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 33)).astype(np.float32)
    raw = bytearray(b"\0" + x.tobytes())
    view = np.frombuffer(raw, dtype=np.float32, offset=1).reshape(4, 33)
    assert not view.flags.aligned
    assert_matches(credo.token_signals(view), reference(x))


def test_contiguous_input_is_borrowed_not_copied(rng: np.random.Generator) -> None:
    from credo.signals import _as_logits

    x = rng.standard_normal((3, 40)).astype(np.float32)
    assert _as_logits(x)[0] is x
    b = x.astype(pytest.importorskip("ml_dtypes").bfloat16)
    view, name = _as_logits(b)
    assert name == "bfloat16" and np.shares_memory(view, b)
    assert not np.shares_memory(_as_logits(x[:, ::2])[0], x)  # strided views are copied once


def test_gil_is_released_during_the_pass(rng: np.random.Generator) -> None:
    import threading
    import time

    x = rng.standard_normal((256, 128_256)).astype(np.float32)
    ticks: list[float] = []
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    th = threading.Thread(target=spin)
    th.start()
    try:
        time.sleep(0.01)
        t0 = time.perf_counter()
        credo.token_signals(x, threads=1, _simd="scalar")  # the slow path: one long native call
        t1 = time.perf_counter()
    finally:
        stop.set()
        th.join()
    inside = [t for t in ticks if t0 + 0.005 < t < t1 - 0.005]
    # With the GIL held the other thread could not run at all during the call.
    assert len(inside) >= 3, (len(inside), t1 - t0)
