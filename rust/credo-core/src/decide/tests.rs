use super::*;
use crate::signals::TopkPolicy;

fn domain(strict: bool) -> DomainRules {
    DomainRules {
        threshold: 0.75,
        gray_low: 0.45,
        gray_high: 0.75,
        gray_checks: vec![Action::Verify, Action::Retrieve],
        gray_exhausted: Action::Abstain,
        below: Action::Ask,
        strict_action: Action::Escalate,
        min_coverage: 0.5,
        max_retries: 1,
        repetition_max: 0.5,
        strict,
        hooked: false,
    }
}

fn decider() -> Decider {
    Decider {
        scorer: Scorer::new(vec![10], vec![2.0], 1.0, false, None).unwrap(),
        domains: vec![domain(false), domain(true)],
        topk: TopkOptions {
            policy: TopkPolicy::Bounds,
            vocab_size: None,
            k: None,
            sentinel: -9999.0,
        },
    }
}

fn rule(conf: f64, req: Request) -> (Rule, Action, Tier) {
    let o = decider().rules(conf, &req).unwrap();
    (o.rule, o.action, o.tier)
}

#[test]
fn bands_follow_the_policy_order() {
    let r = Request::default();
    assert_eq!(rule(0.8, r), (Rule::Clears, Action::Answer, Tier::Baseline));
    assert_eq!(rule(0.5, r), (Rule::GrayCheck, Action::Verify, Tier::GrayZone));
    let done = Request {
        checks_done: Action::Verify.bit(),
        ..r
    };
    // Retrieve is skipped without retrieval; the zone is exhausted.
    assert_eq!(rule(0.5, done), (Rule::GrayExhausted, Action::Abstain, Tier::GrayZone));
    assert_eq!(rule(0.1, r), (Rule::Below, Action::Ask, Tier::Baseline));
    let strict = Request { domain: 1, ..r };
    assert_eq!(rule(0.1, strict), (Rule::Below, Action::Escalate, Tier::Strict));
}

#[test]
fn repetition_and_coverage_come_first() {
    let r = Request {
        repetition: Some(0.9),
        ..Request::default()
    };
    assert_eq!(rule(0.99, r), (Rule::Repetition, Action::Retry, Tier::Baseline));
    let spent = Request { attempt: 1, ..r };
    assert_eq!(rule(0.99, spent), (Rule::Repetition, Action::Abstain, Tier::Baseline));
    let low = Request {
        coverage: Some(0.1),
        retrieval_available: true,
        ..Request::default()
    };
    assert_eq!(rule(0.99, low), (Rule::Coverage, Action::Retrieve, Tier::Baseline));
    let noted = decider()
        .rules(
            0.99,
            &Request {
                coverage: Some(0.1),
                ..Request::default()
            },
        )
        .unwrap();
    assert!(noted.coverage_noted);
    assert_eq!(noted.action, Action::Answer);
}

#[test]
fn the_model_uses_the_summary_fields() {
    let d = decider();
    let top = [-0.1f64.ln_1p(), -3.0];
    let chosen = [top[0]];
    let resp = TopkResponse {
        top: crate::signals::TopkLogprobs::F64(&top),
        rows: 1,
        width: 2,
        chosen: Some(&chosen),
    };
    let o = d.decide(&resp, &Request::default()).unwrap();
    let want = crate::special::sigmoid(1.0 + 2.0 * chosen[0]);
    assert_eq!(o.confidence.to_bits(), want.to_bits());
    // Without chosen logprobs the feature is NaN: refused, naming it.
    let bare = TopkResponse { chosen: None, ..resp };
    let e = d.decide(&bare, &Request::default()).unwrap_err().to_string();
    assert!(e.contains("signals.mean_logprob"), "{e}");
    assert!(d.rules(f64::NAN, &Request::default()).is_err());
}

#[test]
fn bodies_are_read_natively() {
    let body = br#"{"choices":[{"logprobs":{"content":[{"token":"a","logprob":-0.5,"top_logprobs":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-1.5}]}]}}]}"#;
    let o = decider().decide_body(body, 0, &Request::default()).unwrap();
    assert_eq!(o.confidence.to_bits(), crate::special::sigmoid(1.0 - 1.0).to_bits());
    let e = decider()
        .decide_body(b"{", 0, &Request::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("response"), "{e}");
}

#[test]
fn summary_fields_round_trip() {
    let v: [f64; 13] = std::array::from_fn(|i| if i == 0 { 7.0 } else { 0.5 + i as f64 });
    let s = summary_from_fields(&v).unwrap();
    assert_eq!(s.n_tokens, 7);
    for (i, &want) in v.iter().enumerate() {
        assert_eq!(summary_field(&s, i).to_bits(), want.to_bits(), "{}", SUMMARY_FIELDS[i]);
    }
    for bad in [-1.0, 2.5, f64::NAN] {
        let e = summary_from_fields(&[bad; 13]).unwrap_err().to_string();
        assert!(e.contains("summary.n_tokens"), "{e}");
    }
}

#[test]
fn hundredths_round_as_printf_does() {
    // Every midpoint k/100 + 1/200 and its neighbours: only 0.125, 0.375, 0.625 and 0.875 are
    // exact doubles (ties to even), the others round by which side their double lies on.
    for k in 0..100u32 {
        let mid = (2 * k + 1) as f64 / 200.0;
        for x in [mid, mid.next_up(), mid.next_down(), k as f64 / 100.0] {
            // The decimal expansion to 40 places (a double that is not a midpoint lies at least
            // 1e−19 from it, so the side shows) rounded by hand, ties to even.
            let digits = format!("{x:.40}");
            let (whole, frac) = digits.split_once('.').unwrap();
            let cents: u32 = whole.parse::<u32>().unwrap() * 100 + frac[..2].parse::<u32>().unwrap();
            let rest = &frac[2..];
            let above = rest.trim_end_matches('0') > "5";
            let tie = rest.trim_end_matches('0') == "5";
            let want = cents + u32::from(above || (tie && cents % 2 == 1));
            assert_eq!(u32::from(hundredths(x)), want, "{x:e}");
        }
    }
    assert_eq!(
        // 0.995 is 0.99499999… as a double: Python prints 0.99.
        [0.125, 0.375, 0.625, 0.875, 0.0, 1.0, 0.995, 0.005].map(hundredths),
        [12, 38, 62, 88, 0, 100, 99, 1]
    );
}
