//! Log settings (`DDNS_LOG_LEVEL`, `DDNS_LOG_FORMAT`, as for `ddnsd`) and
//! the subscriber. Logs go to standard error.

use ddns_core::config::{ConfigError, Env};
use tracing::level_filters::LevelFilter;

/// Validated log settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    level: LevelFilter,
    json: bool,
}

impl LogSettings {
    /// Reads `DDNS_LOG_LEVEL` (trace … error; default info) and
    /// `DDNS_LOG_FORMAT` (text or json; default text).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let level = match env.choice(
            "DDNS_LOG_LEVEL",
            "info",
            &["trace", "debug", "info", "warn", "error"],
        )? {
            "trace" => LevelFilter::TRACE,
            "debug" => LevelFilter::DEBUG,
            "warn" => LevelFilter::WARN,
            "error" => LevelFilter::ERROR,
            _ => LevelFilter::INFO,
        };
        let json = env.choice("DDNS_LOG_FORMAT", "text", &["text", "json"])? == "json";
        Ok(Self { level, json })
    }

    /// Installs the global subscriber (the first call wins).
    pub fn install(&self) {
        let builder = tracing_subscriber::fmt()
            .with_max_level(self.level)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(false);
        let _ = if self.json {
            builder.json().flatten_event(true).try_init()
        } else {
            builder.try_init()
        };
    }
}
