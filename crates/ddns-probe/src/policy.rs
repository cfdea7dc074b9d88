//! When to probe and when to send the recovery request: a pure machine
//! told the readiness state and each round's verdict, with the time
//! passed in.
//!
//! - Probes run every `interval` while the daemon is degraded or an
//!   outage is in progress (the last round failed), every `every` (if
//!   set) otherwise, and never when neither applies.
//! - An outage begins with a failing round and ends with a succeeding
//!   one; only rounds count, never the readiness state, so a provider
//!   outage alone cannot start one.
//! - The recovery request is due once an outage has lasted `after`, at
//!   most once per `cooldown` (over all outages), at most `max_attempts`
//!   times per outage.

use std::time::Duration;

use tokio::time::Instant;

/// How often to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// While degraded or during an outage.
    pub(crate) interval: Duration,
    /// Otherwise, if at all.
    pub(crate) every: Option<Duration>,
}

/// When the recovery request may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecoveryRules {
    /// How long an outage must have lasted.
    pub(crate) after: Duration,
    /// The least time between two requests, over all outages.
    pub(crate) cooldown: Duration,
    /// Requests per outage.
    pub(crate) max_attempts: u32,
}

/// What a round's verdict means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The network is up, and was.
    Up,
    /// The network is down (an outage began or goes on); nothing to do.
    Down,
    /// Send the recovery request now: attempt `attempt` of this outage,
    /// which has lasted `down_for`.
    Recover {
        /// 1 for the first request of the outage.
        attempt: u32,
        /// Since the first failing round began.
        down_for: Duration,
    },
    /// The outage goes on and its attempts are used up (said once per
    /// outage).
    AttemptsUsedUp {
        /// How many were sent.
        attempts: u32,
    },
    /// The network is up again.
    OutageEnded {
        /// From the first failing round to this one.
        lasted: Duration,
        /// Recovery requests sent during it.
        attempts: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Outage {
    since: Instant,
    attempts: u32,
    used_up_told: bool,
}

/// The machine. See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    schedule: Schedule,
    rules: Option<RecoveryRules>,
    degraded: bool,
    last_round: Option<Instant>,
    outage: Option<Outage>,
    last_request: Option<Instant>,
}

impl Policy {
    pub(crate) fn new(schedule: Schedule, rules: Option<RecoveryRules>) -> Self {
        Self {
            schedule,
            rules,
            degraded: false,
            last_round: None,
            outage: None,
            last_request: None,
        }
    }

    /// The readiness state is (or is no longer) Degraded.
    pub(crate) fn set_degraded(&mut self, degraded: bool) {
        self.degraded = degraded;
    }

    /// Whether an outage is in progress.
    #[cfg(test)]
    pub(crate) fn in_outage(&self) -> bool {
        self.outage.is_some()
    }

    /// When the next round is due (`now` when overdue or never run), or
    /// `None` when nothing is to run.
    pub(crate) fn next_round(&self, now: Instant) -> Option<Instant> {
        let period = if self.degraded || self.outage.is_some() {
            self.schedule.interval
        } else {
            self.schedule.every?
        };
        Some(match self.last_round {
            Some(last) => (last + period).max(now),
            None => now,
        })
    }

    /// A round begins.
    pub(crate) fn round_started(&mut self, at: Instant) {
        self.last_round = Some(at);
    }

    /// A round that began with [`Policy::round_started`] ended at `at`
    /// with every probe succeeding (`up`) or not.
    pub(crate) fn round_finished(&mut self, at: Instant, up: bool) -> Step {
        if up {
            return match self.outage.take() {
                Some(outage) => Step::OutageEnded {
                    lasted: at.saturating_duration_since(outage.since),
                    attempts: outage.attempts,
                },
                None => Step::Up,
            };
        }
        let began = self.last_round.unwrap_or(at);
        let outage = self.outage.get_or_insert(Outage {
            since: began,
            attempts: 0,
            used_up_told: false,
        });
        let Some(rules) = self.rules else {
            return Step::Down;
        };
        let down_for = at.saturating_duration_since(outage.since);
        if down_for < rules.after {
            return Step::Down;
        }
        if outage.attempts >= rules.max_attempts {
            if outage.used_up_told {
                return Step::Down;
            }
            outage.used_up_told = true;
            return Step::AttemptsUsedUp {
                attempts: outage.attempts,
            };
        }
        if let Some(last) = self.last_request
            && at.saturating_duration_since(last) < rules.cooldown
        {
            return Step::Down;
        }
        outage.attempts += 1;
        self.last_request = Some(at);
        Step::Recover {
            attempt: outage.attempts,
            down_for,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SCHEDULE: Schedule = Schedule {
        interval: Duration::from_secs(30),
        every: None,
    };

    const RULES: RecoveryRules = RecoveryRules {
        after: Duration::from_secs(600),
        cooldown: Duration::from_secs(1800),
        max_attempts: 3,
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Runs rounds at `start + t` for each `t` with verdict `up`; returns
    /// the steps that were not `Up`/`Down`, with their time.
    fn rounds(
        policy: &mut Policy,
        start: Instant,
        times: impl IntoIterator<Item = u64>,
        up: bool,
    ) -> Vec<(u64, Step)> {
        let mut out = Vec::new();
        for t in times {
            let at = start + secs(t);
            policy.round_started(at);
            let step = policy.round_finished(at, up);
            if !matches!(step, Step::Up | Step::Down) {
                out.push((t, step));
            }
        }
        out
    }

    #[test]
    fn nothing_runs_while_healthy_without_a_slow_interval() {
        let now = Instant::now();
        let mut policy = Policy::new(SCHEDULE, Some(RULES));
        assert_eq!(policy.next_round(now), None);
        policy.set_degraded(true);
        assert_eq!(policy.next_round(now), Some(now), "at once when degraded");
        policy.round_started(now);
        assert_eq!(policy.round_finished(now, true), Step::Up);
        assert_eq!(policy.next_round(now), Some(now + secs(30)));
        policy.set_degraded(false);
        assert_eq!(policy.next_round(now), None);
    }

    #[test]
    fn the_slow_interval_runs_while_healthy_and_the_fast_one_during_an_outage() {
        let now = Instant::now();
        let mut policy = Policy::new(
            Schedule {
                every: Some(secs(3600)),
                ..SCHEDULE
            },
            None,
        );
        assert_eq!(policy.next_round(now), Some(now), "a first round at start");
        policy.round_started(now);
        assert_eq!(policy.round_finished(now, true), Step::Up);
        assert_eq!(policy.next_round(now), Some(now + secs(3600)));
        let later = now + secs(3600);
        policy.round_started(later);
        assert_eq!(policy.round_finished(later, false), Step::Down);
        assert!(policy.in_outage());
        assert_eq!(
            policy.next_round(later),
            Some(later + secs(30)),
            "an outage is followed closely even when not degraded"
        );
    }

    #[test]
    fn an_overdue_round_is_due_now() {
        let start = Instant::now();
        let mut policy = Policy::new(SCHEDULE, None);
        policy.round_started(start);
        policy.round_finished(start, true);
        policy.set_degraded(true);
        let now = start + secs(100);
        assert_eq!(policy.next_round(now), Some(now));
    }

    #[test]
    fn once_per_cooldown_and_at_most_max_attempts_per_outage() {
        let start = Instant::now();
        let mut policy = Policy::new(SCHEDULE, Some(RULES));
        let steps = rounds(&mut policy, start, (0..=400).map(|n| n * 30), false);
        assert_eq!(
            steps,
            vec![
                (
                    600,
                    Step::Recover {
                        attempt: 1,
                        down_for: secs(600)
                    }
                ),
                (
                    2400,
                    Step::Recover {
                        attempt: 2,
                        down_for: secs(2400)
                    }
                ),
                (
                    4200,
                    Step::Recover {
                        attempt: 3,
                        down_for: secs(4200)
                    }
                ),
                // Said at the next round: no request will come any more.
                (4230, Step::AttemptsUsedUp { attempts: 3 }),
            ]
        );
    }

    #[test]
    fn an_outage_ends_with_a_good_round_which_resets_attempts_not_the_cooldown() {
        let start = Instant::now();
        let mut policy = Policy::new(SCHEDULE, Some(RULES));
        let first = rounds(&mut policy, start, (0..=20).map(|n| n * 30), false);
        assert_eq!(first.len(), 1, "{first:?}");
        let ended = rounds(&mut policy, start, [630], true);
        assert_eq!(
            ended,
            vec![(
                630,
                Step::OutageEnded {
                    lasted: secs(630),
                    attempts: 1
                }
            )]
        );
        assert!(!policy.in_outage());
        // A new outage from 660: due at 1260 by `after`, held back until
        // 2400 by the cooldown of the request at 600.
        let second = rounds(&mut policy, start, (22..=100).map(|n| n * 30), false);
        assert_eq!(
            second[0],
            (
                2400,
                Step::Recover {
                    attempt: 1,
                    down_for: secs(2400 - 660)
                }
            )
        );
    }

    #[test]
    fn without_recovery_rules_an_outage_is_only_followed() {
        let start = Instant::now();
        let mut policy = Policy::new(SCHEDULE, None);
        assert!(rounds(&mut policy, start, (0..=400).map(|n| n * 30), false).is_empty());
    }

    #[test]
    fn the_outage_is_counted_from_the_start_of_its_first_round() {
        let start = Instant::now();
        let mut policy = Policy::new(SCHEDULE, Some(RULES));
        policy.round_started(start);
        // A probe that took its whole timeout.
        assert_eq!(policy.round_finished(start + secs(5), false), Step::Down);
        policy.round_started(start + secs(595));
        assert_eq!(
            policy.round_finished(start + secs(600), false),
            Step::Recover {
                attempt: 1,
                down_for: secs(600)
            }
        );
    }
}
