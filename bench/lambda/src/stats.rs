//! Summaries of repeated measurements: median and spread.

/// Median, 90th percentile (nearest rank), minimum and maximum of some samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

/// The summary of `samples`, or `None` when there are none.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    // Nearest rank: the smallest sample with at least 90% of the samples at or below it.
    let rank = (n * 9).div_ceil(10).max(1);
    Some(Summary {
        median,
        p90: sorted[rank - 1],
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_samples_have_no_summary() {
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn odd_and_even_counts() {
        let odd = summarize(&[3.0, 1.0, 2.0]);
        assert_eq!(odd.map(|s| (s.median, s.min, s.max)), Some((2.0, 1.0, 3.0)));
        let even = summarize(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(even.map(|s| s.median), Some(2.5));
    }

    #[test]
    fn p90_is_a_nearest_rank() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(summarize(&samples).map(|s| s.p90), Some(18.0));
        assert_eq!(summarize(&[7.0]).map(|s| s.p90), Some(7.0));
    }
}
