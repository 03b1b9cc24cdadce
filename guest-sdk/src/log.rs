//! Structured logging through the host.
//!
//! The host tags every record with the module's name, rate-limits and truncates
//! it, so a flood costs the module, not the appliance. Log what an operator
//! needs to act on (a bad config value, an input the module could not use),
//! not every call: use [`crate::counter`] for things that happen per moment.
//!
//! ```
//! piste_guest::log::info("hill record", &[("athlete", "Ryōyū Kobayashi"), ("distance_m", "142.5")]);
//! piste_guest::warn!("ignoring unknown discipline {:?}", "team-sprint");
//! ```

pub use crate::bindings::common::piste::module::host::Level;

/// Writes a record at `level` with `message` and `fields` (key, value pairs).
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    crate::host::log(level, message, fields);
}

/// Writes a `trace` record: fine-grained detail for module authors.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    log(Level::Trace, message, fields);
}

/// Writes a `debug` record: diagnostic detail.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Writes an `info` record: normal operation.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Writes a `warn` record: something unexpected that the module handled.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}

/// Writes an `error` record: something the module could not handle.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields);
}

/// Logs a formatted `trace` record: `trace!("checked {} rules", n)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::trace(&::std::format!($($arg)+), &[]) };
}

/// Logs a formatted `debug` record: `debug!("distance {} m", d)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::debug(&::std::format!($($arg)+), &[]) };
}

/// Logs a formatted `info` record: `info!("loaded {} rules", n)`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::info(&::std::format!($($arg)+), &[]) };
}

/// Logs a formatted `warn` record: `warn!("unknown discipline {:?}", d)`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::warn(&::std::format!($($arg)+), &[]) };
}

/// Logs a formatted `error` record: `error!("cannot caption {}", id)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::error(&::std::format!($($arg)+), &[]) };
}
