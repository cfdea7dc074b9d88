//! The readiness state machine: pure, fed with what happened, answering
//! with the transition (if any) and its reason.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How well the daemon is doing its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// Started; no address detected or no provider answer yet.
    Starting,
    /// An address is detected and the provider answers; confirmations are
    /// being collected.
    Probing,
    /// Every record was confirmed in enough consecutive passes, and nothing
    /// has failed since.
    Ready,
    /// Detection, the provider or the network is failing.
    Degraded,
    /// Something succeeded again after a failure; confirmations are being
    /// collected before Ready.
    Recovering,
}

impl Readiness {
    /// Every state, in the order of the documentation.
    pub const ALL: [Readiness; 5] = [
        Readiness::Starting,
        Readiness::Probing,
        Readiness::Ready,
        Readiness::Degraded,
        Readiness::Recovering,
    ];

    /// The lower-case name used in logs, metrics and the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Starting => "starting",
            Readiness::Probing => "probing",
            Readiness::Ready => "ready",
            Readiness::Degraded => "degraded",
            Readiness::Recovering => "recovering",
        }
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the machine is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A source reported an address.
    AddressDetected,
    /// A family has no trusted address any more (`reason` says which).
    AddressLost(String),
    /// A source failed to detect an address.
    DetectionFailed(String),
    /// The provider answered: a read, a write or a confirmation succeeded.
    ProviderAnswered,
    /// A read or write failed.
    UpdateFailed(String),
    /// A convergence pass ended.
    Pass {
        /// Records holding the current address.
        in_sync: usize,
        /// Records waiting.
        pending: usize,
        /// Records whose last attempt failed.
        failed: usize,
        /// Records the pass confirmed with the provider (read back,
        /// verified in DNS, or written). Only a pass that confirmed every
        /// record counts towards Ready; one that asked the provider about
        /// fewer neither counts nor resets the count.
        confirmed: usize,
    },
    /// A network probe (WAN or gateway) failed.
    NetworkDown(String),
}

/// A change of state and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: Readiness,
    /// The state after.
    pub to: Readiness,
    /// Why, in words.
    pub reason: String,
}

/// The machine.
#[derive(Debug, Clone)]
pub struct Machine {
    state: Readiness,
    needed: u32,
    confirmations: u32,
    address: bool,
    answered: bool,
    records: usize,
}

impl Machine {
    /// A machine for `records` records that needs `confirmations`
    /// consecutive confirming passes (at least 1) to be Ready.
    pub fn new(records: usize, confirmations: u32) -> Self {
        Self {
            state: Readiness::Starting,
            needed: confirmations.max(1),
            confirmations: 0,
            address: false,
            answered: false,
            records,
        }
    }

    /// The current state.
    pub fn state(&self) -> Readiness {
        self.state
    }

    /// Confirming passes counted towards Ready.
    pub fn confirmations(&self) -> u32 {
        self.confirmations
    }

    fn go(&mut self, to: Readiness, reason: impl Into<String>) -> Option<Transition> {
        if self.state == to {
            return None;
        }
        let from = self.state;
        self.state = to;
        Some(Transition {
            from,
            to,
            reason: reason.into(),
        })
    }

    fn fail(&mut self, reason: String) -> Option<Transition> {
        self.confirmations = 0;
        match self.state {
            // Before anything worked there is nothing to degrade from,
            // except once the daemon had its address and provider.
            Readiness::Starting => None,
            _ => self.go(Readiness::Degraded, reason),
        }
    }

    /// Feeds one signal; returns the transition it caused, if any.
    pub fn feed(&mut self, signal: Signal) -> Option<Transition> {
        match signal {
            Signal::AddressDetected => {
                self.address = true;
                self.start_probing()
            }
            Signal::ProviderAnswered => {
                self.answered = true;
                match self.state {
                    Readiness::Degraded => {
                        self.go(Readiness::Recovering, "the provider answers again")
                    }
                    _ => self.start_probing(),
                }
            }
            Signal::AddressLost(reason) => {
                self.address = false;
                self.fail(format!("address lost: {reason}"))
            }
            Signal::DetectionFailed(reason) => self.fail(format!("detection failing: {reason}")),
            Signal::UpdateFailed(reason) => self.fail(format!("provider failing: {reason}")),
            Signal::NetworkDown(reason) => self.fail(format!("network down: {reason}")),
            Signal::Pass {
                in_sync,
                pending,
                failed,
                confirmed,
            } => self.pass(in_sync, pending, failed, confirmed),
        }
    }

    fn start_probing(&mut self) -> Option<Transition> {
        if self.state == Readiness::Starting && self.address && self.answered {
            self.go(
                Readiness::Probing,
                "an address is detected and the provider answers",
            )
        } else {
            None
        }
    }

    fn pass(
        &mut self,
        in_sync: usize,
        pending: usize,
        failed: usize,
        confirmed: usize,
    ) -> Option<Transition> {
        if failed > 0 {
            return self.fail(format!("{failed} record(s) failed"));
        }
        let confirmed =
            self.address && pending == 0 && in_sync == self.records && confirmed == self.records;
        match self.state {
            Readiness::Starting => None,
            Readiness::Ready => None,
            Readiness::Degraded if confirmed => {
                self.confirmations = 1;
                let t = self.go(Readiness::Recovering, "every record is confirmed again");
                t.or_else(|| self.maybe_ready())
            }
            Readiness::Degraded => None,
            Readiness::Probing | Readiness::Recovering if confirmed => {
                self.confirmations += 1;
                self.maybe_ready()
            }
            Readiness::Probing | Readiness::Recovering => None,
        }
    }

    fn maybe_ready(&mut self) -> Option<Transition> {
        if self.confirmations >= self.needed {
            let reason = format!(
                "every record confirmed in {} consecutive pass(es)",
                self.confirmations
            );
            self.go(Readiness::Ready, reason)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(in_sync: usize) -> Signal {
        Signal::Pass {
            in_sync,
            pending: 0,
            failed: 0,
            confirmed: in_sync,
        }
    }

    fn to(t: Option<Transition>) -> Option<Readiness> {
        t.map(|t| t.to)
    }

    #[test]
    fn ready_after_two_confirming_passes() {
        let mut m = Machine::new(2, 2);
        assert_eq!(to(m.feed(Signal::AddressDetected)), None);
        assert_eq!(to(m.feed(pass(2))), None, "no provider answer yet");
        assert_eq!(
            to(m.feed(Signal::ProviderAnswered)),
            Some(Readiness::Probing)
        );
        assert_eq!(to(m.feed(pass(2))), None);
        assert_eq!(m.confirmations(), 1);
        let t = m.feed(pass(2)).expect("ready");
        assert_eq!((t.from, t.to), (Readiness::Probing, Readiness::Ready));
        assert_eq!(t.reason, "every record confirmed in 2 consecutive pass(es)");
        assert_eq!(to(m.feed(pass(2))), None, "stays ready");
    }

    #[test]
    fn a_pass_with_a_record_out_of_line_is_not_a_confirmation() {
        let mut m = Machine::new(2, 2);
        m.feed(Signal::AddressDetected);
        m.feed(Signal::ProviderAnswered);
        m.feed(pass(2));
        m.feed(Signal::Pass {
            in_sync: 1,
            pending: 1,
            failed: 0,
            confirmed: 1,
        });
        assert_eq!(m.state(), Readiness::Probing);
        assert_eq!(
            m.confirmations(),
            1,
            "a pending pass neither counts nor resets"
        );
        assert_eq!(to(m.feed(pass(2))), Some(Readiness::Ready));
    }

    #[test]
    fn a_pass_that_did_not_ask_the_provider_about_every_record_neither_counts_nor_resets() {
        let mut m = Machine::new(2, 2);
        m.feed(Signal::AddressDetected);
        m.feed(Signal::ProviderAnswered);
        m.feed(pass(2));
        for confirmed in [0, 1] {
            assert_eq!(
                to(m.feed(Signal::Pass {
                    in_sync: 2,
                    pending: 0,
                    failed: 0,
                    confirmed,
                })),
                None,
                "in line, but {confirmed} of 2 confirmed in this pass"
            );
            assert_eq!(m.confirmations(), 1);
        }
        assert_eq!(to(m.feed(pass(2))), Some(Readiness::Ready));
    }

    #[test]
    fn failures_degrade_and_recovery_needs_confirmations_again() {
        let mut m = Machine::new(1, 2);
        m.feed(Signal::AddressDetected);
        m.feed(Signal::ProviderAnswered);
        m.feed(pass(1));
        m.feed(pass(1));
        assert_eq!(m.state(), Readiness::Ready);
        let t = m
            .feed(Signal::UpdateFailed("HTTP 500".into()))
            .expect("degraded");
        assert_eq!(t.to, Readiness::Degraded);
        assert_eq!(t.reason, "provider failing: HTTP 500");
        assert_eq!(
            to(m.feed(Signal::UpdateFailed("again".into()))),
            None,
            "logged once"
        );
        assert_eq!(
            to(m.feed(Signal::ProviderAnswered)),
            Some(Readiness::Recovering)
        );
        assert_eq!(to(m.feed(pass(1))), None);
        assert_eq!(to(m.feed(pass(1))), Some(Readiness::Ready));
    }

    #[test]
    fn a_confirming_pass_while_degraded_starts_recovering() {
        let mut m = Machine::new(1, 2);
        m.feed(Signal::AddressDetected);
        m.feed(Signal::ProviderAnswered);
        m.feed(Signal::NetworkDown("gateway unreachable".into()));
        assert_eq!(m.state(), Readiness::Degraded);
        let t = m.feed(pass(1)).expect("recovering");
        assert_eq!(t.to, Readiness::Recovering);
        assert_eq!(to(m.feed(pass(1))), Some(Readiness::Ready));
    }

    #[test]
    fn nothing_degrades_before_the_first_success_and_losses_count() {
        let mut m = Machine::new(1, 1);
        assert_eq!(to(m.feed(Signal::DetectionFailed("split".into()))), None);
        assert_eq!(m.state(), Readiness::Starting);
        m.feed(Signal::AddressDetected);
        m.feed(Signal::ProviderAnswered);
        assert_eq!(
            to(m.feed(pass(1))),
            Some(Readiness::Ready),
            "one confirmation asked"
        );
        let t = m
            .feed(Signal::AddressLost("ipv4".into()))
            .expect("degraded");
        assert_eq!(t.reason, "address lost: ipv4");
        assert_eq!(to(m.feed(pass(1))), None, "no address: not confirmed");
        m.feed(Signal::AddressDetected);
        assert_eq!(to(m.feed(pass(1))), Some(Readiness::Recovering));
    }
}
