//! Spectral uncertainty from a pairwise similarity matrix (LM-Polygraph, Lin et al. 2023):
//! W symmetric in [0, 1], degrees d = W·1, L = I − D^{−1/2} W D^{−1/2};
//! EigValLaplacian = Σ_k max(0, 1 − λ_k(L)) (≈ the number of semantic sets, in [0, m]);
//! Degree = 1 − Σ_j d_j / m² (in [0, 1]).

use crate::error::{CredoError, Result};

/// Both spectral measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spectral {
    pub eigval_laplacian: f64,
    pub degree: f64,
}

/// Checks that `w` (m × m, row-major) is finite, within [0, 1] and symmetric (to 1e-9).
pub fn check_similarity(arg: &str, w: &[f64], m: usize) -> Result<()> {
    if w.len() != m * m {
        return Err(CredoError::shape(
            arg,
            format!("expected a {m} x {m} matrix, got {} values", w.len()),
        ));
    }
    for i in 0..m {
        for j in 0..m {
            let x = w[i * m + j];
            if !x.is_finite() {
                return Err(CredoError::non_finite(
                    arg,
                    format!("non-finite value {x} at [{i}, {j}]"),
                ));
            }
            if !(0.0..=1.0).contains(&x) {
                return Err(CredoError::invalid(
                    arg,
                    format!("values must lie in [0, 1], got {x} at [{i}, {j}]"),
                ));
            }
            if j > i && (x - w[j * m + i]).abs() > 1e-9 {
                return Err(CredoError::invalid(
                    arg,
                    format!(
                        "matrix must be symmetric: [{i}, {j}] = {x} but [{j}, {i}] = {}",
                        w[j * m + i]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The spectral measures of a valid similarity matrix (see [`check_similarity`]). A sample with
/// zero degree is an isolated node: its row of D^{−1/2} W D^{−1/2} is zero (λ = 1, adds 0).
#[must_use]
pub fn spectral(w: &[f64], m: usize) -> Spectral {
    if m == 0 {
        return Spectral {
            eigval_laplacian: 0.0,
            degree: 0.0,
        };
    }
    let d: Vec<f64> = (0..m).map(|i| w[i * m..(i + 1) * m].iter().sum()).collect();
    let inv: Vec<f64> = d.iter().map(|&x| if x > 0.0 { 1.0 / x.sqrt() } else { 0.0 }).collect();
    // Σ max(0, 1 − λ(L)) = Σ max(0, μ) over the eigenvalues μ of N = D^{−1/2} W D^{−1/2}.
    let mut a: Vec<f64> = (0..m * m).map(|k| inv[k / m] * w[k] * inv[k % m]).collect();
    let eig = symmetric_eigenvalues(&mut a, m);
    let mf = m as f64;
    Spectral {
        eigval_laplacian: eig.iter().map(|&mu| mu.max(0.0)).sum::<f64>().clamp(0.0, mf),
        degree: (1.0 - d.iter().sum::<f64>() / (mf * mf)).clamp(0.0, 1.0),
    }
}

/// Spectral measures when the similarity is a 0/1 equivalence that is a union of cliques (each
/// cluster fully equivalent inside, nothing across): N has eigenvalue 1 once per cluster and 0
/// elsewhere, so EigValLaplacian = k and Degree = 1 − Σ s_c² / m². No eigen-solve needed.
#[must_use]
pub fn spectral_of_cliques(sizes: &[usize]) -> Spectral {
    let m: usize = sizes.iter().sum();
    if m == 0 {
        return Spectral {
            eigval_laplacian: 0.0,
            degree: 0.0,
        };
    }
    let (mf, k, sq) = (
        m as f64,
        sizes.len() as f64,
        sizes.iter().map(|&s| (s * s) as f64).sum::<f64>(),
    );
    Spectral {
        eigval_laplacian: k,
        degree: (1.0 - sq / (mf * mf)).clamp(0.0, 1.0),
    }
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (overwrites `a`). Accurate to
/// machine precision; O(m³) per sweep, fine for the tens of samples a question has.
fn symmetric_eigenvalues(a: &mut [f64], m: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..m)
            .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * m + j].powi(2))
            .sum();
        let diag: f64 = (0..m).map(|i| a[i * m + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(1e-300) || off < 1e-300 {
            break;
        }
        for p in 0..m {
            for q in p + 1..m {
                let apq = a[p * m + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * m + p], a[q * m + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..m {
                    let (akp, akq) = (a[k * m + p], a[k * m + q]);
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for k in 0..m {
                    let (apk, aqk) = (a[p * m + k], a[q * m + k]);
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..m).map(|i| a[i * m + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let mut a = vec![2.0, 1.0, 1.0, 2.0];
        let mut e = symmetric_eigenvalues(&mut a, 2);
        e.sort_by(f64::total_cmp);
        assert!((e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12);
        // A 3x3 with eigenvalues 0, 1, 3 (trace 4, det 0).
        let mut b = vec![2.0, -1.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let mut e = symmetric_eigenvalues(&mut b, 3);
        e.sort_by(f64::total_cmp);
        let want = [(3.0 - 5f64.sqrt()) / 2.0, 1.0, (3.0 + 5f64.sqrt()) / 2.0];
        for (x, y) in e.iter().zip(want) {
            assert!((x - y).abs() < 1e-12, "{e:?}");
        }
    }

    #[test]
    fn cliques_match_the_eigen_solve() {
        let labels = [0usize, 1, 0, 2, 1, 0];
        let m = labels.len();
        let w: Vec<f64> = (0..m * m)
            .map(|k| f64::from(u8::from(labels[k / m] == labels[k % m])))
            .collect();
        let s = spectral(&w, m);
        let c = spectral_of_cliques(&[3, 2, 1]);
        assert!((s.eigval_laplacian - c.eigval_laplacian).abs() < 1e-10);
        assert!((s.degree - c.degree).abs() < 1e-12);
        assert!((c.eigval_laplacian - 3.0).abs() < 1e-12);
    }

    #[test]
    fn validation() {
        assert!(check_similarity("w", &[1.0, 0.2, 0.3, 1.0], 2).is_err());
        assert!(check_similarity("w", &[1.0, 1.2, 1.2, 1.0], 2).is_err());
        assert!(check_similarity("w", &[1.0, 0.2, 0.2], 2).is_err());
        assert!(check_similarity("w", &[1.0, 0.2, 0.2, 1.0], 2).is_ok());
    }
}
