//! The ddns daemon: environment → validated configuration → plug-ins from
//! the registry → the core's engine, until a signal.
//!
//! Everything here is wiring. Decisions about records live in `ddns-core`;
//! the daemon only reads the environment, sets up logging, builds the
//! runtime, and maps outcomes to exit codes.
//!
//! # Example
//!
//! ```no_run
//! use ddns_core::config::Env;
//! let code = ddnsd::execute(ddnsd::cli::Command::Check, Env::from_process());
//! std::process::exit(i32::from(code));
//! ```
//!
//! # Guarantees
//!
//! - Exit codes: 0 clean shutdown, 1 configuration error, 2 runtime error.
//! - Every configuration error is printed as `Configuration error: VARIABLE: reason`.
//! - The runtime is single-threaded and idle unless an event or a deadline is due.
//! - Under systemd (`Type=notify`), `READY=1` is sent once the engine runs,
//!   `STOPPING=1` on SIGTERM, and watchdog keep-alives when the unit asks
//!   for them; outside systemd none of that opens a socket or arms a timer.

pub mod cli;
mod daemon;
mod healthcheck;
pub mod logging;
mod observe;
mod status;
mod systemd;

use std::sync::Arc;

use ddns_core::Registry;

pub use daemon::execute;

/// Exit code of a clean shutdown.
pub const EXIT_OK: u8 = 0;
/// Exit code of a configuration error.
pub const EXIT_CONFIG: u8 = 1;
/// Exit code of a runtime error.
pub const EXIT_RUNTIME: u8 = 2;

/// The version printed by `ddnsd --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every plug-in this build knows, by name.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtin_stores();
    registry
        .register_provider(ddns_provider_dryrun::DryRunFactory)
        .register_provider(ddns_provider_rfc2136::Rfc2136Factory)
        .register_provider(ddns_provider_cloudflare::CloudflareFactory)
        .register_source(ddns_ip_netlink::NetlinkSourceFactory)
        .register_source(with_netlink(ddns_ip_http::HttpSourceFactory::http()))
        .register_source(with_netlink(ddns_ip_http::HttpSourceFactory::dns()))
        .register_verifier(ddns_verify::DnsVerifierFactory)
        .register_verifier(ddns_verify::DohVerifierFactory);
    registry
}

/// The `http` and `dns` types with what only netlink knows: the change
/// trigger (on `DDNS_IP_SOURCE_INTERFACE`, or every interface), and the
/// host's stable and temporary IPv6 addresses.
fn with_netlink(factory: ddns_ip_http::HttpSourceFactory) -> ddns_ip_http::HttpSourceFactory {
    factory
        .with_netlink_trigger(|interfaces: &[String]| {
            Arc::new(ddns_ip_netlink::NetlinkTrigger::new().with_interfaces(interfaces.to_vec()))
        })
        .with_local_ipv6(|interfaces: &[String]| {
            let interfaces = interfaces.to_vec();
            Box::pin(async move {
                let found = ddns_ip_netlink::host_ipv6_addresses(&interfaces).await?;
                Ok(ddns_ip_http::LocalIpv6::new(found.stable, found.temporary))
            })
        })
}
