//! Prometheus metrics and health probes for ddns, over a small HTTP/1
//! endpoint that is off unless `DDNS_METRICS_ADDR` is set.
//!
//! - [`Metrics`] is an [`EngineObserver`](ddns_core::EngineObserver): it
//!   counts what the engine reports (updates, confirmations, provider
//!   results, detections, coalesced events, the circuit breaker) and, at
//!   each scrape, reads readiness and uptime from the
//!   [`HealthMonitor`](ddns_core::health::HealthMonitor).
//! - [`serve`] answers `GET /metrics` (Prometheus text format 0.0.4),
//!   `GET /healthz` (200 `ok` while the process runs) and `GET /readyz`
//!   (200 when Ready, else 503; the body is `state: reason`).
//!
//! # Configuration
//!
//! | Variable | Default | Meaning |
//! | --- | --- | --- |
//! | `DDNS_METRICS_ADDR` | unset: no endpoint, no port | `address:port` to listen on: `127.0.0.1:9851`, `[::1]:9851`, `0.0.0.0:9851`. |
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use ddns_core::config::Env;
//! use ddns_core::health::HealthMonitor;
//! use ddns_metrics::{Metrics, MetricsConfig};
//!
//! # async fn demo(records: Vec<ddns_core::Record>) -> Result<(), Box<dyn std::error::Error>> {
//! let monitor = Arc::new(HealthMonitor::new(records.len(), 2));
//! let metrics = Arc::new(Metrics::new(&records, Arc::clone(&monitor)));
//! // engine.with_observer(monitor.clone()).with_observer(metrics.clone())
//! if let Some(config) = MetricsConfig::from_env(&Env::from_process())? {
//!     let listener = ddns_metrics::bind(&config).await?;
//!     ddns_metrics::serve(listener, metrics, monitor.watch(), std::future::pending()).await;
//! }
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - Nothing listens unless `DDNS_METRICS_ADDR` is set.
//! - Observing an event only bumps atomics (and, the first time a label
//!   set is seen, inserts it under a short lock): the engine never waits
//!   on a scrape for long, nor on the network.
//! - Idle, the server is blocked in `accept` and arms no timer; at most
//!   [`MAX_CONNECTIONS`] connections are served at once, and one that
//!   sends no request head within [`HEADER_READ_TIMEOUT`] is closed.
//! - The text passes `promtool check metrics` (Prometheus 2.42's classic
//!   parser and linter); the tests run it.
//!
//! # Caveats
//!
//! - The endpoint has no authentication and no TLS: bind it to loopback
//!   or a management network, or put a proxy in front.
//! - Series of a record exist from the start; a source's failure series
//!   appears with its first failure, and a record's last-success
//!   timestamp with its first success.
//! - `ddns_uptime_ratio` is absent until the first second was counted.

mod config;
mod error;
mod labels;
mod metrics;
mod scrape;
mod server;

pub use config::{ADDR_VARIABLE, MetricsConfig, VARIABLES};
pub use error::{Error, Result};
pub use metrics::{CONTENT_TYPE, Metrics};
pub use server::{Endpoints, HEADER_READ_TIMEOUT, MAX_CONNECTIONS, bind, serve, serve_endpoints};
