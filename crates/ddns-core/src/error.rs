//! The core's error type.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::provider::ProviderError;

/// What can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message names the variable.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The state file could not be read.
    #[error("cannot read the state file {path}: {source}")]
    StateRead {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The state file could not be written.
    #[error("cannot write the state file {path}: {source}")]
    StateWrite {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// Another process holds the state file's lock.
    #[error(
        "the state file {path} is locked by another ddnsd process; stop it first or use another DDNS_STATE_STORE_PATH"
    )]
    StateLocked {
        /// The state file.
        path: PathBuf,
    },

    /// The provider rejected the credentials before any record was written.
    #[error("provider {provider} rejected the credentials: {source}")]
    CredentialsRejected {
        /// The provider's registry name.
        provider: String,
        /// The provider's own description.
        #[source]
        source: ProviderError,
    },

    /// A plug-in could not be built from a valid configuration.
    #[error("cannot start {component}: {message}")]
    Startup {
        /// What failed to start (`provider rfc2136`, `source netlink`).
        component: String,
        /// Why, without secrets.
        message: String,
    },
}

impl Error {
    /// Whether the error means the configuration must be fixed (exit code 1).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Error::Config(_) | Error::CredentialsRejected { .. } | Error::StateLocked { .. }
        )
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
