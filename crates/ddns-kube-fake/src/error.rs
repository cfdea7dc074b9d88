//! Errors of the test hooks.

/// An error from a [`FakeApi`](crate::FakeApi) test hook.
///
/// Requests through the service never fail this way: they get the API
/// server's `Status` answers instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object given to `insert` lacks `apiVersion`, `kind`, `metadata`
    /// or `metadata.name`.
    #[error("invalid object for the fake API server: {reason}")]
    InvalidObject {
        /// What is missing.
        reason: String,
    },
    /// No registered resource has this `apiVersion` and `kind`.
    #[error("no resource kind {kind} in {api_version} is registered with the fake API server")]
    UnknownKind {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
    /// The object given to `insert` did not serialize to JSON.
    #[error("serializing an object for the fake API server failed")]
    SerializeFailed {
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored object did not deserialize into the requested type.
    #[error("deserializing a stored {resource} object failed")]
    DeserializeFailed {
        /// The plural resource name.
        resource: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// The result of a test hook.
pub type Result<T, E = Error> = std::result::Result<T, E>;
