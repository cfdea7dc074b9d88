//! The running part: one task that follows the monitor, and sends what
//! the dispatcher queues.

use std::future::Future;
use std::pin::pin;

use ddns_core::health::{HealthEvent, HealthMonitor, HealthSnapshot};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};

use crate::Result;
use crate::config::NotifyConfig;
use crate::dispatch::Dispatcher;
use crate::queue::{CAPACITY, NotifyStats, Queue};
use crate::sender::Sender;

/// Pings and notifications for one [`HealthMonitor`]. Built with
/// [`Notifier::new`], driven by [`Notifier::run`] (or [`spawn`]).
pub struct Notifier {
    dispatcher: Dispatcher,
    sender: Sender,
    events: broadcast::Receiver<HealthEvent>,
    health: watch::Receiver<HealthSnapshot>,
    queue: Queue,
    stats: NotifyStats,
    timeout: std::time::Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Subscribes to `monitor` at once (no event after this call is
    /// missed) and builds the HTTP client. Sends nothing until
    /// [`Notifier::run`].
    pub fn new(config: NotifyConfig, monitor: &HealthMonitor) -> Result<Self> {
        let events = monitor.subscribe();
        let health = monitor.watch();
        let stats = NotifyStats::default();
        let NotifyConfig {
            pings,
            webhooks,
            period,
            timeout,
            ca_file,
            ..
        } = config;
        let sender = Sender::new(
            ca_file.as_ref().map(|ca| ca.pem.as_slice()),
            timeout,
            stats.clone(),
        )?;
        let state = health.borrow().state;
        let dispatcher = Dispatcher::new(pings, webhooks, period, hostname(), state);
        Ok(Self {
            dispatcher,
            sender,
            events,
            health,
            queue: Queue::new(CAPACITY, stats.clone()),
            stats,
            timeout,
        })
    }

    /// The counters, shared with the running notifier.
    pub fn stats(&self) -> NotifyStats {
        self.stats.clone()
    }

    /// Sends the start pings, then follows the monitor's events until
    /// `shutdown` completes or the monitor is dropped. Then the events
    /// already published are handled, and what is queued gets one attempt
    /// each, for at most one timeout (`DDNS_NOTIFY_TIMEOUT_SECS`) in all;
    /// the rest is dropped.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            mut dispatcher,
            sender,
            mut events,
            health,
            queue,
            stats: _,
            timeout,
        } = self;
        dispatcher.start(&queue, Instant::now());
        let mut worker = pin!(sender.work(&queue));
        let follow = async {
            follow(&mut dispatcher, &mut events, &health, &queue, shutdown).await;
            queue.close();
        };
        tokio::select! {
            // The worker ends only once the queue is closed.
            () = &mut worker => {}
            () = follow => {}
        }
        if tokio::time::timeout(timeout, worker).await.is_err() {
            let dropped = queue.discard();
            warn!(
                dropped,
                "stopped before every ping and notification was sent"
            );
        }
        debug!("notifier stopped");
    }
}

/// The event loop: events, the dispatcher's one timer, shutdown.
async fn follow(
    dispatcher: &mut Dispatcher,
    events: &mut broadcast::Receiver<HealthEvent>,
    health: &watch::Receiver<HealthSnapshot>,
    queue: &Queue,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = pin!(shutdown);
    loop {
        let wake = dispatcher.next_wake();
        let timer = async move {
            match wake {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = &mut shutdown => {
                // What happened before the shutdown is still told.
                loop {
                    match events.try_recv() {
                        Ok(event) => dispatcher.on_event(event, queue, Instant::now()),
                        Err(TryRecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    }
                }
            }
            received = events.recv() => match received {
                Ok(event) => dispatcher.on_event(event, queue, Instant::now()),
                Err(RecvError::Lagged(missed)) => {
                    warn!(missed, "fell behind the health events; some notifications are lost");
                    let state = health.borrow().state;
                    dispatcher.resync(state, Instant::now());
                }
                Err(RecvError::Closed) => return,
            },
            () = timer => dispatcher.tick(queue, Instant::now()),
        }
    }
}

/// Builds a [`Notifier`] and runs it on a new task until `shutdown`.
/// Spawn it on the daemon's runtime (current-thread is fine); await the
/// handle after shutdown so that the last requests are sent.
pub fn spawn(
    config: NotifyConfig,
    monitor: &HealthMonitor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>> {
    let notifier = Notifier::new(config, monitor)?;
    Ok(tokio::spawn(notifier.run(shutdown)))
}

/// The machine's name for payloads, if it has one.
fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_string())
        .find(|name| !name.is_empty())
}
