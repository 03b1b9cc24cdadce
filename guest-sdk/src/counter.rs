//! Named counters, reported with the module's metrics.
//!
//! Counters are cheap: use them for things an operator wants to chart (moments
//! seen, tags given, decisions held by an embargo) instead of logging each one.

/// Adds `delta` to the counter `name` (kebab-case or snake_case, stable across versions).
pub fn add(name: &str, delta: u64) {
    crate::host::counter_add(name, delta);
}

/// Adds one to the counter `name`.
pub fn increment(name: &str) {
    add(name, 1);
}
