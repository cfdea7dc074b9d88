//! The bounded queue between the event side and the sender: pushing
//! never waits; when full, the oldest request is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tracing::warn;

use crate::delivery::Delivery;

/// Requests waiting at most; more drop the oldest.
pub(crate) const CAPACITY: usize = 64;

/// Counters of what happened to pings and notifications, for tests,
/// metrics and status pages. Cloning shares the counters.
#[derive(Debug, Clone, Default)]
pub struct NotifyStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    attempts: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl NotifyStats {
    /// Requests waiting in the queue now (the one being sent excluded).
    pub fn queued(&self) -> u64 {
        self.0.queued.load(Ordering::Relaxed)
    }

    /// Attempts that ended (answered, refused or timed out), retries
    /// included.
    pub fn attempts(&self) -> u64 {
        self.0.attempts.load(Ordering::Relaxed)
    }

    /// Requests the receiver accepted (a 2xx answer).
    pub fn delivered(&self) -> u64 {
        self.0.delivered.load(Ordering::Relaxed)
    }

    /// Requests given up after their last attempt.
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }

    /// Requests dropped unsent because the queue was full (or still full
    /// at shutdown).
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn attempted(&self) {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn succeeded(&self) {
        self.0.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn gave_up(&self) {
        self.0.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn lost(&self, count: u64) {
        self.0.dropped.fetch_add(count, Ordering::Relaxed);
    }

    fn set_queued(&self, count: usize) {
        self.0
            .queued
            .store(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// A bounded FIFO of requests with one consumer.
pub(crate) struct Queue {
    items: Mutex<VecDeque<Delivery>>,
    ready: Notify,
    closed: AtomicBool,
    capacity: usize,
    stats: NotifyStats,
}

impl Queue {
    pub(crate) fn new(capacity: usize, stats: NotifyStats) -> Self {
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            capacity: capacity.max(1),
            stats,
        }
    }

    /// Adds a request without waiting; when full, drops the oldest (with
    /// a warning naming it by origin and event).
    pub(crate) fn push(&self, delivery: Delivery) {
        let Ok(mut items) = self.items.lock() else {
            return;
        };
        if items.len() >= self.capacity
            && let Some(oldest) = items.pop_front()
        {
            self.stats.lost(1);
            warn!(
                destination = %oldest.destination,
                kind = oldest.kind,
                event = oldest.event,
                capacity = self.capacity,
                "notification queue full; dropped the oldest request"
            );
        }
        items.push_back(delivery);
        self.stats.set_queued(items.len());
        drop(items);
        self.ready.notify_one();
    }

    /// The next request; `None` once closed and empty.
    pub(crate) async fn pop(&self) -> Option<Delivery> {
        loop {
            if let Ok(mut items) = self.items.lock()
                && let Some(item) = items.pop_front()
            {
                self.stats.set_queued(items.len());
                return Some(item);
            }
            if self.is_closed() {
                return None;
            }
            // A push between the check and here left a permit: no wake-up
            // is lost.
            self.ready.notified().await;
        }
    }

    /// No more pushes will come; `pop` drains what is left, then ends.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Drops what is still queued (at shutdown), counting it as dropped.
    pub(crate) fn discard(&self) -> usize {
        let Ok(mut items) = self.items.lock() else {
            return 0;
        };
        let count = items.len();
        items.clear();
        self.stats.set_queued(0);
        self.stats.lost(u64::try_from(count).unwrap_or(u64::MAX));
        count
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use reqwest::Url;

    use super::*;
    use crate::delivery::Prepared;

    fn delivery(event: &'static str) -> Delivery {
        Delivery {
            destination: "https://x.example".into(),
            kind: "json",
            event,
            request: Prepared::get(Url::parse("https://x.example/").unwrap()),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_close_drains() {
        let stats = NotifyStats::default();
        let queue = Queue::new(2, stats.clone());
        for event in ["a", "b", "c"] {
            queue.push(delivery(event));
        }
        assert_eq!((stats.queued(), stats.dropped()), (2, 1));
        assert_eq!(queue.pop().await.unwrap().event, "b");
        queue.close();
        assert_eq!(queue.pop().await.unwrap().event, "c");
        assert!(queue.pop().await.is_none());
        assert_eq!(stats.queued(), 0);
    }
}
