//! One request's decision in one call: top-k summary → features → logistic model → calibrator
//! → the policy's rules, from arrays, from a summary or from the response body.
//!
//! A fitted confidence model and a policy are compiled once into a [`Decider`] (the bindings
//! build it from the Python objects). The policy's words stay with the caller: a call returns an
//! [`Outcome`] (which rule fired, the action, the tier, the threshold) and the caller renders the
//! reasons from it. Rules that need the caller's objects (input risk, verifiers, guaranteed
//! thresholds) are not here: a domain marked [`DomainRules::hooked`] answers [`Rule::Hook`] once
//! it would take the strict path, and the caller decides that request itself from the confidence.

use crate::calibrate::{BetaModel, HistogramModel, IsotonicModel, PlattModel, TemperatureModel};
use crate::error::{CredoError, Result};
use crate::formats::{self, ReadOptions};
use crate::linear;
use crate::signals::{TopkOptions, TopkResponse, TopkSummary};

/// The fields of a [`TopkSummary`] a model may use, in the order of `credo.signals.TopkSummary`.
pub const SUMMARY_FIELDS: [&str; 13] = [
    "n_tokens",
    "mean_entropy",
    "max_entropy",
    "mean_entropy_upper",
    "mean_tail_mass",
    "max_tail_mass",
    "mean_margin",
    "min_margin",
    "mean_max_logprob",
    "sum_logprob",
    "mean_logprob",
    "min_logprob",
    "not_top1",
];

/// Field `i` of [`SUMMARY_FIELDS`] of a summary.
pub fn summary_field(s: &TopkSummary, i: usize) -> f64 {
    match i {
        // a token count is far below 2^53
        0 => s.n_tokens as f64,
        1 => s.mean_entropy,
        2 => s.max_entropy,
        3 => s.mean_entropy_upper,
        4 => s.mean_tail_mass,
        5 => s.max_tail_mass,
        6 => s.mean_margin,
        7 => s.min_margin,
        8 => s.mean_max_logprob,
        9 => s.sum_logprob,
        10 => s.mean_logprob,
        11 => s.min_logprob,
        _ => s.not_top1,
    }
}

/// A summary from its values in the order of [`SUMMARY_FIELDS`] (the inverse of
/// [`summary_field`]); the token count must be a whole number ≥ 0.
pub fn summary_from_fields(v: &[f64; SUMMARY_FIELDS.len()]) -> Result<TopkSummary> {
    if !(v[0] >= 0.0 && v[0].fract() == 0.0) {
        return Err(CredoError::invalid(
            "summary.n_tokens",
            format!("must be a non-negative whole number, got {}", v[0]),
        ));
    }
    Ok(TopkSummary {
        n_tokens: v[0] as usize, // whole and ≥ 0 (saturates past usize::MAX)
        mean_entropy: v[1],
        max_entropy: v[2],
        mean_entropy_upper: v[3],
        mean_tail_mass: v[4],
        max_tail_mass: v[5],
        mean_margin: v[6],
        min_margin: v[7],
        mean_max_logprob: v[8],
        sum_logprob: v[9],
        mean_logprob: v[10],
        min_logprob: v[11],
        not_top1: v[12],
    })
}

/// A fitted binary calibrator applied to the model's output.
#[derive(Clone, Debug)]
pub enum Calibrator {
    Isotonic(IsotonicModel),
    Platt(PlattModel),
    Beta(BetaModel),
    Histogram(HistogramModel),
    Temperature(TemperatureModel),
}

impl Calibrator {
    fn predict_one(&self, x: f64) -> Result<f64> {
        match self {
            Calibrator::Isotonic(m) => m.predict_one(x),
            Calibrator::Platt(m) => m.predict_one(x),
            Calibrator::Beta(m) => m.predict_one(x),
            Calibrator::Histogram(m) => m.predict_one(x),
            Calibrator::Temperature(m) => m.predict_one_binary(x),
        }
    }
}

/// Probabilities are clipped to [ε, 1 − ε] before their log-odds go to a calibrator.
const EPS: f64 = 1e-12;

/// The confidence model: summary fields → logistic model → optional calibrator.
#[derive(Clone, Debug)]
pub struct Scorer {
    /// Indices into [`SUMMARY_FIELDS`], in the model's feature order.
    pub features: Vec<usize>,
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// The calibrator sees the log-odds of the model's probability (else the probability).
    pub to_logit: bool,
    pub calibrator: Option<Calibrator>,
}

impl Scorer {
    /// A scorer, its parts checked (features known, one coefficient each, finite).
    pub fn new(
        features: Vec<usize>,
        coef: Vec<f64>,
        intercept: f64,
        to_logit: bool,
        calibrator: Option<Calibrator>,
    ) -> Result<Self> {
        if coef.is_empty() || coef.len() != features.len() {
            return Err(CredoError::shape(
                "coef",
                format!("{} coefficients for {} features", coef.len(), features.len()),
            ));
        }
        if let Some(&f) = features.iter().find(|&&f| f >= SUMMARY_FIELDS.len()) {
            return Err(CredoError::invalid("features", format!("no summary field {f}")));
        }
        crate::error::check_finite("coef", &coef)?;
        crate::error::check_finite("intercept", &[intercept])?;
        Ok(Self {
            features,
            coef,
            intercept,
            to_logit,
            calibrator,
        })
    }

    /// The calibrated P(correct) of one summary (the calibrator's value clipped to [0, 1]).
    pub fn confidence(&self, s: &TopkSummary) -> Result<f64> {
        let mut x = [0.0; SUMMARY_FIELDS.len()];
        for (slot, &f) in x.iter_mut().zip(&self.features) {
            let v = summary_field(s, f);
            if !v.is_finite() {
                return Err(CredoError::invalid(
                    format!("signals.{}", SUMMARY_FIELDS[f]),
                    format!("the model needs a finite value, got {v}"),
                ));
            }
            *slot = v;
        }
        let p = linear::predict_one(&self.coef, self.intercept, &x[..self.features.len()]);
        let Some(cal) = &self.calibrator else {
            return Ok(p);
        };
        let input = if self.to_logit {
            let q = p.clamp(EPS, 1.0 - EPS);
            (q / (1.0 - q)).ln()
        } else {
            p
        };
        let r = cal.predict_one(input)?;
        // NaN passes through (the policy refuses it), as in the Python path.
        Ok(r.clamp(0.0, 1.0))
    }
}

/// The policy's actions, in the order of `credo.Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    Answer = 0,
    Abstain = 1,
    Ask = 2,
    Retrieve = 3,
    Verify = 4,
    Escalate = 5,
    Retry = 6,
}

impl Action {
    /// The action of code `i` (the order above).
    pub fn from_code(i: u8) -> Result<Self> {
        Ok(match i {
            0 => Action::Answer,
            1 => Action::Abstain,
            2 => Action::Ask,
            3 => Action::Retrieve,
            4 => Action::Verify,
            5 => Action::Escalate,
            6 => Action::Retry,
            _ => return Err(CredoError::invalid("action", format!("no action of code {i}"))),
        })
    }

    /// Its bit in a set of gray-zone checks already run.
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The path that decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tier {
    Baseline = 0,
    GrayZone = 1,
    Strict = 2,
}

/// The rule that fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rule {
    /// A repetition loop: retry, or the failure action when no retries are left.
    Repetition = 0,
    /// Evidence coverage below the minimum: retrieve, or abstain on the strict path.
    Coverage = 1,
    /// The confidence clears the threshold: answer.
    Clears = 2,
    /// In the gray zone, with a check left to run.
    GrayCheck = 3,
    /// In the gray zone, every check run.
    GrayExhausted = 4,
    /// Below the gray zone.
    Below = 5,
    /// The caller decides (a guaranteed threshold on the strict path).
    Hook = 6,
}

/// One domain's rules (a policy's domain without input risk).
#[derive(Clone, Debug)]
pub struct DomainRules {
    pub threshold: f64,
    pub gray_low: f64,
    pub gray_high: f64,
    pub gray_checks: Vec<Action>,
    pub gray_exhausted: Action,
    pub below: Action,
    pub strict_action: Action,
    pub min_coverage: f64,
    pub max_retries: u64,
    pub repetition_max: f64,
    /// The domain's stakes put it on the strict path.
    pub strict: bool,
    /// A guaranteed threshold (the caller's object) decides its strict path.
    pub hooked: bool,
}

/// What one request brings besides its logprobs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request {
    /// Index of the domain in [`Decider::domains`].
    pub domain: usize,
    pub coverage: Option<f64>,
    pub repetition: Option<f64>,
    pub attempt: u64,
    pub retrieval_available: bool,
    /// The gray-zone checks already run, as bits of [`Action`] codes.
    pub checks_done: u8,
}

/// A decision without its words.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub confidence: f64,
    pub rule: Rule,
    pub action: Action,
    pub tier: Tier,
    pub threshold: f64,
    /// The coverage rule noted low coverage and let the confidence decide.
    pub coverage_noted: bool,
    /// The confidence to two decimals, ×100 ([`hundredths`]): the caller words a band's
    /// decision once per value of it.
    pub hundredths: u8,
}

/// x·100 rounded to the nearest integer, ties to even on the exact value of x, for x in [0, 1]:
/// the two decimals C's and Python's `%.2f` print. The product's rounding error is recovered
/// exactly (a fused multiply-add), so a value just either side of a midpoint rounds as printed.
pub fn hundredths(x: f64) -> u8 {
    let y = x * 100.0;
    // x·100 = y + e exactly.
    let e = x.mul_add(100.0, -y);
    let f = y.floor();
    // Exact: y − f by Sterbenz (f ≤ y < 2f, or f = 0), and the difference with 0.5 too where it
    // is in [0.25, 1); below that, |e| (at most half an ulp of 100) cannot change the sign.
    let d = (y - f) - 0.5;
    // The sign of x·100 − f − 0.5 = d + e, compared exactly.
    let up = d > -e || (d == -e && f % 2.0 == 1.0);
    // f ≤ 100 for x ≤ 1 (NaN, refused before any outcome, would give 0).
    f as u8 + u8::from(up)
}

/// A compiled model and policy.
#[derive(Clone, Debug)]
pub struct Decider {
    pub scorer: Scorer,
    pub domains: Vec<DomainRules>,
    pub topk: TopkOptions,
}

impl Decider {
    /// The decision of one request from its top-k summary.
    pub fn decide_summary(&self, s: &TopkSummary, req: &Request) -> Result<Outcome> {
        let conf = self.scorer.confidence(s)?;
        self.rules(conf, req)
    }

    /// The decision of one request from its top-k logprobs.
    pub fn decide(&self, response: &TopkResponse<'_>, req: &Request) -> Result<Outcome> {
        self.decide_summary(&response.summary(&self.topk)?, req)
    }

    /// The decision of one choice of a response body (read as `credo.formats.from_openai` reads
    /// it; errors name the JSON path under `response`).
    pub fn decide_body(&self, body: &[u8], choice: usize, req: &Request) -> Result<Outcome> {
        let opts = ReadOptions {
            choice,
            ..ReadOptions::default()
        };
        let lp = formats::read_openai(body, &opts)?;
        self.decide(&lp.response(), req)
    }

    /// The policy's rules on a confidence, in `Policy.decide`'s order (without input risk and
    /// verifiers, which the caller handles).
    pub fn rules(&self, conf: f64, req: &Request) -> Result<Outcome> {
        if !(0.0..=1.0).contains(&conf) {
            return Err(CredoError::invalid(
                "confidence",
                format!("must lie in [0, 1], got {conf}"),
            ));
        }
        let d = self
            .domains
            .get(req.domain)
            .ok_or_else(|| CredoError::invalid("domain", format!("no domain of index {}", req.domain)))?;
        let tier = if d.strict { Tier::Strict } else { Tier::Baseline };
        let out = |rule, action, tier, threshold| Outcome {
            confidence: conf,
            rule,
            action,
            tier,
            threshold,
            coverage_noted: false,
            hundredths: hundredths(conf),
        };
        if d.strict && d.hooked {
            return Ok(out(Rule::Hook, Action::Abstain, tier, d.threshold));
        }
        let fail_action = if d.strict { d.strict_action } else { Action::Abstain };
        if let Some(rep) = req.repetition {
            if rep >= d.repetition_max {
                let action = if req.attempt < d.max_retries {
                    Action::Retry
                } else {
                    fail_action
                };
                return Ok(out(Rule::Repetition, action, tier, d.threshold));
            }
        }
        let mut coverage_noted = false;
        if let Some(cov) = req.coverage {
            if cov < d.min_coverage {
                if req.retrieval_available && req.checks_done & Action::Retrieve.bit() == 0 {
                    return Ok(out(Rule::Coverage, Action::Retrieve, tier, d.threshold));
                }
                if d.strict {
                    return Ok(out(Rule::Coverage, Action::Abstain, tier, d.threshold));
                }
                coverage_noted = true;
            }
        }
        let mut o = self.bands(conf, d, req, tier);
        o.coverage_noted = coverage_noted;
        Ok(o)
    }

    fn bands(&self, conf: f64, d: &DomainRules, req: &Request, tier: Tier) -> Outcome {
        let thr = d.threshold;
        let out = |rule, action, tier| Outcome {
            confidence: conf,
            rule,
            action,
            tier,
            threshold: thr,
            coverage_noted: false,
            hundredths: hundredths(conf),
        };
        if conf >= thr {
            return out(Rule::Clears, Action::Answer, tier);
        }
        if d.gray_low <= conf && conf < d.gray_high {
            let gray_tier = if d.strict { Tier::Strict } else { Tier::GrayZone };
            let next = d
                .gray_checks
                .iter()
                .find(|&&c| req.checks_done & c.bit() == 0 && (c != Action::Retrieve || req.retrieval_available));
            if let Some(&c) = next {
                return out(Rule::GrayCheck, c, gray_tier);
            }
            let last = if d.strict { d.strict_action } else { d.gray_exhausted };
            return out(Rule::GrayExhausted, last, gray_tier);
        }
        let last = if d.strict { d.strict_action } else { d.below };
        out(Rule::Below, last, tier)
    }

    /// Decisions of many bodies (choice 0 of each, the same request fields), in parallel.
    pub fn decide_bodies(&self, bodies: &[&[u8]], req: &Request) -> Vec<Result<Outcome>> {
        crate::parallel::map_range(bodies.len(), 1, |i| {
            self.decide_body(bodies[i], 0, req).map_err(|e| e.at(i))
        })
    }
}

#[cfg(test)]
mod tests;
