//! What can make a reconcile fail. Every failure is retried with backoff;
//! the status already says what went wrong when one is returned.

/// A failed reconcile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done (`patch status of DNSZone default/example`).
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Delivery to one or more servers, or of the zone file, failed.
    #[error("{0}")]
    Delivery(String),
    /// Cleaning up after a deleted zone failed.
    #[error("cleanup: {0}")]
    Cleanup(String),
    /// The finalizer helper failed.
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Api { .. } => "api",
            Error::Delivery(_) => "delivery",
            Error::Cleanup(_) => "cleanup",
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.reason(),
                _ => "finalizer",
            },
        }
    }

    /// Wraps a client error with what was being done.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Api { action, source }
    }
}
