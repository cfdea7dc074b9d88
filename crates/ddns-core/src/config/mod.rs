//! Configuration from environment variables: reading, validating, and the
//! variables the core itself owns.
//!
//! Validation is pure: it reads the environment (and `NAME_FILE` secret
//! files) and returns typed settings or a [`ConfigError`] that names the
//! variable. Nothing here opens a socket or starts a task.

mod env;
mod interfaces;
mod load;
mod validate;

pub use env::{Env, read_small_file};
pub use interfaces::{interface_names, validate_interface_names};
pub use load::{CORE_VARIABLES, Config, SourceSelection, load};
pub use validate::{is_loopback_host, validate_token, validate_url};

/// A configuration problem: which variable, and what is wrong with it.
///
/// The message never contains a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    variable: String,
    reason: String,
}

impl ConfigError {
    /// A problem with `variable`. A reason longer than
    /// [`MAX_REASON`](Self::MAX_REASON) characters (one quoting a huge
    /// value) is cut there, so that no message echoes a huge value.
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut reason: String = reason.into();
        if let Some((cut, _)) = reason.char_indices().nth(Self::MAX_REASON) {
            reason.truncate(cut);
            reason.push('…');
        }
        Self {
            variable: variable.into(),
            reason,
        }
    }

    /// The longest reason kept, in characters.
    pub const MAX_REASON: usize = 400;

    /// The variable at fault.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Shows at most `max` characters of a user's value in a message.
pub(crate) fn excerpt(value: &str, max: usize) -> String {
    let mut chars = value.chars();
    let shown: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{shown}… ({} bytes)", value.len())
    } else {
        shown
    }
}
