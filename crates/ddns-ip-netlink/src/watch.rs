//! The watch state machine: subscribe, dump, follow, resync, reconnect.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use ddns_core::{AddressSnapshot, IpEvent, IpFamily, SourceError};
use futures_util::stream::{self, BoxStream};
use futures_util::{FutureExt, StreamExt};
use netlink_packet_route::RouteNetlinkMessage;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::kernel::{Events, Kernel, Notice};
use crate::tracker::Tracker;

/// First delay before resubscribing after a failure.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Longest delay between resubscriptions.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(30);
/// Most messages applied before choosing, so that a flood still reports.
pub(crate) const MAX_BATCH: usize = 10_000;

/// Follows one kernel and turns its messages into [`IpEvent`]s.
pub(crate) struct Watcher<K: Kernel> {
    kernel: K,
    tracker: Tracker,
    families: Vec<IpFamily>,
    /// What the consumer was last told, per family.
    reported: AddressSnapshot,
    events: Option<K::Events>,
    queue: VecDeque<Result<IpEvent, SourceError>>,
    retry: Retry,
    connections: u64,
}

impl<K: Kernel> Watcher<K> {
    pub(crate) fn new(kernel: K, tracker: Tracker, families: Vec<IpFamily>) -> Self {
        Self {
            kernel,
            tracker,
            families,
            reported: AddressSnapshot::default(),
            events: None,
            queue: VecDeque::new(),
            retry: Retry::default(),
            connections: 0,
        }
    }

    /// The endless stream of events and errors.
    pub(crate) fn into_stream(self) -> BoxStream<'static, Result<IpEvent, SourceError>> {
        stream::unfold(self, |mut watcher| async move {
            let item = watcher.next_item().await;
            Some((item, watcher))
        })
        .boxed()
    }

    async fn next_item(&mut self) -> Result<IpEvent, SourceError> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return item;
            }
            match self.events.as_mut() {
                None => self.connect().await,
                Some(events) => match events.next().await {
                    Some(notice) => {
                        let overrun = self.apply(notice);
                        self.settle(overrun).await;
                    }
                    None => self.failed(SourceError::new("the netlink subscription socket failed")),
                },
            }
        }
    }

    /// Subscribes, then dumps: a change between the two shows up in the
    /// subscription, so nothing is missed.
    async fn connect(&mut self) {
        if let Some(at) = self.retry.due.take() {
            tokio::time::sleep_until(at).await;
        }
        match self.kernel.subscribe() {
            Ok(events) => self.events = Some(events),
            Err(error) => return self.failed(error),
        }
        let dump = match self.dump().await {
            Ok(dump) => dump,
            Err(error) => return self.failed(error),
        };
        self.tracker.resync(&dump);
        self.connections += 1;
        self.retry.connected_at = Some(Instant::now());
        if self.connections == 1 {
            info!(families = ?self.families, "netlink address watch started");
        } else {
            info!(attempt = self.connections, "netlink subscription restored");
        }
        self.settle(false).await;
    }

    /// Dumps while still reading the subscription socket, so that it does
    /// not overflow meanwhile; what it reads is applied after the dump.
    async fn dump(&mut self) -> Result<Vec<RouteNetlinkMessage>, SourceError> {
        let Self { kernel, events, .. } = self;
        let mut dump = std::pin::pin!(kernel.dump());
        std::future::poll_fn(|cx| {
            if let Some(events) = events.as_mut() {
                events.poll_read(cx);
            }
            dump.as_mut().poll(cx)
        })
        .await
    }

    /// Takes every message already waiting, resynchronises after an
    /// overrun, then chooses once: a burst costs one choice.
    ///
    /// The messages the socket held before an overrun come right after it
    /// and are older than what they may have lost, so they are applied
    /// before the resync, never after it.
    async fn settle(&mut self, mut overrun: bool) {
        loop {
            let closed = self.drain(&mut overrun);
            if closed {
                self.report_changes();
                return self.failed(SourceError::new("the netlink subscription socket failed"));
            }
            if !overrun {
                break;
            }
            overrun = false;
            warn!("netlink receive buffer overrun; messages were lost, resynchronising");
            match self.dump().await {
                Ok(dump) => self.tracker.resync(&dump),
                Err(error) => {
                    self.report_changes();
                    return self.failed(error);
                }
            }
        }
        self.report_changes();
    }

    /// Applies what is immediately available (at most [`MAX_BATCH`]
    /// messages); true when the stream ended.
    fn drain(&mut self, overrun: &mut bool) -> bool {
        for _ in 0..MAX_BATCH {
            let Some(events) = self.events.as_mut() else {
                return true;
            };
            match events.next().now_or_never() {
                None => return false,
                Some(None) => return true,
                Some(Some(notice)) => *overrun |= self.apply(notice),
            }
        }
        debug!(
            messages = MAX_BATCH,
            "netlink message flood; choosing before reading on"
        );
        false
    }

    /// Applies one notice; true when it reports lost messages.
    fn apply(&mut self, notice: Notice) -> bool {
        match notice {
            Notice::Route(message) => {
                self.tracker.apply(&message);
                false
            }
            Notice::Overrun => true,
        }
    }

    fn report_changes(&mut self) {
        for family in self.families.clone() {
            let chosen = self.tracker.choose(family);
            if chosen == self.reported.get(family) {
                continue;
            }
            self.reported.set(family, chosen);
            match chosen {
                Some(address) => {
                    info!(family = %family, address = %address, "netlink address chosen");
                    self.queue.push_back(Ok(IpEvent::Observed(address)));
                }
                None => {
                    info!(family = %family, "netlink address lost");
                    self.queue.push_back(Ok(IpEvent::Lost(family)));
                }
            }
        }
    }

    /// Drops the subscription and schedules the next one.
    fn failed(&mut self, error: SourceError) {
        self.events = None;
        let delay = self.retry.schedule();
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        debug!(error = %error, retry_in_ms = delay_ms, "netlink watch interrupted");
        self.queue.push_back(Err(SourceError::new(format!(
            "{error}; resubscribing in {delay_ms} ms"
        ))));
    }
}

/// The resubscription delay: doubles from [`FIRST_RETRY`] to [`MAX_RETRY`],
/// and starts over once a subscription has lasted [`MAX_RETRY`].
#[derive(Debug)]
struct Retry {
    next: Duration,
    due: Option<Instant>,
    connected_at: Option<Instant>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            next: FIRST_RETRY,
            due: None,
            connected_at: None,
        }
    }
}

impl Retry {
    fn schedule(&mut self) -> Duration {
        let now = Instant::now();
        if self
            .connected_at
            .take()
            .is_some_and(|since| now.duration_since(since) >= MAX_RETRY)
        {
            self.next = FIRST_RETRY;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        self.due = Some(now + delay);
        delay
    }
}

#[cfg(test)]
mod tests;
