"""credo.agreement: docs/definitions/agreement.md check values, independent re-computations, properties,
bad input."""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import credo
from credo.agreement import AdaptiveStopping, agree, agree_batch, normalize_answer, spectral_measures

TOY_ANSWERS = ["Paris", "paris.", "The Paris", "Lyon"]
TOY_LOGPROBS = [[-0.1, -0.2], [-0.1, -0.2], [-0.5, -0.4, -0.3], [-2.0]]


# --- independent references (float64 numpy / pure Python) -------------------------------------


def squad_normalize(s: str) -> str:
    """The SQuAD v1.1 evaluation script's normalize_answer."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def ref_entropies(labels, logprobs):
    logsumexp = pytest.importorskip("scipy.special").logsumexp
    labels = np.asarray(labels)
    seq = np.array([np.sum(lp) for lp in logprobs])
    mean = np.array([np.mean(lp) for lp in logprobs])
    cs = np.unique(labels)
    logp = np.array([logsumexp(mean[labels == c] - logsumexp(mean)) for c in cs])
    farquhar = -np.sum(np.exp(logp) * logp)
    kuhn = -np.mean([logsumexp(mean[labels == c]) - 5.0 for c in cs])
    f = np.array([np.mean(labels == c) for c in cs])
    discrete = -np.sum(f * np.log(f))
    lp_c = {c: logsumexp(seq[labels == c]) for c in cs}
    lmp = -np.mean([lp_c[c] for c in labels])
    return farquhar, kuhn, discrete, lmp


def ref_spectral(w):
    d = w.sum(axis=1)
    inv = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)
    lap = np.eye(len(w)) - inv[:, None] * w * inv[None, :]
    lam = np.linalg.eigvalsh(lap)
    return np.sum(np.maximum(0, 1 - lam)), 1 - d.sum() / len(w) ** 2


def ref_greedy(items, eq):
    firsts, labels = [], []
    for j, x in enumerate(items):
        for c, f in enumerate(firsts):
            if eq(items[f], x):
                labels.append(c)
                break
        else:
            firsts.append(j)
            labels.append(len(firsts) - 1)
    return labels


def jaccard(a: str, b: str) -> float:
    sa, sb = set(a.split()), set(b.split())
    return 1.0 if not sa and not sb else len(sa & sb) / len(sa | sb)


def rouge_l(a: str, b: str) -> float:
    x, y = a.split(), b.split()
    if not x or not y:
        return float(not x and not y)
    dp = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i in range(len(x)):
        for j in range(len(y)):
            dp[i + 1][j + 1] = dp[i][j] + 1 if x[i] == y[j] else max(dp[i][j + 1], dp[i + 1][j])
    lcs = dp[-1][-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(x), lcs / len(y)
    return 2 * p * r / (p + r)


# --- check values of docs/definitions/agreement.md ---------------------------------------------


def test_semantic_entropy_toy_values():
    r = agree(TOY_ANSWERS, logprobs=TOY_LOGPROBS)
    assert list(r.labels) == [0, 0, 0, 1]
    assert r.se_farquhar == pytest.approx(0.208850, abs=5e-7)
    assert r.se_kuhn == pytest.approx(5.563990, abs=5e-7)
    assert r.se_discrete == pytest.approx(0.562335, abs=5e-7)
    assert r.se_lm_polygraph == pytest.approx(0.066348, abs=5e-7)
    assert (r.se_farquhar, r.se_kuhn, r.se_discrete, r.se_lm_polygraph) == pytest.approx(
        ref_entropies(r.labels, TOY_LOGPROBS), abs=1e-12
    )


def test_weighted_agreement_is_farquhar_cluster_probability():
    logsumexp = pytest.importorskip("scipy.special").logsumexp
    r = agree(TOY_ANSWERS, logprobs=TOY_LOGPROBS)
    mean = np.array([np.mean(x) for x in TOY_LOGPROBS])
    p0 = np.exp(logsumexp(mean[:3]) - logsumexp(mean))
    assert r.agreement == pytest.approx(p0, rel=1e-12)
    assert r.cluster_probs.sum() == pytest.approx(1.0, abs=1e-12)
    unweighted = agree(TOY_ANSWERS)
    assert unweighted.agreement == pytest.approx(0.75)
    assert unweighted.se_farquhar is None and unweighted.se_kuhn is None and unweighted.se_lm_polygraph is None


def test_logprobs_can_move_the_majority():
    # Two unlikely "a1" samples against one very likely "b": weighting picks "b".
    r = agree(["a1", "a1", "b"], logprobs=[[-9.0], [-9.0], [-0.01]])
    assert r.majority_answer == "b" and r.agreement > 0.99
    assert agree(["a1", "a1", "b"]).majority_answer == "a1"


@pytest.mark.parametrize(
    ("a", "b", "want", "stop"), [(4, 0, 0.96875, True), (5, 1, 0.9375, False), (3, 2, 0.65625, False)]
)
def test_beta_stopping_reference_values(a, b, want, stop):
    betainc = pytest.importorskip("scipy.special").betainc
    s = AdaptiveStopping("beta")
    counts = [a, b] if b else [a]
    assert s.statistic(counts) == pytest.approx(want, abs=1e-12)
    assert s.statistic(counts) == pytest.approx(1 - betainc(a + 1, b + 1, 0.5), abs=1e-12)
    assert s.should_stop(counts) is stop


def test_beta_uses_only_top_two_counts_and_answers_or_counts_agree():
    s = AdaptiveStopping("beta")
    assert s.statistic([5, 1, 1]) == pytest.approx(s.statistic([5, 1]))
    answers = ["42", "42.0", "forty-two", "42", "$42", "41"]
    # "42", "42.0", "42", "$42" normalise alike: counts 4, 1, 1.
    assert s.statistic(answers) == pytest.approx(s.statistic({"42": 4, "forty two": 1, "41": 1}))


def test_dirichlet_rule():
    d = AdaptiveStopping("dirichlet")
    b = AdaptiveStopping("beta")
    for counts in ([4], [5, 1], [3, 2], [10, 4], [1]):
        assert d.statistic(counts) == pytest.approx(b.statistic(counts), abs=1e-9)
    # Three answers: Monte-Carlo check of P(p_top is the largest) under Dirichlet(counts + 1).
    rng = np.random.default_rng(0)
    counts = np.array([6, 3, 2])
    draws = rng.dirichlet(counts + 1, size=400_000)
    mc = np.mean(draws.argmax(axis=1) == 0)
    assert d.statistic(list(counts)) == pytest.approx(mc, abs=4e-3)
    assert d.statistic([6, 3, 2]) < b.statistic([6, 3])


def test_majority_and_entropy_rules():
    m = AdaptiveStopping("majority")
    assert m.threshold == 0.8
    assert not m.should_stop([1])  # needs more than one answer
    assert m.should_stop([4, 1]) and not m.should_stop([3, 1])
    e = AdaptiveStopping("entropy")
    assert e.threshold == 0.75

    def ratio(c):
        c = np.array([*c, 1] if len(c) == 1 else c, float)
        p = c / c.sum()
        return -(p * np.log2(p)).sum() / np.log2(len(c))

    for counts in ([1], [3], [5], [2, 2], [6, 1, 1], [9, 1]):
        assert e.statistic(counts) == pytest.approx(ratio(counts), abs=1e-12)
        assert e.should_stop(counts) == (ratio(counts) <= 0.75)


def test_sample_limits():
    s = AdaptiveStopping("beta", min_samples=6, max_samples=8)
    assert not s.should_stop([5])
    assert s.should_stop([4, 4])  # budget spent
    calls = iter(["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"])
    res = s.run(lambda: next(calls))
    assert res.n_samples == 8 and not res.stopped_early


def test_run_drives_the_sampler():
    betainc = pytest.importorskip("scipy.special").betainc
    stream = iter(["7", "7", None, "", "8", "7", "7", "7.0", "7", "7", "7"])
    calls = []

    def sample():
        calls.append(1)
        return next(stream)

    res = AdaptiveStopping("beta").run(sample)
    # Votes after each call: 7:1, 7:2, -, -, 8:1, 7:3 (.82), 7:4 (.91), 7:5 (.95 < .96875? no) ...
    counts = Counter()
    expect = None
    for i, a in enumerate(["7", "7", None, "", "8", "7", "7", "7.0", "7", "7", "7"]):
        if a:
            counts[normalize_answer(a)] += 1
        top = [*sorted(counts.values(), reverse=True), 0, 0]
        if counts and 1 - betainc(top[0] + 1, top[1] + 1, 0.5) >= 0.95:
            expect = i + 1
            break
    assert res.n_samples == expect == len(calls)
    assert res.answer == "7" and res.stopped_early
    assert res.agreement == pytest.approx(counts["7"] / sum(counts.values()))


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("  The  Eiffel Tower! ", "eiffel tower"),
        ("1,000", "1000"),
        ("3.50", "3.5"),
        ("½", "0.5"),
        ("1½", "1.5"),
        ("-80", "-80"),
        ("$1,234.50", "1234.5"),
        ("ＡＢＣ", "abc"),
        ("ﬁne", "fine"),
        ("“Quoted” — text…", "quoted text"),
    ],
)
def test_normalize_answer(text, want):
    assert normalize_answer(text) == want


def test_normalize_steps_switch():
    assert normalize_answer("The Cat", lowercase=False, articles=False) == "The Cat"
    assert normalize_answer("3.50", numbers=False) == "350"  # SQuAD would give the same
    assert normalize_answer("ＡＢＣ", unicode=False) == "ａｂｃ"
    assert normalize_answer(" a  b ", whitespace=False, articles=False) == " a  b "
    none = {k: False for k in ("unicode", "lowercase", "punctuation", "articles", "whitespace", "numbers")}
    assert normalize_answer(" The 3.50! ", **none) == " The 3.50! "


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + " .,!?'\"-:;()", max_size=40))
def test_normalize_matches_squad_on_text_without_digits(text):
    assert normalize_answer(text) == squad_normalize(text)


# Letters and digits of several scripts, ASCII punctuation and whitespace (ASCII and Unicode),
# where SQuAD's normalisation is defined the same way as credo's with NFKC and number
# canonicalisation off. Left out on purpose: characters outside Unicode's letters and digits (SQuAD's
# regex \b splits a word at "€", credo only at whitespace), the Unicode punctuation credo also
# deletes, capital sigma (Python lower-cases it by context), U+001C-U+001F (Python's str.split
# splits on them, Unicode's White_Space does not), and capital I with dot (lower-cases to two
# code points).
SQUAD_ALPHABET = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + string.punctuation + " \t\n\r\x0b\x0c"),
    st.sampled_from("\u00a0\u2003\u3000\u0085"),
    st.characters(
        categories=("Lu", "Ll", "Lo", "Nd"),
        min_codepoint=0xC0,
        max_codepoint=0x9FFF,
        exclude_characters="\u03a3\u0130",
    ).filter(lambda c: c.lower().isalnum() and len(c.lower()) == 1),
)
SQUAD_ONLY = {"unicode": False, "numbers": False}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "an", "the", "The", "A"]) | st.text(SQUAD_ALPHABET, max_size=8), max_size=8))
def test_normalize_matches_squad_on_unicode_text(words):
    text = " ".join(words)
    want = squad_normalize(text)
    assert normalize_answer(text, **SQUAD_ONLY) == want
    # The batch path normalises through the same code (its ASCII shortcut included): answers
    # equal after SQuAD normalisation are one cluster under exact matching, others are not.
    other = squad_normalize(text + " x")
    r = agree([text, text + " x", want], method="exact", normalize=SQUAD_ONLY)
    assert list(r.labels) == [0, 0 if other == want else 1, 0]


def ref_token_jaccard_greedy(answers, threshold):
    sets = [set(squad_normalize(a).split()) for a in answers]
    return ref_greedy(sets, lambda s, t: (len(s & t) / len(s | t) if s | t else 1.0) >= threshold)


@pytest.mark.parametrize(
    "answers",
    [
        ["", "", "the", "!!!", "a an the", "Paris"],  # empty after normalisation
        ["Zürich", "zürich!", "ZÜRICH the city", "Genève", "genève", "Zürich Genève"],
        ["東京", "東京 タワー", "the 東京", "タワー", "", "東京"],
        ["naïve café", "Naïve  Café.", "café", "the naïve", "naïve"],
        ["Σοφία", "σοφία", "Москва", "москва!", "the Москва", "a"],
    ],
)
@pytest.mark.parametrize("method", ["exact", "jaccard"])
def test_non_ascii_and_empty_answers_match_the_references(answers, method):
    opts, th = SQUAD_ONLY, (0.5 if method == "jaccard" else None)
    r = agree(answers, method=method, threshold=th, normalize=opts)
    if method == "exact":
        want = ref_greedy([squad_normalize(a) for a in answers], lambda x, y: x == y)
    else:
        want = ref_token_jaccard_greedy(answers, 0.5)
    assert list(r.labels) == want
    # The batch path (ASCII and non-ASCII answers mixed in one call) gives the same labels.
    b = agree_batch([answers, ["plain ascii"], answers[::-1]], method=method, threshold=th, normalize=opts)
    assert list(b.labels_of(0)) == want


def test_parallel_batch_equals_serial_on_mixed_text():
    rnd = np.random.default_rng(5)
    pool = ["Paris", "the city of Paris!", "PARIS.", "Zürich", "zürich city", "東京", "", "the", "42", "42.0",
            "1,000", "a b c", "b c d", "Straße", "STRASSE", "naïve", "x y"]  # fmt: skip
    qs = [list(rnd.choice(pool, size=rnd.integers(1, 12))) for _ in range(1500)]
    for method in ("exact", "jaccard", "rouge_l", "numeric"):
        kw = {"method": method, "spectral": True}
        one = agree_batch(qs, threads=1, **kw)
        two = agree_batch(qs, threads=2, **kw)
        for key in one.raw:
            assert np.array_equal(one.raw[key], two.raw[key], equal_nan=True), (method, key)
        for i in (0, 1, 700, 1499):
            single = agree(qs[i], **kw)
            assert list(one.labels_of(i)) == list(single.labels), (method, i)
            assert one.agreement[i] == single.agreement


@pytest.mark.parametrize("n", [1, 63, 64, 65, 128, 129, 1000])
def test_batch_equals_one_thread_for_every_thread_count_around_the_chunk_size(n):
    # The reader hands the workers 64 questions at a time, claimed in whatever order the threads
    # reach them: sizes around that boundary give the columns of one thread for any count.
    rnd = np.random.default_rng(n)
    pool = ["Paris", "the city of Paris!", "PARIS.", "Zürich", "", "a b c", "b c d", "42", "42.0"]
    qs = [list(rnd.choice(pool, size=rnd.integers(1, 11))) for _ in range(n)]
    for method in ("exact", "jaccard"):
        want = agree_batch(qs, method=method, threads=1)
        for threads in (2, 3, None):
            got = agree_batch(qs, method=method, threads=threads)
            for key in want.raw:
                assert np.array_equal(want.raw[key], got.raw[key], equal_nan=True), (method, threads, key)


class _Text(str):
    """A str subclass: read through the general string check, not the exact-type fast path."""


def _copied_batch():
    """3,000 questions (12 chunks of the reader) of lists and tuples, with exact and subclassed
    strings, ASCII and not, empty ones and a long one."""
    rnd = np.random.default_rng(11)
    pool = ["Paris", "the city of Paris!", "PARIS.", "Zürich", "zürich city", "東京", "", "the", "a b c",
            "b c d", "Straße", "naïve café", "Naïve  Café.", "x " * 300]  # fmt: skip
    qs = []
    for i in range(3000):
        answers = [str(pool[k]) for k in rnd.integers(0, len(pool), size=rnd.integers(1, 12))]
        answers[0] = _Text(answers[0]) if i % 3 == 0 else answers[0]
        qs.append(tuple(answers) if i % 2 else answers)
    return qs


@pytest.mark.parametrize("method", ["exact", "jaccard"])
def test_copied_answers_match_the_reference_for_every_thread_count(method):
    # The batch reader copies each chunk's answers out of the strings (no reference kept): every
    # thread count gives the same columns, equal to the pure-Python reference per question.
    qs = _copied_batch()
    th = 0.5 if method == "jaccard" else None
    runs = [agree_batch(qs, method=method, threshold=th, normalize=SQUAD_ONLY, threads=t) for t in (1, 2, None)]
    for other in runs[1:]:
        for key in runs[0].raw:
            assert np.array_equal(runs[0].raw[key], other.raw[key], equal_nan=True), key
    for i, q in enumerate(qs):
        if method == "exact":
            want = ref_greedy([squad_normalize(a) for a in q], lambda x, y: x == y)
        else:
            want = ref_token_jaccard_greedy(q, 0.5)
        assert list(runs[0].labels_of(i)) == want, i


def test_batch_unaffected_by_another_thread_replacing_the_answers():
    # Another thread swaps every answer for an equal but fresh string (freeing the old one) while
    # batches run: the reader copies the texts under the GIL, so each batch reads whole answers.
    import threading

    qs = [list(q) for q in _copied_batch()]
    want = agree_batch(qs, threads=1)
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            for q in qs:
                for j, a in enumerate(q):
                    q[j] = "".join([a[:1], a[1:]])  # a new object with the same text

    t = threading.Thread(target=churn)
    t.start()
    try:
        for threads in (1, 2, None) * 3:
            got = agree_batch(qs, threads=threads)
            assert np.array_equal(got.labels, want.labels) and np.array_equal(got.agreement, want.agreement)
    finally:
        stop.set()
        t.join()


def test_questions_read_in_python_are_checked_natively():
    # With per-question inputs the questions are read in Python first: the same native check
    # refuses them with the messages of the plain path, and other sequences become lists.
    import collections

    lp = [[[-0.1]], [[-0.2]]]
    with pytest.raises(credo.EmptyInputError, match=r"^questions\[1\]: no answers"):
        agree_batch([["a1"], []], logprobs=lp)
    for bad in ("a1", b"a1", 3):
        with pytest.raises(credo.InvalidArgumentError, match=r"^questions: question 1 is"):
            agree_batch([["a1"], bad], logprobs=lp)
    with pytest.raises(credo.InvalidArgumentError, match=r"^questions: expected a sequence of answer lists"):
        agree_batch("a1", logprobs=lp)
    got = agree_batch((collections.deque(["a1"]), ("b1",)), logprobs=lp)
    want = agree_batch([["a1"], ["b1"]], logprobs=lp)
    np.testing.assert_array_equal(got.labels, want.labels)
    assert list(got.majority_answers) == ["a1", "b1"]
    eq = lambda a, b: a.lower() == b.lower()  # noqa: E731
    got = agree_batch((collections.deque(["A", "a"]), ("b",)), method="callable", equivalent=eq)
    assert list(got.labels_of(0)) == [0, 0] and list(got.labels_of(1)) == [0]


# --- methods against independent computations ---------------------------------------------------

WORDS = ["paris", "the city of paris", "paris france", "lyon", "city of lyon", "france", "the paris"]


def test_exact_and_numeric():
    answers = ["42", "The answer is 42", "42.0", "41", " 42 ", "42.0000001"]
    r = agree(answers)
    normed = [normalize_answer(a) for a in answers]
    assert list(r.labels) == ref_greedy(normed, str.__eq__)
    n = agree(answers, method="numeric")
    assert list(n.labels) == [0, 0, 0, 1, 0, 0]
    assert list(agree(answers, method="numeric", tolerance=0.0).labels) == [0, 0, 0, 1, 0, 2]
    assert list(agree(["x", "y", "x", "3"], method="numeric").labels) == [0, 1, 0, 2]


@pytest.mark.parametrize(("method", "fn"), [("jaccard", jaccard), ("rouge_l", rouge_l)])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_lexical_methods(method, fn, threshold):
    r = agree(WORDS, method=method, threshold=threshold, spectral=True)
    normed = [normalize_answer(w) for w in WORDS]
    assert list(r.labels) == ref_greedy(normed, lambda a, b: fn(a, b) >= threshold)
    w = np.array([[1.0 if i == j else fn(a, b) for j, b in enumerate(normed)] for i, a in enumerate(normed)])
    ev, deg = ref_spectral(w)
    assert r.eigval_laplacian == pytest.approx(ev, abs=1e-9)
    assert r.degree == pytest.approx(deg, abs=1e-12)


def test_embedding_method(rng):
    emb = rng.normal(size=(8, 5))
    emb[3] = emb[0] * 2 + 0.01
    emb[6] = emb[1]
    r = agree([f"s{i}" for i in range(8)], embeddings=emb, threshold=0.95, spectral=True)
    assert r.method == "embedding"
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit.T
    assert list(r.labels) == ref_greedy(list(range(8)), lambda i, j: cos[i, j] >= 0.95)
    ev, deg = ref_spectral(np.clip(cos, 0, None))
    assert r.eigval_laplacian == pytest.approx(ev, abs=1e-9)
    assert r.degree == pytest.approx(deg, abs=1e-12)


def test_entailment_method(rng):
    p = rng.uniform(size=(6, 6))
    np.fill_diagonal(p, 1.0)
    r = agree(list("abcdef"), entailment=p, threshold=0.4, spectral=True)
    assert list(r.labels) == ref_greedy(list(range(6)), lambda i, j: p[i, j] >= 0.4 and p[j, i] >= 0.4)
    ev, deg = ref_spectral((p + p.T) / 2)
    assert r.eigval_laplacian == pytest.approx(ev, abs=1e-9)
    assert r.degree == pytest.approx(deg, abs=1e-12)


def test_spectral_measures_function(rng):
    w = rng.uniform(size=(7, 7))
    w = (w + w.T) / 2
    assert spectral_measures(w) == pytest.approx(ref_spectral(w), abs=1e-9)


def test_callable_asks_each_pair_once_and_greedy_asks_fewer():
    answers = ["Paris", "paris!", "Lyon", "LYON", "Nice", "paris"]
    for clustering in ("greedy", "components"):
        asked = []

        def same(a, b, asked=asked):
            asked.append((a, b))
            return a.strip("!").lower() == b.strip("!").lower()

        r = agree(answers, equivalent=same, clustering=clustering)
        assert list(r.labels) == [0, 0, 1, 1, 2, 0]
        assert len(asked) == len(set(asked))
        assert len(asked) <= len(answers) * (len(answers) - 1) // 2
        if clustering == "greedy":
            assert len(asked) == 1 + 1 + 2 + 2 + 1  # each answer vs first members until a match


def test_callable_errors_propagate():
    def boom(a, b):
        raise RuntimeError("judge down")

    with pytest.raises(RuntimeError, match="judge down"):
        agree(["a1", "b1"], equivalent=boom)


def test_greedy_vs_components():
    chain = ["a b c d", "c d e f", "e f g h"]  # neighbours overlap (Jaccard 1/3), ends do not
    g = agree(chain, method="jaccard", threshold=0.3)
    c = agree(chain, method="jaccard", threshold=0.3, clustering="components")
    assert list(g.labels) == [0, 0, 1]
    assert list(c.labels) == [0, 0, 0]


def test_top_level_exports():
    assert credo.agree is agree and credo.agree_batch is agree_batch
    assert credo.normalize_answer is normalize_answer and credo.AdaptiveStopping is AdaptiveStopping
    assert credo.agreement.spectral_measures is spectral_measures


# --- properties ---------------------------------------------------------------------------------

answer_text = st.sampled_from(["42", "42.0", "forty two", "41", "the 42", "Paris", "paris!", "", "a b", "b c", "x"])
answer_lists = st.lists(answer_text, min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    answer_lists,
    st.sampled_from(["exact", "numeric", "jaccard", "rouge_l"]),
    st.sampled_from(["greedy", "components"]),
)
def test_labels_form_a_canonical_partition(answers, method, clustering):
    r = agree(
        answers,
        method=method,
        clustering=clustering,
        threshold=None if method in ("exact", "numeric") else 0.5,
    )
    labels = list(r.labels)
    k = r.n_clusters
    assert sorted(set(labels)) == list(range(k))
    assert [labels.index(c) for c in range(k)] == sorted(labels.index(c) for c in range(k))
    assert list(r.sizes) == [labels.count(c) for c in range(k)]
    assert 0 < r.agreement <= 1 and r.cluster_probs.max() <= 1
    assert r.cluster_probs.sum() == pytest.approx(1.0)
    assert 0 <= r.se_discrete <= np.log(k) + 1e-12
    assert r.majority_answer == answers[r.majority_index]
    assert r.labels[r.majority_index] == r.majority_label


def same_cluster(labels):
    return {(i, j) for i in range(len(labels)) for j in range(len(labels)) if labels[i] == labels[j]}


@settings(max_examples=100, deadline=None)
@given(answer_lists, st.randoms(use_true_random=False), st.sampled_from(["exact", "jaccard", "rouge_l"]))
def test_order_independence_where_promised(answers, rnd, method):
    perm = list(range(len(answers)))
    rnd.shuffle(perm)
    shuffled = [answers[i] for i in perm]
    # exact: any clustering; similarity methods: connected components.
    clustering = "greedy" if method == "exact" else "components"
    a = agree(answers, method=method, clustering=clustering, threshold=0.5 if method != "exact" else None)
    b = agree(shuffled, method=method, clustering=clustering, threshold=0.5 if method != "exact" else None)
    mapped = {(perm[i], perm[j]) for i, j in same_cluster(list(b.labels))}
    assert mapped == same_cluster(list(a.labels))
    assert sorted(a.sizes) == sorted(b.sizes)
    assert a.se_discrete == pytest.approx(b.se_discrete, abs=1e-12)
    assert a.agreement == pytest.approx(b.agreement, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(answer_lists, min_size=1, max_size=6),
    st.sampled_from(["exact", "numeric", "jaccard", "rouge_l"]),
    st.sampled_from(["greedy", "components"]),
    st.data(),
)
def test_batch_equals_single(questions, method, clustering, data):
    lps = [[data.draw(st.lists(st.floats(-5, 0), min_size=1, max_size=4)) for _ in q] for q in questions]
    kw = dict(method=method, clustering=clustering, spectral=True)
    batch = agree_batch(questions, logprobs=lps, threads=2, **kw)
    assert len(batch) == len(questions)
    for i, q in enumerate(questions):
        one = agree(q, logprobs=lps[i], **kw)
        got = batch[i]
        assert np.array_equal(got.labels, one.labels) and np.array_equal(got.sizes, one.sizes)
        for key in (
            "agreement",
            "se_discrete",
            "se_farquhar",
            "se_kuhn",
            "se_lm_polygraph",
            "eigval_laplacian",
            "degree",
        ):
            assert getattr(got, key) == getattr(one, key), key
        assert batch.majority_answers[i] == one.majority_answer
        # Probabilities stay ≤ 1; the true entropies stay ≥ 0 and match the float64 reference.
        assert one.agreement <= 1 and one.cluster_probs.max() <= 1
        assert one.se_farquhar >= 0 and one.se_discrete >= 0
        assert 0 <= one.degree <= 1 and 0 <= one.eigval_laplacian <= len(q) + 1e-9
        ref = ref_entropies(one.labels, lps[i])
        assert (one.se_farquhar, one.se_kuhn, one.se_discrete, one.se_lm_polygraph) == pytest.approx(ref, abs=1e-9)


def test_batch_thread_count_does_not_matter(rng):
    qs = [[str(x) for x in rng.integers(0, 4, size=rng.integers(1, 15))] for _ in range(300)]
    a = agree_batch(qs, method="jaccard", threads=1, spectral=True)
    b = agree_batch(qs, method="jaccard", threads=2, spectral=True)
    for key in ("labels", "agreement", "se_discrete", "eigval_laplacian", "degree"):
        assert np.array_equal(getattr(a, key), getattr(b, key))


def test_lm_polygraph_variant_goes_negative_on_repeats():
    # Documented behaviour of the published variant (LM-Polygraph #223): repeats push p(c) > 1.
    r = agree(["7", "7", "7"], logprobs=[[-0.01]] * 3)
    assert r.se_lm_polygraph < 0
    assert r.se_farquhar == pytest.approx(0.0, abs=1e-12) and r.agreement == pytest.approx(1.0)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(answers=[]), credo.EmptyInputError, r"^answers"),
        (dict(answers=["a", None]), credo.InvalidArgumentError, "^answers: answer 1 is NoneType"),
        (dict(answers=["a", 3]), credo.InvalidArgumentError, "^answers: answer 1 is int"),
        (dict(answers="abc"), credo.InvalidArgumentError, r"^answers"),
        (dict(answers=["a1", "b1"], logprobs=[[-0.1]]), credo.ShapeError, r"^logprobs"),
        (dict(answers=["a1", "b1"], logprobs=[[-0.1], []]), credo.EmptyInputError, r"^logprobs"),
        (dict(answers=["a1", "b1"], logprobs=[[-0.1], [0.5]]), credo.InvalidArgumentError, r"^logprobs"),
        (dict(answers=["a1", "b1"], logprobs=[[-0.1], [np.nan]]), credo.NonFiniteError, r"^logprobs"),
        (dict(answers=["a1", "b1"], embeddings=np.ones((3, 2))), credo.ShapeError, r"^embeddings"),
        (dict(answers=["a1", "b1"], embeddings=np.zeros((2, 2))), credo.InvalidArgumentError, r"^embeddings"),
        (dict(answers=["a1", "b1"], method="embedding"), credo.InvalidArgumentError, r"^embeddings"),
        (dict(answers=["a1", "b1"], entailment=np.ones((3, 3))), credo.ShapeError, r"^entailment"),
        (
            dict(answers=["a1", "b1"], entailment=[[1, 1.5], [0, 1]]),
            credo.InvalidArgumentError,
            "^entailment",
        ),
        (
            dict(answers=["a1", "b1"], entailment=[[1, -0.1], [0, 1]]),
            credo.InvalidArgumentError,
            "^entailment",
        ),
        (
            dict(answers=["a1", "b1"], similarity=[[1, 0.2], [0.7, 1]]),
            credo.InvalidArgumentError,
            "^similarity: .*symmetric",
        ),
        (
            dict(answers=["a1", "b1"], method="jaccard", threshold=1.5),
            credo.InvalidArgumentError,
            "^threshold",
        ),
        (
            dict(answers=["a1", "b1"], method="numeric", tolerance=-1),
            credo.InvalidArgumentError,
            "^tolerance",
        ),
        (dict(answers=["a1", "b1"], method="levenshtein"), credo.InvalidArgumentError, r"^method"),
        (dict(answers=["a1", "b1"], clustering="average"), credo.InvalidArgumentError, r"^clustering"),
        (dict(answers=["a1", "b1"], method="callable"), credo.InvalidArgumentError, r"^equivalent"),
        (dict(answers=["a1", "b1"], normalize={"case": False}), credo.InvalidArgumentError, r"^normalize"),
    ],
)
def test_bad_input(kwargs, exc, match):
    answers = kwargs.pop("answers")
    with pytest.raises(exc, match=match):
        agree(answers, **kwargs)


def test_bad_batch_input():
    # Errors name the argument as the caller wrote it (questions, not answers).
    with pytest.raises(credo.EmptyInputError, match=r"^questions\[1\]: no answers"):
        agree_batch([["a1"], []])
    with pytest.raises(credo.InvalidArgumentError, match=r"^questions: answer 0 of question 1 is NoneType"):
        agree_batch([["a1"], [None]])
    with pytest.raises(credo.ShapeError, match=r"^logprobs"):
        agree_batch([["a1"], ["b1"]], logprobs=[[[-0.1]]])
    with pytest.raises(credo.ShapeError, match=r"^embeddings\[1\]"):
        agree_batch([["a1"], ["b1"]], embeddings=[np.ones((1, 2)), np.ones((2, 2))])
    with pytest.raises(credo.InvalidArgumentError, match=r"^threads"):
        agree_batch([["a1"]], threads=0)
    # A plain list goes to the native reader unchecked: it refuses what Python refused.
    with pytest.raises(credo.EmptyInputError, match=r"^questions\[2\]: no answers"):
        agree_batch([["a1"], ("b1",), ()])
    for bad in ("a1", b"a1", 3, np.array(["a1"])):
        with pytest.raises(credo.InvalidArgumentError, match=r"^questions: question 1 is"):
            agree_batch([["a1"], bad])


def test_batch_of_other_answer_sequences():
    """Questions held in any sequence (a deque, a custom Sequence) read as their lists do."""
    import collections

    class Answers(collections.abc.Sequence):
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    lists = [["Paris", "paris", "Lyon"], ["4", "four", "4.0", "4"]]
    want = agree_batch(lists)
    for wrap in (collections.deque, Answers, tuple):
        got = agree_batch([wrap(q) for q in lists])
        np.testing.assert_array_equal(got.labels, want.labels)
        np.testing.assert_array_equal(got.agreement, want.agreement)
        assert list(got.majority_answers) == want.majority_answers == ["Paris", "4"]


@pytest.mark.parametrize("threads", [1, 2, None])
def test_batch_read_while_analysed_keeps_errors_and_references(threads):
    # Large batches are read a chunk of questions at a time while earlier chunks are analysed
    # with the GIL released: a bad answer in a late chunk still names itself, and every string
    # reference taken for the call is given back, whether it succeeds or fails.
    import sys

    probe = "".join(["probe ", "answer"])  # a fresh object, referenced only here
    qs = [[f"answer {i % 7}", probe, f"ANSWER {i % 5}!"] for i in range(3000)]
    before = sys.getrefcount(probe)
    ok = agree_batch(qs, threads=threads)
    assert len(ok) == 3000 and sys.getrefcount(probe) == before
    assert list(ok.labels_of(2999)) == list(agree(qs[2999]).labels)
    qs[2900] = ("fine", 42)
    before = sys.getrefcount(probe)
    with pytest.raises(credo.InvalidArgumentError, match=r"^questions: answer 1 of question 2900 is int"):
        agree_batch(qs, threads=threads)
    assert sys.getrefcount(probe) == before


def test_bad_stopping_input():
    with pytest.raises(credo.InvalidArgumentError, match=r"^rule"):
        AdaptiveStopping("median")
    with pytest.raises(credo.InvalidArgumentError, match=r"^confidence"):
        AdaptiveStopping("beta", confidence=1.5)
    with pytest.raises(credo.InvalidArgumentError, match=r"^max_samples"):
        AdaptiveStopping(min_samples=5, max_samples=3)
    with pytest.raises(credo.InvalidArgumentError, match=r"^counts"):
        AdaptiveStopping().should_stop([3, -1])
    with pytest.raises(credo.InvalidArgumentError, match=r"^answers"):
        AdaptiveStopping(ignore_empty=False).should_stop(["a1", None])
    with pytest.raises(credo.InvalidArgumentError, match=r"^sample"):
        AdaptiveStopping().run("not callable")
    with pytest.raises(credo.InvalidArgumentError, match=r"^similarity"):
        spectral_measures([[1, 2], [2, 1]])
