//! Grouping samples into semantic clusters from a pairwise equivalence test.
//!
//! Labels are numbered 0, 1, … in order of each cluster's first sample under both linkages, so a
//! partition has one canonical labelling.

use crate::error::Result;

/// How equivalent pairs become clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    /// Each sample joins the first existing cluster whose **first member** it is equivalent to,
    /// else opens a new one (Farquhar et al., Kuhn et al., LM-Polygraph). Never chains: every
    /// member is equivalent to its cluster's first member. Depends on sample order when the
    /// equivalence is not transitive. Asks at most n·k pairs (k clusters).
    Greedy,
    /// Connected components of the equivalence graph (LM-Polygraph's `NumSemSets`): independent
    /// of sample order, but chains (a ~ b ~ c puts a and c together). Asks up to n(n−1)/2 pairs.
    Components,
}

crate::choices!(Linkage, "clustering", {
    "greedy" => Linkage::Greedy,
    "components" => Linkage::Components,
});

/// Clusters `n` samples with the equivalence test `eq(i, j)` (always called with i < j, each
/// unordered pair at most once). Errors from `eq` stop the clustering and are returned as they are.
pub fn cluster_by<E>(
    n: usize,
    linkage: Linkage,
    mut eq: impl FnMut(usize, usize) -> Result<bool, E>,
) -> Result<Vec<usize>, E> {
    match linkage {
        Linkage::Greedy => {
            let mut labels = Vec::with_capacity(n);
            let mut firsts: Vec<usize> = Vec::new();
            for j in 0..n {
                let mut label = firsts.len();
                for (c, &first) in firsts.iter().enumerate() {
                    if eq(first, j)? {
                        label = c;
                        break;
                    }
                }
                if label == firsts.len() {
                    firsts.push(j);
                }
                labels.push(label);
            }
            Ok(labels)
        }
        Linkage::Components => {
            let mut parent: Vec<usize> = (0..n).collect();
            for j in 1..n {
                for i in 0..j {
                    // Pairs already joined need no question.
                    let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                    if ri != rj && eq(i, j)? {
                        let (lo, hi) = (ri.min(rj), ri.max(rj));
                        parent[hi] = lo;
                    }
                }
            }
            Ok(relabel(&(0..n).map(|i| find(&mut parent, i)).collect::<Vec<_>>()))
        }
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Renumbers arbitrary cluster ids 0, 1, … in order of first appearance.
#[must_use]
pub fn relabel(ids: &[usize]) -> Vec<usize> {
    let mut seen: Vec<(usize, usize)> = Vec::new();
    ids.iter()
        .map(|&id| match seen.iter().find(|&&(k, _)| k == id) {
            Some(&(_, l)) => l,
            None => {
                let l = seen.len();
                seen.push((id, l));
                l
            }
        })
        .collect()
}

/// Cluster sizes from canonical labels.
#[must_use]
pub fn sizes(labels: &[usize]) -> Vec<usize> {
    let k = labels.iter().max().map_or(0, |&m| m + 1);
    let mut s = vec![0; k];
    for &l in labels {
        s[l] += 1;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[i32], tol: i32, linkage: Linkage) -> Vec<usize> {
        cluster_by::<()>(a.len(), linkage, |i, j| Ok((a[i] - a[j]).abs() <= tol)).unwrap()
    }

    #[test]
    fn greedy_compares_with_first_member() {
        // 0 ~ 1, 1 ~ 2 but 0 !~ 2: greedy keeps 2 apart, components chains it in.
        assert_eq!(close(&[0, 1, 2], 1, Linkage::Greedy), vec![0, 0, 1]);
        assert_eq!(close(&[0, 1, 2], 1, Linkage::Components), vec![0, 0, 0]);
        assert_eq!(close(&[5, 0, 5, 9], 0, Linkage::Greedy), vec![0, 1, 0, 2]);
    }

    #[test]
    fn each_pair_asked_once_with_i_below_j() {
        for linkage in [Linkage::Greedy, Linkage::Components] {
            let mut asked = std::collections::HashSet::new();
            let v = [3, 1, 3, 2, 1, 3];
            cluster_by::<()>(v.len(), linkage, |i, j| {
                assert!(i < j);
                assert!(asked.insert((i, j)), "pair asked twice");
                Ok(v[i] == v[j])
            })
            .unwrap();
        }
    }

    #[test]
    fn errors_propagate() {
        let r = cluster_by(3, Linkage::Greedy, |_, _| Err("boom"));
        assert_eq!(r, Err("boom"));
    }

    #[test]
    fn relabel_and_sizes() {
        assert_eq!(relabel(&[7, 3, 7, 9]), vec![0, 1, 0, 2]);
        assert_eq!(sizes(&[0, 1, 0, 2]), vec![2, 1, 1]);
    }
}
