//! Logs go to stderr, warnings only unless `CCBULK_LOG` says `info` or `debug`. Nothing logged carries row data.

use std::io::IsTerminal;

pub fn init() {
    let level = match std::env::var("CCBULK_LOG").unwrap_or_default().to_lowercase().as_str() {
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(level)
        .with_target(false)
        .try_init();
}
