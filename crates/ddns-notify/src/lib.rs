//! Health-check pings and notifications for ddns, driven by the health
//! monitor's events.
//!
//! - **Pings** tell a dead-man's-switch service that the daemon works:
//!   a healthchecks.io-style URL (`DDNS_HEALTHCHECK_URL`: `GET {url}/start`
//!   at start, `GET {url}` on success, `GET {url}/fail` when Degraded) and
//!   an Uptime Kuma push URL (`DDNS_UPTIME_KUMA_URL`:
//!   `GET {url}?status=up|down&msg=…&ping=`). A success ping follows every
//!   converged pass (at most one per 10 s; a burst is folded into one sent
//!   when the 10 s have passed) and, while Ready, a heartbeat after
//!   `DDNS_HEALTHCHECK_PERIOD_SECS` (default 300) without one.
//! - **Notifications** tell a person: an address changed, a record's
//!   update failed, the daemon became Degraded, or it is Ready again after
//!   Degraded or Recovering. `DDNS_NOTIFY_WEBHOOK_URL` takes one URL or a
//!   comma-separated list; each speaks ddns's JSON document or the native
//!   format of ntfy, Gotify, Discord or Slack (`DDNS_NOTIFY_FORMAT`, or
//!   detected from the URL).
//!
//! [`VARIABLES`] lists the variables; [`NotifyConfig::from_env`] validates
//! them.
//!
//! # Example
//!
//! ```no_run
//! use ddns_core::config::Env;
//! use ddns_core::health::HealthMonitor;
//! use ddns_notify::NotifyConfig;
//!
//! # async fn demo(monitor: &HealthMonitor, shutdown: tokio::sync::oneshot::Receiver<()>) -> Result<(), Box<dyn std::error::Error>> {
//! let env = Env::from_process();
//! if let Some(config) = NotifyConfig::from_env(&env)? {
//!     for setting in config.settings() {
//!         println!("{}={}", setting.name, setting.value);
//!     }
//!     let task = ddns_notify::spawn(config, monitor, async {
//!         let _ = shutdown.await;
//!     })?;
//!     // … run the engine with the monitor as an observer, then shut down:
//!     task.await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - Nothing here slows a DNS update: the monitor publishes events on a
//!   broadcast channel and returns; this crate's task turns them into
//!   requests on a bounded queue (64; when full, the oldest is dropped with
//!   a warning), sent one at a time by the same task.
//! - Each request gets `DDNS_NOTIFY_TIMEOUT_SECS` (default 10) per attempt
//!   and at most 3 attempts, 2 s then 8 s apart, retried only on a
//!   connection error, a timeout, 408, 429 or 5xx. Redirects are not
//!   followed. A request given up is logged at warn.
//! - URLs are secrets: read with `_FILE` and systemd-credential support,
//!   and shown (settings, logs, errors, `Debug`) by origin only
//!   (`scheme://host[:port]`).
//! - The only timer is the heartbeat (and the short wait of a folded
//!   success ping), armed only with a ping URL and only while Ready. With
//!   nothing configured, [`NotifyConfig::from_env`] gives `None` and
//!   nothing runs.
//!
//! # Caveats
//!
//! - The first address after start is not a change and is not notified.
//! - A notification is sent per transition, not per failed attempt: the
//!   monitor reports a record's failure once until it succeeds again.
//! - Events missed because the task fell far behind (more than the
//!   monitor's 256-event buffer) are lost; the state is then re-read from
//!   the monitor's snapshot, without a notification.
//! - A comma separates URLs in `DDNS_NOTIFY_WEBHOOK_URL`, so a URL cannot
//!   hold a literal comma (percent-encode it as `%2C`).

mod config;
mod delivery;
mod dispatch;
mod endpoint;
mod message;
mod notifier;
mod ping;
mod queue;
mod sender;
mod time;

pub use config::{
    CA_FILE, DEFAULT_PERIOD, DEFAULT_TIMEOUT, FORMAT, HEALTHCHECK_PERIOD, HEALTHCHECK_URL,
    NotifyConfig, TIMEOUT, UPTIME_KUMA_URL, VARIABLES, WEBHOOK_URL,
};
pub use notifier::{Notifier, spawn};
pub use queue::NotifyStats;

/// Why the notifier cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No TLS configuration could be made from the roots.
    #[error("cannot set up TLS for pings and notifications: {source}")]
    TlsSetupFailed {
        /// What the TLS helper said.
        #[source]
        source: ddns_tls::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for pings and notifications: {reason}")]
    ClientBuildFailed {
        /// What the client said, without any URL.
        reason: String,
    },
}

/// The result of this crate's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
