//! Log settings and the subscriber. Logs go to standard error; command
//! output (`check`, `once`) goes to standard output.

use std::io::IsTerminal;

use ddns_core::config::{ConfigError, Env};
use tracing::level_filters::LevelFilter;

/// `DDNS_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated log settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// `DDNS_LOG_LEVEL`.
    pub level: LevelFilter,
    /// `DDNS_LOG_FORMAT`.
    pub format: LogFormat,
}

impl LogSettings {
    /// Reads `DDNS_LOG_LEVEL` (trace, debug, info, warn, error; default
    /// info) and `DDNS_LOG_FORMAT` (text or json; default text).
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
        let format = match env.choice("DDNS_LOG_FORMAT", "text", &["text", "json"])? {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        };
        Ok(Self { level, format })
    }

    /// Installs the global subscriber. Only the first call has an effect.
    pub fn install(&self) {
        let builder = tracing_subscriber::fmt()
            .with_max_level(self.level)
            .with_writer(std::io::stderr)
            .with_target(false);
        let _ = match self.format {
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .try_init(),
            LogFormat::Text => builder
                .with_ansi(std::io::stderr().is_terminal())
                .try_init(),
        };
    }
}
