//! The label sets of the metrics, written out by hand so that each series
//! carries exactly the labels that mean something for it.

use std::fmt;

use ddns_core::{IpFamily, ProviderErrorKind, Record};
use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

/// `record` (the name) and `type` (`A` or `AAAA`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RecordLabels {
    record: String,
    kind: &'static str,
}

impl RecordLabels {
    pub(crate) fn of(record: &Record) -> Self {
        Self {
            record: record.name().as_str().to_string(),
            kind: record.record_type(),
        }
    }
}

impl EncodeLabelSet for RecordLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        [("record", self.record.as_str()), ("type", self.kind)].encode(encoder)
    }
}

/// What became of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UpdateResult {
    /// The record was written.
    Written,
    /// A read or a write failed.
    Failed,
}

impl UpdateResult {
    pub(crate) const ALL: [UpdateResult; 2] = [UpdateResult::Written, UpdateResult::Failed];

    fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Written => "written",
            UpdateResult::Failed => "failed",
        }
    }
}

/// A record and what became of its update.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UpdateLabels {
    pub(crate) record: RecordLabels,
    pub(crate) result: UpdateResult,
}

impl EncodeLabelSet for UpdateLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        [
            ("record", self.record.record.as_str()),
            ("type", self.record.kind),
            ("result", self.result.as_str()),
        ]
        .encode(encoder)
    }
}

/// The outcome class of a provider operation.
pub(crate) const CLASSES: [&str; 6] = [
    "ok",
    "transient",
    "rate_limited",
    "timeout",
    "permanent",
    "credentials",
];

/// The class of a failure, as in [`CLASSES`]; `other` for a kind this
/// crate does not know yet.
pub(crate) fn failure_class(kind: ProviderErrorKind) -> &'static str {
    match kind {
        ProviderErrorKind::Transient => "transient",
        ProviderErrorKind::RateLimited => "rate_limited",
        ProviderErrorKind::Timeout => "timeout",
        ProviderErrorKind::Permanent => "permanent",
        ProviderErrorKind::Credentials => "credentials",
        _ => "other",
    }
}

/// `class`, for the provider results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClassLabels {
    pub(crate) class: &'static str,
}

impl EncodeLabelSet for ClassLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        [("class", self.class)].encode(encoder)
    }
}

/// A detection outcome: an address event has a family but no source; a
/// source failure has a source but no family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum DetectionLabels {
    /// A source reported a new trusted address of this family.
    Changed(IpFamily),
    /// No trusted address of this family any more.
    Lost(IpFamily),
    /// This source failed.
    Failed(String),
}

impl EncodeLabelSet for DetectionLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        match self {
            DetectionLabels::Changed(family) => {
                [("family", family.as_str()), ("result", "changed")].encode(encoder)
            }
            DetectionLabels::Lost(family) => {
                [("family", family.as_str()), ("result", "lost")].encode(encoder)
            }
            DetectionLabels::Failed(source) => {
                [("source", source.as_str()), ("result", "failed")].encode(encoder)
            }
        }
    }
}

/// Where the records stood at the end of the last pass.
pub(crate) const STATUSES: [&str; 3] = ["in_sync", "pending", "failed"];

/// `status`, for the record counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StatusLabels {
    pub(crate) status: &'static str,
}

impl EncodeLabelSet for StatusLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        [("status", self.status)].encode(encoder)
    }
}
