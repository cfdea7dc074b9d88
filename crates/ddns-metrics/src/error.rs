//! What can go wrong starting the metrics endpoint.

use std::net::SocketAddr;

/// A failure of the metrics endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address of `DDNS_METRICS_ADDR` could not be bound: another
    /// process holds the port, the address is not one of this host's, or
    /// a port below 1024 needs privileges.
    #[error("cannot listen on {addr} (DDNS_METRICS_ADDR): {source}")]
    BindFailed {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the system refused.
        #[source]
        source: std::io::Error,
    },
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
