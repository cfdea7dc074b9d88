//! Following the kernel through a subscription: subscribe, then dump, then
//! read; subscribe and dump again after an overrun or a failure.
//!
//! The address watch and the change trigger differ only in what they make
//! of the messages, which is their [`Follow`] implementation.

use std::future::Future;
use std::time::Duration;

use ddns_core::SourceError;
use futures_util::{FutureExt, StreamExt};
use netlink_packet_route::RouteNetlinkMessage;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::kernel::{Events, Kernel, Notice};

/// First delay before resubscribing after a failure.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Longest delay between resubscriptions.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(30);
/// Most messages applied before settling, so that a flood still reports.
pub(crate) const MAX_BATCH: usize = 10_000;

/// What a [`Follower`] does with what the kernel says.
pub(crate) trait Follow {
    /// A subscription is open and `dump` is the state read after it;
    /// `attempt` counts the subscriptions that got this far, from 1.
    fn connected(&mut self, dump: &[RouteNetlinkMessage], attempt: u64);

    /// One message of the subscription. `replacement` marks an
    /// `RTM_NEWROUTE` that replaced a route without announcing its removal.
    fn apply(&mut self, message: &RouteNetlinkMessage, replacement: bool);

    /// Messages were lost; `dump` is the state read after the loss.
    fn resynced(&mut self, dump: &[RouteNetlinkMessage]);

    /// Everything immediately available was applied (and any resync done):
    /// the moment to report what the batch changed.
    fn settled(&mut self);

    /// The subscription failed or could not be made; the next attempt
    /// comes after `retry_in`.
    fn failed(&mut self, error: SourceError, retry_in: Duration);
}

/// Follows one kernel for a [`Follow`]; never ends, never waits for its
/// consumer, starts no task.
pub(crate) struct Follower<K: Kernel, F> {
    kernel: K,
    follow: F,
    events: Option<K::Events>,
    /// The subscription's initial dump was read.
    synced: bool,
    retry: Retry,
    connections: u64,
}

impl<K: Kernel, F: Follow> Follower<K, F> {
    pub(crate) fn new(kernel: K, follow: F) -> Self {
        Self {
            kernel,
            follow,
            events: None,
            synced: false,
            retry: Retry::default(),
            connections: 0,
        }
    }

    pub(crate) fn follow_mut(&mut self) -> &mut F {
        &mut self.follow
    }

    /// Subscribes now rather than when first stepped, so that what
    /// happens from now on is in the subscription; the dump waits for the
    /// first step. A failure is handed to the [`Follow`] at once, and the
    /// first step retries after the usual delay.
    pub(crate) fn subscribe_now(&mut self) {
        if self.events.is_some() {
            return;
        }
        match self.kernel.subscribe() {
            Ok(events) => self.events = Some(events),
            Err(error) => self.failed(error),
        }
    }

    /// Waits for the next thing to happen and hands it to the [`Follow`]:
    /// a (re)subscription once the retry delay is over, a batch of
    /// messages, or a failure.
    pub(crate) async fn step(&mut self) {
        let synced = self.synced;
        let Some(events) = self.events.as_mut().filter(|_| synced) else {
            return self.connect().await;
        };
        match events.next().await {
            Some(Notice::Overrun) => self.settle(true).await,
            Some(notice) => {
                self.apply(notice);
                self.settle(false).await;
            }
            None => self.failed(SourceError::new("the netlink subscription socket failed")),
        }
    }

    /// Subscribes (unless [`Follower::subscribe_now`] did), then dumps: a
    /// change between the two shows up in the subscription, so nothing is
    /// missed.
    async fn connect(&mut self) {
        if self.events.is_none() {
            if let Some(at) = self.retry.due.take() {
                tokio::time::sleep_until(at).await;
            }
            match self.kernel.subscribe() {
                Ok(events) => self.events = Some(events),
                Err(error) => return self.failed(error),
            }
        }
        let dump = match self.dump().await {
            Ok(dump) => dump,
            Err(error) => return self.failed(error),
        };
        self.synced = true;
        self.connections += 1;
        self.retry.connected_at = Some(Instant::now());
        self.follow.connected(&dump, self.connections);
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
    /// overrun, then settles once: a burst costs one report.
    async fn settle(&mut self, mut overrun: bool) {
        loop {
            if overrun {
                warn!("netlink receive buffer overrun; messages were lost, resynchronising");
                if let Err(error) = self.resync().await {
                    self.follow.settled();
                    return self.failed(error);
                }
            }
            match self.drain() {
                Drained::Quiet => break,
                Drained::Overrun => overrun = true,
                Drained::Closed => {
                    self.follow.settled();
                    return self.failed(SourceError::new("the netlink subscription socket failed"));
                }
            }
        }
        self.follow.settled();
    }

    /// Replaces the subscription with a new one, then dumps.
    ///
    /// The old socket may still hold messages from before the loss, and
    /// they cannot be told from later ones: applied after the dump, an old
    /// `RTM_NEWADDR` whose removal was lost would bring back an address
    /// that is gone, for good. Nor can they all be read before the dump:
    /// a read may return `Pending` with data waiting (tokio's cooperative
    /// budget ends a task's turn after 128 reads), and a batch ends at
    /// [`MAX_BATCH`]. Dropping the socket drops them; everything the new
    /// one receives happened after it was opened, so applying it on top of
    /// the dump, in order, ends on the kernel's state, as at the start.
    async fn resync(&mut self) -> Result<(), SourceError> {
        self.events = None;
        self.events = Some(self.kernel.subscribe()?);
        let dump = self.dump().await?;
        self.follow.resynced(&dump);
        Ok(())
    }

    /// Applies what is immediately available, at most [`MAX_BATCH`]
    /// messages, stopping at an overrun: what follows one in the socket is
    /// older than what was lost.
    fn drain(&mut self) -> Drained {
        for _ in 0..MAX_BATCH {
            let Some(events) = self.events.as_mut() else {
                return Drained::Closed;
            };
            match events.next().now_or_never() {
                None => return Drained::Quiet,
                Some(None) => return Drained::Closed,
                Some(Some(Notice::Overrun)) => return Drained::Overrun,
                Some(Some(notice)) => self.apply(notice),
            }
        }
        debug!(
            messages = MAX_BATCH,
            "netlink message flood; settling before reading on"
        );
        Drained::Quiet
    }

    /// Applies one link, address or route message.
    fn apply(&mut self, notice: Notice) {
        match notice {
            Notice::Route(message) => self.follow.apply(&message, false),
            Notice::Replacement(message) => self.follow.apply(&message, true),
            // The callers resynchronise instead.
            Notice::Overrun => {}
        }
    }

    /// Drops the subscription and schedules the next one.
    fn failed(&mut self, error: SourceError) {
        self.events = None;
        self.synced = false;
        let delay = self.retry.schedule();
        self.follow.failed(error, delay);
    }
}

/// How a [`Follower::drain`] ended.
enum Drained {
    /// Nothing more could be read now (the socket may still hold messages
    /// that a later read returns), or the batch is full.
    Quiet,
    /// The socket reported lost messages.
    Overrun,
    /// The subscription ended.
    Closed,
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
