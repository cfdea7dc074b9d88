//! The bounded queue between sources and the engine.
//!
//! Sources never wait: when the queue is full, an event replaces the
//! pending overflow event of its family instead of being queued. Every
//! event carries a sequence number, and a drain returns the queue and the
//! overflow slots merged in sequence order; later drains only hold newer
//! events. Applying a drain in order therefore always ends on the last
//! event of each family, however the queue and the overflow interleave.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::source::IpEvent;

/// Counters of the intake, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeStats {
    /// Events received from sources.
    pub received: u64,
    /// Events that replaced an older one because the queue was full.
    pub coalesced: u64,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<(u64, IpEvent)>,
    overflow: [Option<(u64, IpEvent)>; 2],
    next_seq: u64,
    stats: IntakeStats,
    coalesced_unreported: u64,
}

/// What one drain returns: events in arrival order, and how many were
/// coalesced since the last drain.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    pub(crate) events: Vec<(u64, IpEvent)>,
    pub(crate) coalesced: u64,
}

#[derive(Debug)]
pub(crate) struct Intake {
    capacity: usize,
    inner: Mutex<Inner>,
    notify: Notify,
    reconfirm: AtomicBool,
}

impl Intake {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            reconfirm: AtomicBool::new(false),
        }
    }

    /// Adds an event without ever blocking.
    pub(crate) fn push(&self, event: IpEvent) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.stats.received += 1;
        if inner.queue.len() < self.capacity {
            inner.queue.push_back((seq, event));
        } else {
            inner.overflow[event.family().index()] = Some((seq, event));
            inner.stats.coalesced += 1;
            inner.coalesced_unreported += 1;
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Takes everything pending, oldest first.
    pub(crate) fn drain(&self) -> Drained {
        let Ok(mut inner) = self.inner.lock() else {
            return Drained::default();
        };
        let mut events: Vec<(u64, IpEvent)> = inner.queue.drain(..).collect();
        for slot in inner.overflow.iter_mut() {
            if let Some(event) = slot.take() {
                events.push(event);
            }
        }
        events.sort_by_key(|(seq, _)| *seq);
        let coalesced = std::mem::take(&mut inner.coalesced_unreported);
        Drained { events, coalesced }
    }

    /// Asks the engine to confirm every record again (a failure it did
    /// not see is over), and wakes it.
    pub(crate) fn request_reconfirm(&self) {
        self.reconfirm.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Whether a confirmation was asked for since the last call.
    pub(crate) fn take_reconfirm(&self) -> bool {
        self.reconfirm.swap(false, Ordering::SeqCst)
    }

    /// Waits until something was pushed since the last wait.
    pub(crate) async fn wait(&self) {
        self.notify.notified().await;
    }

    pub(crate) fn stats(&self) -> IntakeStats {
        self.inner.lock().map(|i| i.stats).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn v4(last: u8) -> IpEvent {
        IpEvent::Observed(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn overflow_keeps_the_latest_event_per_family() {
        let intake = Intake::new(2);
        for i in 1..=10 {
            intake.push(v4(i));
        }
        intake.push(IpEvent::Observed("2001:db8::1".parse().expect("v6")));
        let drained = intake.drain();
        let events: Vec<IpEvent> = drained.events.iter().map(|(_, e)| *e).collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0], v4(1));
        assert_eq!(events[1], v4(2));
        assert_eq!(events[2], v4(10), "the newest IPv4 event survives");
        assert_eq!(drained.coalesced, 9);
        assert_eq!(
            intake.stats(),
            IntakeStats {
                received: 11,
                coalesced: 9
            }
        );
        assert!(intake.drain().events.is_empty());
    }

    #[test]
    fn sequence_numbers_order_queue_and_overflow() {
        let intake = Intake::new(1);
        intake.push(v4(1));
        intake.push(v4(2)); // overflow
        let first = intake.drain();
        assert_eq!(
            first.events.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
