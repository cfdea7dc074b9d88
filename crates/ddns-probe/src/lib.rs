//! Network probes for ddns: is it my network that is down, or the
//! provider? And, when the network stays down, one HTTP request that may
//! fix it (a smart plug that power-cycles the router, a webhook).
//!
//! Two probes, either or both:
//!
//! - the **WAN probe** (`DDNS_PROBE_WAN=host:port`, such as `1.1.1.1:443`
//!   or `one.one.one.one:443`): a TCP connection and a TLS handshake whose
//!   certificate must be valid for the host (its name, sent as SNI, or its
//!   IP address), within `DDNS_PROBE_TIMEOUT_SECS`;
//! - the **gateway probe** (`DDNS_PROBE_GATEWAY=true`): the kernel's
//!   neighbour entry of each default route's gateway, refreshed when it
//!   says nothing recent (see [`ddns_ip_netlink::default_gateway`]).
//!
//! A failing round marks the daemon Degraded with the reason
//! `network down: …` ([`HealthMonitor::network_down`](ddns_core::health::HealthMonitor::network_down)); a round that
//! succeeds while the daemon is Degraded for another reason logs
//! `network is up: the provider/detection is at fault`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ddns_core::config::Env;
//! use ddns_core::health::HealthMonitor;
//!
//! # async fn demo() -> Result<(), ddns_core::config::ConfigError> {
//! let env = Env::from_pairs([("DDNS_PROBE_WAN", "1.1.1.1:443")]);
//! let monitor = Arc::new(HealthMonitor::new(1, 2));
//! if let Some(config) = ddns_probe::ProbeConfig::from_env(&env)? {
//!     for setting in config.settings() {
//!         println!("{}={}", setting.name, setting.value);
//!     }
//!     // Runs until dropped; select it against the daemon's shutdown.
//!     ddns_probe::run(config, monitor, None).await;
//! }
//! # Ok(()) }
//! ```
//!
//! # When probes run
//!
//! - while the readiness state is Degraded, or an outage is in progress
//!   (the last round failed): every `DDNS_PROBE_INTERVAL_SECS` (30), the
//!   first round at once;
//! - otherwise every `DDNS_PROBE_EVERY_SECS` when set (the first round at
//!   start), and never when it is 0 (the default).
//!
//! The state is followed through [`HealthMonitor::watch`](ddns_core::health::HealthMonitor::watch); nothing polls
//! it. Each probe's result is logged when it changes, not every round.
//!
//! # Recovery request
//!
//! With `DDNS_RECOVERY_URL` (or `DDNS_RECOVERY_URL_FILE`) set, once the
//! probes have failed in every round for `DDNS_RECOVERY_AFTER_SECS` (600),
//! one `DDNS_RECOVERY_METHOD` (POST) request is sent to it; at most one per
//! `DDNS_RECOVERY_COOLDOWN_SECS` (1800), at most
//! `DDNS_RECOVERY_MAX_ATTEMPTS` (3) per outage. An outage ends with a round
//! that succeeds. Each attempt and its answer (status or error) is logged
//! with `scheme://host` only.
//!
//! # Guarantees
//!
//! - Only probe failures count towards the recovery request: a provider
//!   outage, a revoked token or a failing address source never triggers
//!   it, however long the daemon stays Degraded.
//! - Nothing wakes while the daemon is healthy and `DDNS_PROBE_EVERY_SECS`
//!   is 0; with no probe configured [`ProbeConfig::from_env`] answers
//!   `None` and nothing is to run.
//! - The recovery URL's path, query and user information never reach a
//!   log line, an error or a setting line; the request is never
//!   redirected.
//! - Certificates are always verified; there is no switch to turn that
//!   off.
//!
//! # Caveats
//!
//! - A network that is down from the start never makes the daemon
//!   Degraded (nothing worked yet to degrade from): only
//!   `DDNS_PROBE_EVERY_SECS` makes probes run then.
//! - A certificate error counts as a failure: a captive portal or an
//!   intercepting proxy looks like a network outage, and so does a clock
//!   far off.
//! - The gateway probe sees the network namespace ddnsd runs in: in a
//!   container, the container's gateway, not the router's uplink.
//! - A gateway whose entry was stale is counted reachable for that round;
//!   the refresh makes the kernel check it, and the next round sees the
//!   answer.

mod config;
mod error;
mod gateway;
mod policy;
mod recovery;
mod runner;
mod target;
mod wan;

#[cfg(test)]
mod testing;

pub use config::{ProbeConfig, VARIABLES};
pub use error::{Error, Result, WanStep};
pub use gateway::GatewayProbe;
pub use runner::{NetworkUp, run};
pub use target::{DEFAULT_PORT, WanTarget};
pub use wan::WanProbe;
