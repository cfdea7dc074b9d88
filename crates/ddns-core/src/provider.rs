//! The contract for DNS providers and the errors they report.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::record::Record;

/// What kind of failure a provider met; the engine's retry policy follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// Worth retrying with back-off: network trouble, 5xx, SERVFAIL,
    /// ambiguous answers.
    Transient,
    /// The provider asked us to slow down.
    RateLimited,
    /// No answer in time: the write may still land later, so the record
    /// is read back before it is written again.
    Timeout,
    /// Retrying the same request cannot help: unknown zone, invalid record,
    /// refused update.
    Permanent,
    /// The provider unambiguously rejected the credentials.
    Credentials,
}

/// Whether a failure concerns one record or the whole provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorScope {
    /// Only the record that was being written.
    Record,
    /// Every record: the provider is down, rate-limited or rejecting us.
    Provider,
}

/// A classified provider failure. The message must never hold a secret.
#[derive(Debug, thiserror::Error)]
pub struct ProviderError {
    kind: ProviderErrorKind,
    scope: ErrorScope,
    retry_after: Option<Duration>,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(delay) = self.retry_after {
            write!(f, " (retry after {}s)", delay.as_secs_f64().ceil())?;
        }
        Ok(())
    }
}

impl ProviderError {
    fn new(kind: ProviderErrorKind, scope: ErrorScope, message: impl Into<String>) -> Self {
        Self {
            kind,
            scope,
            retry_after: None,
            message: message.into(),
            source: None,
        }
    }

    /// A transient failure of one record.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Transient, ErrorScope::Record, message)
    }

    /// The provider asks to wait; applies to the whole provider.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let mut error = Self::new(
            ProviderErrorKind::RateLimited,
            ErrorScope::Provider,
            message,
        );
        error.retry_after = retry_after;
        error
    }

    /// A request that got no answer in time.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Timeout, ErrorScope::Record, message)
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ProviderErrorKind::Permanent, ErrorScope::Record, message)
    }

    /// Credentials rejected; applies to the whole provider.
    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(
            ProviderErrorKind::Credentials,
            ErrorScope::Provider,
            message,
        )
    }

    /// Sets the scope.
    pub fn with_scope(mut self, scope: ErrorScope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the delay the provider asked for.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Attaches the underlying error (it must not print a secret).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ProviderErrorKind {
        self.kind
    }

    /// One record or the whole provider.
    pub fn scope(&self) -> ErrorScope {
        self.scope
    }

    /// The delay the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The message, without the retry delay.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Worth retrying: transient, rate-limited or timed out.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::Transient
                | ProviderErrorKind::RateLimited
                | ProviderErrorKind::Timeout
        )
    }

    /// Not worth retrying until something changes.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::Permanent | ProviderErrorKind::Credentials
        )
    }

    /// The credentials were rejected.
    pub fn is_credentials(&self) -> bool {
        self.kind == ProviderErrorKind::Credentials
    }

    /// The outcome of the request is unknown.
    pub fn is_timeout(&self) -> bool {
        self.kind == ProviderErrorKind::Timeout
    }
}

/// One write: make `record` hold exactly `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChange {
    /// The record to write.
    pub record: Record,
    /// The only value it must hold afterwards.
    pub address: IpAddr,
    /// What the engine last saw published, when it knows. Providers that
    /// can make a write conditional (RFC 2136 prerequisites) may use it to
    /// avoid overwriting a change made by someone else since.
    pub expected: Option<Vec<IpAddr>>,
}

impl RecordChange {
    /// An unconditional change.
    pub fn new(record: Record, address: IpAddr) -> Self {
        Self {
            record,
            address,
            expected: None,
        }
    }
}

/// Executes DNS changes for one provider.
///
/// A provider is single-shot: each call does one thing and reports how it
/// went. It never schedules, never retries in a loop and holds no authority
/// over what should be published (caches of IDs and an API-wide back-off
/// are fine). The engine owns every decision.
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// The registry name, such as `rfc2136`.
    fn name(&self) -> &str;

    /// Whether this provider can manage the record (its zone, its type).
    fn supports_record(&self, _record: &Record) -> bool {
        true
    }

    /// Whether DNS answers for this record show what the provider holds.
    /// A proxied record (Cloudflare's orange cloud) answers with the
    /// proxy's addresses, so it must never be checked through DNS.
    fn dns_shows_published(&self, _record: &Record) -> bool {
        true
    }

    /// How many changes one `read_many` or `update_many` call should carry.
    /// 1 (the default) makes the engine call `read` and `update` per record.
    fn max_batch(&self) -> usize {
        1
    }

    /// Checks the credentials before anything else runs. A
    /// [`ProviderErrorKind::Credentials`] error here stops the daemon with a
    /// configuration exit code.
    async fn check_credentials(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The values the record holds now, or `None` when this provider cannot
    /// read its own state.
    async fn read(&self, record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError>;

    /// Makes the record's RRset hold exactly `change.address`, replacing
    /// every other value of that name and type.
    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError>;

    /// Reads several records; the default reads them one by one. Providers
    /// with a list call override this. The result has one entry per record,
    /// in order.
    async fn read_many(
        &self,
        records: &[Record],
    ) -> Vec<Result<Option<Vec<IpAddr>>, ProviderError>> {
        let mut results = Vec::with_capacity(records.len());
        for record in records {
            results.push(self.read(record).await);
        }
        results
    }

    /// Applies several changes; the default applies them one by one in
    /// order, and a failure never stops the others. Providers with a batch
    /// call override this. The result has one entry per change, in order.
    async fn update_many(&self, changes: &[RecordChange]) -> Vec<Result<(), ProviderError>> {
        let mut results = Vec::with_capacity(changes.len());
        for change in changes {
            results.push(self.update(change).await);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_methods_agree_with_kinds() {
        let t = ProviderError::transient("server failure");
        assert!(t.is_transient() && !t.is_permanent() && t.scope() == ErrorScope::Record);
        let r = ProviderError::rate_limited("slow down", Some(Duration::from_secs(30)));
        assert!(r.is_transient() && r.scope() == ErrorScope::Provider);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(r.to_string(), "slow down (retry after 30s)");
        let c = ProviderError::credentials("the server rejected TSIG key k: BADSIG");
        assert!(c.is_permanent() && c.is_credentials() && !c.is_transient());
        let o = ProviderError::timeout("no answer");
        assert!(o.is_timeout() && o.is_transient());
        assert!(ProviderError::permanent("NOTZONE").is_permanent());
    }
}
