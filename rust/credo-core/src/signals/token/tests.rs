use super::*;
use crate::signals::simd::supported_levels;

fn reference(row: &[f64], t: f64, chosen: Option<usize>) -> [f64; 7] {
    let x: Vec<f64> = row.iter().map(|v| v / t).collect();
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    let lp: Vec<f64> = x.iter().map(|v| v - lse).collect();
    let h: f64 = lp.iter().filter(|l| l.is_finite()).map(|l| -l.exp() * l).sum();
    let mut sorted = x.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let second = sorted.get(1).copied().unwrap_or(f64::NEG_INFINITY);
    let (clp, rank) = match chosen {
        Some(c) => (lp[c], row.iter().filter(|&&v| v > row[c]).count() as f64),
        None => (f64::NAN, -1.0),
    };
    [
        lse,
        h,
        m - lse,
        sorted[0] - second,
        (m - lse).exp() - (second - lse).exp(),
        clp,
        rank,
    ]
}

#[test]
fn matches_float64_reference_at_llama3_vocabulary() {
    let mut rng = crate::signals::simd::tests::Rng::new(3);
    let (rows, v) = (3, 128_256);
    let mut logits = Vec::new();
    for _ in 0..rows {
        logits.extend(crate::signals::simd::tests::random_row(&mut rng, v, 12.0, 0.01));
    }
    let chosen: Vec<i64> = (0..rows).map(|_| rng.below(v as u64) as i64).collect();
    let shape = LogitsShape {
        batch: None,
        seq: rows,
        vocab: v,
    };
    for level in supported_levels() {
        for t in [1.0, 0.6, 1.7] {
            let opts = TokenOptions {
                temperature: t,
                simd: Some(level),
                ..Default::default()
            };
            let s = token_signals(&logits, shape, Some(&chosen), &opts).unwrap();
            for r in 0..rows {
                let row: Vec<f64> = logits[r * v..(r + 1) * v].iter().map(|&x| f64::from(x)).collect();
                let want = reference(&row, t, Some(chosen[r] as usize));
                let got = [
                    s.logsumexp[r],
                    s.entropy[r],
                    s.max_logprob[r],
                    s.margin_logit[r],
                    s.margin_prob[r],
                    s.chosen_logprob.as_ref().unwrap()[r],
                    s.chosen_rank.as_ref().unwrap()[r] as f64,
                ];
                for (k, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{} t={t} row {r} signal {k}: {g} vs {w}",
                        level.name()
                    );
                }
            }
        }
    }
}

#[test]
fn thread_counts_are_bit_identical() {
    let mut rng = crate::signals::simd::tests::Rng::new(11);
    let (rows, v) = (64, 3000);
    let logits: Vec<f32> = (0..rows)
        .flat_map(|_| crate::signals::simd::tests::random_row(&mut rng, v, 8.0, 0.1))
        .collect();
    let shape = LogitsShape {
        batch: Some(4),
        seq: 16,
        vocab: v,
    };
    let chosen: Vec<i64> = (0..rows as i64).map(|i| i * 7 % v as i64).collect();
    let run = |threads| {
        let opts = TokenOptions {
            threads: Some(threads),
            ..Default::default()
        };
        token_signals(&logits, shape, Some(&chosen), &opts).unwrap()
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a, b);
    for (x, y) in a.entropy.iter().zip(&b.entropy) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
}

#[test]
fn invalid_rows_raise_with_their_position_or_give_nan() {
    let mut logits = vec![0.0f32; 2 * 3 * 5];
    logits[(4) * 5 + 2] = f32::NAN; // batch 1, position 1
    let shape = LogitsShape {
        batch: Some(2),
        seq: 3,
        vocab: 5,
    };
    let e = token_signals(&logits, shape, None, &TokenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batch 1, position 1") && e.contains("NaN at vocabulary index 2"),
        "{e}"
    );
    let nan = TokenOptions {
        invalid: InvalidRows::Nan,
        ..Default::default()
    };
    let s = token_signals(&logits, shape, Some(&[0, 1, 2, 3, 4, 0]), &nan).unwrap();
    assert!(s.entropy[4].is_nan() && s.argmax[4] == -1 && s.chosen_rank.as_ref().unwrap()[4] == -1);
    assert!((s.entropy[0] - 5f64.ln()).abs() < 1e-6);
    let mut inf = vec![f32::NEG_INFINITY; 10];
    inf[7] = 1.0;
    let shape2 = LogitsShape {
        batch: None,
        seq: 2,
        vocab: 5,
    };
    let e = token_signals(&inf, shape2, None, &TokenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 0") && e.contains("every logit is -inf"), "{e}");
    // float32 input scaled past float32's range is refused at every level, the scalar
    // reference included (it computes in float64, where the row would still be finite).
    let big = [1e30f32, 0.0, 1.0, 2.0, 3.0];
    for (temperature, row) in [(1e-45, &big[..]), (1e-10, &big[..]), (1e-45, &big[1..])] {
        for level in supported_levels() {
            let tiny = TokenOptions {
                temperature,
                simd: Some(level),
                ..Default::default()
            };
            let shape = LogitsShape {
                batch: None,
                seq: 1,
                vocab: row.len(),
            };
            let e = token_signals(row, shape, None, &tiny).unwrap_err().to_string();
            assert!(e.starts_with("temperature:"), "{} T={temperature}: {e}", level.name());
        }
    }
    inf[1] = f32::INFINITY;
    let e = token_signals(&inf, shape2, None, &TokenOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("+inf at vocabulary index 1"), "{e}");
}

#[test]
fn argument_errors_name_the_argument() {
    let x = vec![0.0f32; 6];
    let shape = LogitsShape {
        batch: None,
        seq: 2,
        vocab: 3,
    };
    let err = |c: Option<&[i64]>, o: TokenOptions| token_signals(&x, shape, c, &o).unwrap_err().to_string();
    assert!(err(Some(&[0]), TokenOptions::default()).starts_with("chosen:"));
    assert!(err(Some(&[0, 3]), TokenOptions::default()).contains("outside the vocabulary"));
    assert!(err(Some(&[-1, 0]), TokenOptions::default()).starts_with("chosen:"));
    assert!(err(
        None,
        TokenOptions {
            temperature: 0.0,
            ..Default::default()
        }
    )
    .starts_with("temperature:"));
    assert!(err(
        None,
        TokenOptions {
            temperature: f64::NAN,
            ..Default::default()
        }
    )
    .starts_with("temperature:"));
    assert!(err(
        None,
        TokenOptions {
            threads: Some(0),
            ..Default::default()
        }
    )
    .starts_with("threads:"));
    let empty = LogitsShape {
        batch: None,
        seq: 0,
        vocab: 3,
    };
    assert!(token_signals::<f32>(&[], empty, None, &TokenOptions::default()).is_err());
    let wrong = LogitsShape {
        batch: None,
        seq: 3,
        vocab: 3,
    };
    assert!(token_signals(&x, wrong, None, &TokenOptions::default()).is_err());
}

#[test]
fn float64_input_and_one_hot_rows() {
    let x = [0.0f64, f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0, 1.0, 1.0];
    let shape = LogitsShape {
        batch: None,
        seq: 2,
        vocab: 3,
    };
    let s = token_signals(&x, shape, Some(&[0, 2]), &TokenOptions::default()).unwrap();
    assert_eq!(s.entropy[0], 0.0);
    assert_eq!(s.max_logprob[0], 0.0);
    assert_eq!(s.margin_logit[0], f64::INFINITY);
    assert_eq!(s.margin_prob[0], 1.0);
    assert!((s.entropy[1] - 3f64.ln()).abs() < 1e-15);
    assert_eq!(s.margin_logit[1], 0.0);
    assert_eq!(s.chosen_rank.as_ref().unwrap(), &vec![0, 0]);
}

/// Large float32 logits at a temperature: the float32 lanes scale by 1/T in float32, so a
/// row's maximum once landed up to half an ulp of `max / T` (0.002 at 4e4) away from where the
/// log-probabilities were formed in float64 — 32 equal logits of 30000 at T = 0.7 gave
/// max_logprob −3.46676 instead of −ln 32, and two logits near −1.01e4 a max_logprob above 0.
#[test]
fn large_float32_logits_at_a_temperature_keep_their_log_probabilities() {
    let one = |row: &[f32], t: f64, level| {
        let shape = LogitsShape {
            batch: None,
            seq: 1,
            vocab: row.len(),
        };
        let opts = TokenOptions {
            temperature: t,
            simd: Some(level),
            ..Default::default()
        };
        token_signals(row, shape, Some(&[0]), &opts).unwrap()
    };
    for level in supported_levels() {
        let equal = [30_000.0f32; 32];
        let s = one(&equal, 0.7, level);
        let ln32 = 32f64.ln();
        assert!(
            (s.max_logprob[0] + ln32).abs() < 1e-6,
            "{}: {}",
            level.name(),
            s.max_logprob[0]
        );
        assert!(
            (s.chosen_logprob.as_ref().unwrap()[0] + ln32).abs() < 1e-6,
            "{}",
            level.name()
        );
        assert!((s.entropy[0] - ln32).abs() < 1e-6, "{}: {}", level.name(), s.entropy[0]);
        for (a, b) in [
            (-10_100.0f32, -10_100.5f32),
            (-10_099.99, -10_100.0),
            (-10_100.0, -10_100.0),
        ] {
            for t in [0.7, 1.3, 1.0] {
                let s = one(&[a, b], t, level);
                let want = reference(&[f64::from(a), f64::from(b)], t, Some(0));
                assert!(
                    s.max_logprob[0] <= 0.0,
                    "{} {a} {b} T={t}: {}",
                    level.name(),
                    s.max_logprob[0]
                );
                assert!(
                    (s.max_logprob[0] - want[2]).abs() < 1e-6,
                    "{} {a} {b} T={t}",
                    level.name()
                );
                assert!((s.entropy[0] - want[1]).abs() < 1e-6, "{} {a} {b} T={t}", level.name());
            }
        }
    }
}
