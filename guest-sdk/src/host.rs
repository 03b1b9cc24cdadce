//! Where the SDK's host calls go: the WIT imports on wasm32, the thread-local
//! test host in [`crate::testing`] everywhere else.
//!
//! Keeping the switch in this one module lets `log`, `config` and `counter` be
//! written once, and lets a module's logic run natively under `cargo test`.

use crate::ConfigValue;
use crate::log::Level;

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::ConfigValue;
    use crate::bindings::common::piste::module::host;
    use crate::log::Level;

    pub(crate) fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        host::log(level, message, &fields);
    }

    pub(crate) fn get_config(key: &str) -> Option<ConfigValue> {
        host::get_config(key)
    }

    pub(crate) fn config_keys() -> Vec<String> {
        host::config_keys()
    }

    pub(crate) fn counter_add(name: &str, delta: u64) {
        host::counter_add(name, delta);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(crate) use crate::testing::host::{config_keys, counter_add, get_config, log};
}

pub(crate) fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    imp::log(level, message, fields);
}

pub(crate) fn get_config(key: &str) -> Option<ConfigValue> {
    imp::get_config(key)
}

pub(crate) fn config_keys() -> Vec<String> {
    imp::config_keys()
}

pub(crate) fn counter_add(name: &str, delta: u64) {
    imp::counter_add(name, delta);
}
