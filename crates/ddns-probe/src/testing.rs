//! Helpers for the unit tests.

pub(crate) use ddns_testkit::Logs;
