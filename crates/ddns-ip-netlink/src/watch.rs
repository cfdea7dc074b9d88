//! The address watch: follows the kernel and turns its messages into
//! [`IpEvent`]s through a [`Tracker`].

use std::collections::VecDeque;
use std::time::Duration;

use ddns_core::{AddressSnapshot, IpEvent, IpFamily, SourceError};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use netlink_packet_route::RouteNetlinkMessage;
use tracing::{debug, info};

use crate::follow::{Follow, Follower};
use crate::kernel::Kernel;
use crate::tracker::Tracker;

/// Follows one kernel and turns its messages into [`IpEvent`]s.
pub(crate) struct Watcher<K: Kernel> {
    follower: Follower<K, Reporter>,
}

/// What the watch makes of the kernel's messages.
struct Reporter {
    tracker: Tracker,
    families: Vec<IpFamily>,
    /// What the consumer was last told, per family.
    reported: AddressSnapshot,
    queue: VecDeque<Result<IpEvent, SourceError>>,
}

impl<K: Kernel> Watcher<K> {
    pub(crate) fn new(kernel: K, tracker: Tracker, families: Vec<IpFamily>) -> Self {
        let reporter = Reporter {
            tracker,
            families,
            reported: AddressSnapshot::default(),
            queue: VecDeque::new(),
        };
        Self {
            follower: Follower::new(kernel, reporter),
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
            if let Some(item) = self.follower.follow_mut().queue.pop_front() {
                return item;
            }
            self.follower.step().await;
        }
    }
}

impl Follow for Reporter {
    fn connected(&mut self, dump: &[RouteNetlinkMessage], attempt: u64) {
        self.tracker.resync(dump);
        if attempt == 1 {
            info!(families = ?self.families, "netlink address watch started");
        } else {
            info!(attempt, "netlink subscription restored");
        }
    }

    fn apply(&mut self, message: &RouteNetlinkMessage, _replacement: bool) {
        self.tracker.apply(message);
    }

    fn resynced(&mut self, dump: &[RouteNetlinkMessage]) {
        self.tracker.resync(dump);
    }

    fn settled(&mut self) {
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

    fn failed(&mut self, error: SourceError, retry_in: Duration) {
        let delay_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
        debug!(error = %error, retry_in_ms = delay_ms, "netlink watch interrupted");
        self.queue.push_back(Err(SourceError::new(format!(
            "{error}; resubscribing in {delay_ms} ms"
        ))));
    }
}

#[cfg(test)]
mod tests;
