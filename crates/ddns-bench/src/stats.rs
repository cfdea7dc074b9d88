//! Percentiles of the measured latencies.

use std::time::Duration;

/// Nearest-rank percentiles of a set of samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    sorted: Vec<Duration>,
}

impl Summary {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    /// The smallest sample that at least `p` percent of the samples do not
    /// exceed; zero for no samples.
    pub(crate) fn percentile(&self, p: u32) -> Duration {
        let n = self.sorted.len();
        let rank = (n * p as usize).div_ceil(100).clamp(1, n.max(1));
        self.sorted.get(rank - 1).copied().unwrap_or_default()
    }
}

impl Summary {
    /// The column titles of [`Summary::row`].
    pub(crate) const HEADER: &str =
        "                           count    min    p50    p90    p99    max  (µs)";

    /// One line of the table, under [`Summary::HEADER`].
    pub(crate) fn row(&self, label: &str) -> String {
        let us = |p| self.percentile(p).as_micros();
        format!(
            "{label:<26} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            self.sorted.len(),
            us(0),
            us(50),
            us(90),
            us(99),
            us(100)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let summary = Summary::of((1..=100).rev().map(Duration::from_micros).collect());
        assert_eq!(summary.percentile(0), Duration::from_micros(1));
        assert_eq!(summary.percentile(50), Duration::from_micros(50));
        assert_eq!(summary.percentile(99), Duration::from_micros(99));
        assert_eq!(summary.percentile(100), Duration::from_micros(100));
        let three = Summary::of(vec![
            Duration::from_micros(7),
            Duration::from_micros(3),
            Duration::from_micros(5),
        ]);
        assert_eq!(three.percentile(50), Duration::from_micros(5));
        assert_eq!(Summary::of(Vec::new()).percentile(99), Duration::ZERO);
    }
}
