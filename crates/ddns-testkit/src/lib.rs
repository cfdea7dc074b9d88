//! Helpers shared by the system tests: private network namespaces with a
//! veth pair, the `DDNS_REQUIRE_SYSTEM_TESTS` rule, and a daemon process
//! whose output can be waited on.
//!
//! Only for tests; nothing here is part of ddns.
//!
//! # Example
//!
//! ```no_run
//! let Some(ns) = ddns_testkit::Netns::create("my_test") else { return };
//! ns.ip(&["addr", "add", "192.0.2.1/32", "dev", "v0"]);
//! ```

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

mod daemon;
mod netns;

pub use daemon::{Daemon, Output};
pub use netns::{Netns, require_system_tests, skip_or_fail};
