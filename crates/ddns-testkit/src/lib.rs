//! Helpers shared by the system tests: private network namespaces with a
//! veth pair, the `DDNS_REQUIRE_SYSTEM_TESTS` rule, a daemon process whose
//! output can be waited on, a real BIND9 `named` per test, a throwaway
//! certificate authority, and an HTTP(S) echo service (python3's
//! `http.server`) that answers the client's address.
//!
//! Only for tests; nothing here is part of ddns.
//!
//! # Example
//!
//! ```no_run
//! let Some(ns) = ddns_testkit::Netns::create("my_test") else { return };
//! ns.ip(&["addr", "add", "192.0.2.1/32", "dev", "v0"]);
//! ```
//!
//! ```no_run
//! use ddns_testkit::{Bind, BindOptions};
//!
//! let Some(bind) = Bind::start("my_test", BindOptions::new().record("host IN A 192.0.2.1"))
//! else {
//!     return;
//! };
//! assert_eq!(bind.key("ddns-key").algorithm(), "hmac-sha256");
//! bind.nsupdate(Some("ddns-key"), bind.zone(), &["update add x.example.test 60 A 192.0.2.2"])
//!     .unwrap();
//! assert_eq!(bind.query("x.example.test", "A"), ["192.0.2.2"]);
//! assert_eq!(bind.update_count(), 1);
//! ```
//!
//! ```no_run
//! use ddns_testkit::{HttpEcho, TestCa};
//!
//! let Some(ca) = TestCa::create("my_test") else { return };
//! let certificate = ca.issue(&["127.0.0.1"]);
//! let Some(echo) = HttpEcho::on("127.0.0.1".parse().unwrap()).tls(&certificate).start("my_test")
//! else {
//!     return;
//! };
//! // GET echo.url("/ip") answers "127.0.0.1"; trust ca.ca_file() to ask it.
//! assert_eq!(echo.hits().len(), 0);
//! ```
//!
//! # Caveats
//!
//! - Tests that need root, `ip netns` or BIND skip with a message, or fail
//!   under `DDNS_REQUIRE_SYSTEM_TESTS=1`; `scripts/test.sh` installs the
//!   Debian packages.
//! - Child processes (`named`, `ddnsd`) are killed on drop, which also runs
//!   when a test panics; a test process killed with SIGKILL leaves them
//!   running, and leaves a [`Bind`]'s address 127.0.0.N on `lo`
//!   (`ip addr show label lo:ddnst`).

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

mod bind;
mod corpus;
mod daemon;
mod echo;
mod image;
mod logs;
mod netns;
mod tls;

pub use bind::{Bind, BindOptions, TsigKey};
pub use corpus::{corpus_dir, replay_corpus, write_seeds};
pub use daemon::{Daemon, Output};
pub use echo::FileEcho;
pub use image::{assert_statically_linked, output_of, static_binary};
pub use logs::Logs;
pub use netns::{Netns, require_system_tests, skip_or_fail};
pub use tls::{EchoBuilder, Hit, HttpEcho, ServerCertificate, TestCa};
