//! Engine semantics on tokio's paused clock, against a scripted provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;
mod health;
mod messages;
mod model;
mod semantics;
mod verify;
