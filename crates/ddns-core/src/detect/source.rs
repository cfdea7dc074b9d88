//! An address source made of detectors: asks them all at start, on every
//! network change a trigger reports, and at a slow poll interval as a
//! safety net; reports a family's address only when enough agree and it
//! changed.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use futures_util::stream::{self, BoxStream};
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::consensus::{Answer, Verdict, decide};
use super::{Detector, Trigger};
use crate::record::IpFamily;
use crate::source::{AddressSnapshot, IpEvent, IpSource, SourceError};

/// How a [`DetectingSource`] behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DetectionSettings {
    /// The families to detect.
    pub families: Vec<IpFamily>,
    /// How many detectors must give the same address.
    pub quorum: usize,
    /// Detection runs at least this often, whatever the trigger says.
    pub poll_interval: Duration,
    /// How long one detector may take.
    pub timeout: Duration,
    /// After a trigger, wait this long for the burst of changes to end.
    pub debounce: Duration,
    /// Accept private, CGNAT, loopback and documentation answers (tests, labs).
    pub allow_nonglobal: bool,
    /// First pause of a detector that failed; doubles while it keeps failing.
    pub failure_backoff: Duration,
    /// Longest pause of a failing detector.
    pub failure_backoff_max: Duration,
}

impl DetectionSettings {
    /// The defaults for these families: quorum 2, poll every 300 s, 5 s per
    /// detector, 250 ms debounce, failing detectors paused 30 s doubling to 1 h.
    pub fn new(families: Vec<IpFamily>) -> Self {
        Self {
            families,
            quorum: 2,
            poll_interval: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
            debounce: Duration::from_millis(250),
            allow_nonglobal: false,
            failure_backoff: Duration::from_secs(30),
            failure_backoff_max: Duration::from_secs(3600),
        }
    }
}

struct Inner {
    name: String,
    detectors: Vec<Arc<dyn Detector>>,
    trigger: Option<Arc<dyn Trigger>>,
    settings: DetectionSettings,
}

/// An [`IpSource`] over several [`Detector`]s with a quorum.
#[derive(Clone)]
pub struct DetectingSource {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
    warned: bool,
}

/// What a watching stream remembers between rounds.
struct Watch {
    inner: Arc<Inner>,
    trigger: Option<BoxStream<'static, ()>>,
    reported: [Option<IpAddr>; 2],
    backoff: Vec<Backoff>,
    pending: VecDeque<Result<IpEvent, SourceError>>,
    next_round: Instant,
    unresolved: [bool; 2],
}

impl DetectingSource {
    /// A source named `name` (for logs) over `detectors`.
    pub fn new(
        name: impl Into<String>,
        detectors: Vec<Arc<dyn Detector>>,
        trigger: Option<Arc<dyn Trigger>>,
        settings: DetectionSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                detectors,
                trigger,
                settings,
            }),
        }
    }
}

impl Inner {
    fn quorum_for(&self, family: IpFamily) -> usize {
        let available = self.detectors.iter().filter(|d| d.supports(family)).count();
        self.settings.quorum.min(available).max(1)
    }

    /// Asks every usable detector of `family` at once.
    async fn ask(&self, family: IpFamily, backoff: Option<&[Backoff]>) -> Vec<(usize, Answer)> {
        let now = Instant::now();
        let asks = self.detectors.iter().enumerate().filter(|(i, d)| {
            d.supports(family) && backoff.is_none_or(|b| b[*i].until.is_none_or(|t| t <= now))
        });
        let timeout = self.settings.timeout;
        join_all(asks.map(|(index, detector)| async move {
            let result = match tokio::time::timeout(timeout, detector.detect(family)).await {
                Ok(Ok(address)) => Ok(address),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            };
            (
                index,
                Answer {
                    source: detector.name().to_string(),
                    result,
                },
            )
        }))
        .await
    }
}

impl Watch {
    fn new(inner: Arc<Inner>) -> Self {
        let trigger = inner.trigger.as_ref().map(|t| t.changes());
        let backoff = vec![Backoff::default(); inner.detectors.len()];
        Self {
            inner,
            trigger,
            reported: [None, None],
            backoff,
            pending: VecDeque::new(),
            next_round: Instant::now(),
            unresolved: [false, false],
        }
    }

    fn note(&mut self, index: usize, answer: &Answer, family: IpFamily) {
        let settings = &self.inner.settings;
        let backoff = &mut self.backoff[index];
        match &answer.result {
            Ok(address) => {
                debug!(source = %answer.source, family = %family, address = %address, "detector answered");
                if backoff.failures > 0 {
                    info!(source = %answer.source, "detector answers again");
                }
                *backoff = Backoff::default();
            }
            Err(error) => {
                backoff.failures = backoff.failures.saturating_add(1);
                let exponent = (backoff.failures - 1).min(16);
                let pause = settings
                    .failure_backoff
                    .saturating_mul(1 << exponent)
                    .min(settings.failure_backoff_max);
                backoff.until = Some(Instant::now() + pause);
                if backoff.warned {
                    debug!(source = %answer.source, family = %family, error = %error, pause_secs = pause.as_secs(), "detector failed again");
                } else {
                    warn!(source = %answer.source, family = %family, error = %error, pause_secs = pause.as_secs(), "detector failed; asking the others meanwhile");
                    backoff.warned = true;
                }
            }
        }
    }

    /// Lifts every detector's back-off pause, keeping the failure counts
    /// (a detector that fails again is paused again at once).
    fn forgive_failures(&mut self) {
        let paused = self.backoff.iter().filter(|b| b.until.is_some()).count();
        if paused > 0 {
            debug!(source = %self.inner.name, paused, "network changed; asking paused detectors again");
        }
        for backoff in &mut self.backoff {
            backoff.until = None;
        }
    }

    /// One detection round for every family.
    async fn round(&mut self) {
        let inner = self.inner.clone();
        for family in inner.settings.families.clone() {
            let answers = inner.ask(family, Some(&self.backoff)).await;
            for (index, answer) in &answers {
                self.note(*index, answer, family);
            }
            let answers: Vec<Answer> = answers.into_iter().map(|(_, a)| a).collect();
            let verdict = decide(
                family,
                &answers,
                inner.quorum_for(family),
                inner.settings.allow_nonglobal,
            );
            let slot = family.index();
            match verdict {
                Verdict::Agreed { address, votes } => {
                    let recovered = std::mem::take(&mut self.unresolved[slot]);
                    if self.reported[slot] != Some(address) {
                        info!(source = %inner.name, family = %family, address = %address, votes, "public address detected");
                        self.reported[slot] = Some(address);
                        self.pending.push_back(Ok(IpEvent::Observed(address)));
                    } else if recovered {
                        // The same address, but after a failure that went
                        // through the stream: saying it again ends the
                        // failure for the engine.
                        info!(source = %inner.name, family = %family, address = %address, votes, "public address trusted again");
                        self.pending.push_back(Ok(IpEvent::Observed(address)));
                    }
                }
                other => {
                    // No trusted answer: publish nothing, keep the last one.
                    if self.unresolved[slot] {
                        debug!(source = %inner.name, family = %family, verdict = %other, "still no trusted address");
                    } else {
                        // Told once per failure, through the stream: the
                        // engine logs it and tells its observers.
                        self.pending.push_back(Err(SourceError::new(format!(
                            "no trusted address; nothing is published until enough sources agree ({family}: {other})"
                        ))));
                        self.unresolved[slot] = true;
                    }
                }
            }
        }
        self.next_round = Instant::now() + inner.settings.poll_interval;
    }

    /// Waits for the next poll or a trigger, then runs a round.
    async fn next(&mut self) -> Option<Result<IpEvent, SourceError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if Instant::now() < self.next_round {
                let triggered = match self.trigger.as_mut() {
                    Some(trigger) => tokio::select! {
                        () = tokio::time::sleep_until(self.next_round) => Some(false),
                        item = trigger.next() => item.map(|()| true),
                    },
                    None => {
                        tokio::time::sleep_until(self.next_round).await;
                        Some(false)
                    }
                };
                let Some(triggered) = triggered else {
                    // The trigger ended: carry on with the poll alone rather
                    // than spin on a finished stream.
                    warn!(source = %self.inner.name, "the change trigger stopped; detecting at the poll interval only");
                    self.trigger = None;
                    continue;
                };
                if triggered {
                    // The network changed: failures seen before (often
                    // "network unreachable" during the reconnect itself)
                    // say nothing about the services now.
                    self.forgive_failures();
                    tokio::time::sleep(self.inner.settings.debounce).await;
                    // Fold the rest of the burst into this detection.
                    if let Some(trigger) = self.trigger.as_mut() {
                        while let Some(Some(())) = trigger.next().now_or_never() {}
                    }
                    debug!(source = %self.inner.name, "network changed; detecting again");
                }
            }
            self.round().await;
        }
    }
}

#[async_trait]
impl IpSource for DetectingSource {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn current(&self) -> Result<AddressSnapshot, SourceError> {
        let mut snapshot = AddressSnapshot::default();
        let mut problems = Vec::new();
        for family in &self.inner.settings.families {
            let answers: Vec<Answer> = self
                .inner
                .ask(*family, None)
                .await
                .into_iter()
                .map(|(_, a)| a)
                .collect();
            match decide(
                *family,
                &answers,
                self.inner.quorum_for(*family),
                self.inner.settings.allow_nonglobal,
            ) {
                Verdict::Agreed { address, .. } => snapshot.set(*family, Some(address)),
                verdict => problems.push(format!("{family}: {verdict}")),
            }
        }
        if snapshot == AddressSnapshot::default() && !problems.is_empty() {
            return Err(SourceError::new(format!(
                "no trusted address ({})",
                problems.join("; ")
            )));
        }
        for problem in problems {
            warn!(source = %self.inner.name, problem = %problem, "no trusted address for a family");
        }
        Ok(snapshot)
    }

    fn watch(&self) -> BoxStream<'static, Result<IpEvent, SourceError>> {
        let watch = Watch::new(self.inner.clone());
        stream::unfold(watch, |mut watch| async move {
            let item = watch.next().await?;
            Some((item, watch))
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests;
