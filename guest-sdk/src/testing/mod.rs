//! A native stand-in for the host, so a module's logic runs under `cargo test`.
//!
//! On any target other than wasm32 the SDK's [`crate::log`], [`crate::config`]
//! and [`crate::counter`] calls land here instead of in the WIT imports. The
//! state is thread-local and `cargo test` runs each test on its own thread, so
//! tests do not see each other's configuration, logs or counters.
//!
//! ```
//! use piste_guest::testing::{self, TestHost};
//! use piste_guest::log::Level;
//!
//! TestHost::new().config("min_distance_m", 130.0).install();
//! assert_eq!(piste_guest::config::number("min_distance_m"), Ok(Some(130.0)));
//!
//! piste_guest::info!("tagged {}", 3);
//! piste_guest::counter::add("tags", 3);
//! assert_eq!(testing::logs()[0].level, Level::Info);
//! assert_eq!(testing::logs()[0].message, "tagged 3");
//! assert_eq!(testing::counter("tags"), 3);
//! ```
//!
//! [`samples`] has realistic moments, assets and destinations to start from;
//! `fixtures` (with the crate's `fixtures` feature) runs a directory of
//! `piste module test` fixtures natively. This module does not exist on wasm32.

#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod samples;

pub use samples::{
    aerial, alpine_run, big_air, figure_skating_jump, sample_asset, sample_destinations,
    sample_moment, ski_jump,
};

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::ConfigValue;
use crate::log::Level;

/// The configuration a test gives its module; [`TestHost::install`] makes it current.
#[derive(Debug, Clone, Default)]
pub struct TestHost {
    config: BTreeMap<String, ConfigValue>,
}

impl TestHost {
    /// A host with no configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` (anything that converts into a [`ConfigValue`]:
    /// `bool`, `i64`, `f64`, `&str`, `String`, a list of texts).
    #[must_use]
    pub fn config(mut self, key: &str, value: impl Into<ConfigValue>) -> Self {
        self.config.insert(key.to_owned(), value.into());
        self
    }

    /// Makes this the current thread's host, forgetting earlier logs and counters.
    pub fn install(self) {
        STATE.with(|state| {
            *state.borrow_mut() = State {
                config: self.config,
                ..State::default()
            };
        });
    }
}

/// A log record the module wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its severity.
    pub level: Level,
    /// Its message.
    pub message: String,
    /// Its key, value pairs, in the order given.
    pub fields: Vec<(String, String)>,
}

impl LogRecord {
    /// The value of the field `key`, if the record has one.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every record logged on this thread since the last [`TestHost::install`] or [`reset`].
pub fn logs() -> Vec<LogRecord> {
    STATE.with(|state| state.borrow().logs.clone())
}

/// Like [`logs`], and forgets them.
pub fn take_logs() -> Vec<LogRecord> {
    STATE.with(|state| std::mem::take(&mut state.borrow_mut().logs))
}

/// The value of counter `name` (0 if it was never added to).
pub fn counter(name: &str) -> u64 {
    STATE.with(|state| state.borrow().counters.get(name).copied().unwrap_or(0))
}

/// Every counter added to on this thread.
pub fn counters() -> BTreeMap<String, u64> {
    STATE.with(|state| state.borrow().counters.clone())
}

/// Forgets the configuration, logs and counters of this thread.
pub fn reset() {
    TestHost::new().install();
}

#[derive(Default)]
struct State {
    config: BTreeMap<String, ConfigValue>,
    logs: Vec<LogRecord>,
    counters: BTreeMap<String, u64>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// The host calls of [`crate::host`] when not on wasm32.
pub(crate) mod host {
    use super::{LogRecord, STATE};
    use crate::ConfigValue;
    use crate::log::Level;

    pub(crate) fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        // Printed so `cargo test -- --nocapture` (or a failing test) shows the
        // module's log next to the assertion.
        let rendered: String = fields.iter().map(|(k, v)| format!(" {k}={v:?}")).collect();
        eprintln!("[{level:?}] {message}{rendered}");
        let record = LogRecord {
            level,
            message: message.to_owned(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        STATE.with(|state| state.borrow_mut().logs.push(record));
    }

    pub(crate) fn get_config(key: &str) -> Option<ConfigValue> {
        STATE.with(|state| state.borrow().config.get(key).cloned())
    }

    pub(crate) fn config_keys() -> Vec<String> {
        STATE.with(|state| state.borrow().config.keys().cloned().collect())
    }

    pub(crate) fn counter_add(name: &str, delta: u64) {
        STATE.with(|state| {
            let mut state = state.borrow_mut();
            let counter = state.counters.entry(name.to_owned()).or_insert(0);
            *counter = counter.saturating_add(delta);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_and_counters_are_captured_and_reset() {
        TestHost::new().install();
        crate::log::warn("odd input", &[("moment", "m-1"), ("why", "no athletes")]);
        crate::error!("cannot caption {}", "m-2");
        crate::counter::add("tags", 2);
        crate::counter::increment("tags");
        let logs = logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].level, Level::Warn);
        assert_eq!(logs[0].field("why"), Some("no athletes"));
        assert_eq!(logs[1].level, Level::Error);
        assert_eq!(logs[1].message, "cannot caption m-2");
        assert_eq!(counter("tags"), 3);
        assert_eq!(counter("never"), 0);
        assert_eq!(take_logs().len(), 2);
        assert!(logs_are_empty());
        reset();
        assert_eq!(counters().len(), 0);
    }

    fn logs_are_empty() -> bool {
        super::logs().is_empty()
    }

    #[test]
    fn each_test_thread_has_its_own_host() {
        TestHost::new().config("only_here", true).install();
        let other = std::thread::spawn(|| crate::config::flag("only_here"))
            .join()
            .unwrap();
        assert_eq!(other, Ok(None));
        assert_eq!(crate::config::flag("only_here"), Ok(Some(true)));
    }

    /// The raw WIT imports are wasm-only: wit-bindgen compiles them natively
    /// (which is what lets this crate build and test on the host target), but
    /// their native bodies are `unreachable!()` inside `extern "C"` functions,
    /// so calling one aborts the test process. The SDK's functions never call
    /// them off wasm32; this test only proves they compile and link here.
    #[test]
    fn the_raw_imports_compile_and_link_natively() {
        use crate::bindings::common::piste::module::host;
        let imports: [*const (); 4] = [
            host::log as *const (),
            host::get_config as *const (),
            host::config_keys as *const (),
            host::counter_add as *const (),
        ];
        assert!(imports.iter().all(|f| !f.is_null()));
    }
}
