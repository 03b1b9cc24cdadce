//! The module's configuration, as the operator set it.
//!
//! Values are read from the host on each call; read them once in `init` (to
//! refuse a bad configuration at load) and again where they are used, or keep
//! them in a `static` `OnceLock` if reading shows up in a profile.
//!
//! The typed helpers return `Ok(None)` when the key is not set and an error
//! naming the key and the expected type when it is set to something else, so
//! `config::number("min_distance_m")?.unwrap_or(120.0)` is the usual shape.

use crate::{ConfigValue, Error};

/// The raw value of `key`, or `None` when the operator did not set it.
pub fn get(key: &str) -> Option<ConfigValue> {
    crate::host::get_config(key)
}

/// Every key the operator set.
pub fn keys() -> Vec<String> {
    crate::host::config_keys()
}

/// A number: a `number`, or an `integer` converted to `f64`.
pub fn number(key: &str) -> Result<Option<f64>, Error> {
    match get(key) {
        None => Ok(None),
        Some(ConfigValue::Number(value)) => Ok(Some(value)),
        #[allow(clippy::cast_precision_loss, reason = "config integers are small")]
        Some(ConfigValue::Integer(value)) => Ok(Some(value as f64)),
        Some(other) => Err(mismatch(key, "a number", &other)),
    }
}

/// A whole number.
pub fn integer(key: &str) -> Result<Option<i64>, Error> {
    match get(key) {
        None => Ok(None),
        Some(ConfigValue::Integer(value)) => Ok(Some(value)),
        Some(other) => Err(mismatch(key, "an integer", &other)),
    }
}

/// A yes/no switch.
pub fn flag(key: &str) -> Result<Option<bool>, Error> {
    match get(key) {
        None => Ok(None),
        Some(ConfigValue::Flag(value)) => Ok(Some(value)),
        Some(other) => Err(mismatch(key, "a flag (true or false)", &other)),
    }
}

/// A piece of text.
pub fn text(key: &str) -> Result<Option<String>, Error> {
    match get(key) {
        None => Ok(None),
        Some(ConfigValue::Text(value)) => Ok(Some(value)),
        Some(other) => Err(mismatch(key, "a text", &other)),
    }
}

/// A list of texts.
pub fn texts(key: &str) -> Result<Option<Vec<String>>, Error> {
    match get(key) {
        None => Ok(None),
        Some(ConfigValue::Texts(value)) => Ok(Some(value)),
        Some(other) => Err(mismatch(key, "a list of texts", &other)),
    }
}

/// Fails, naming the first unknown key, if the operator set a key not in `known`.
///
/// Call it from `init` so a misspelt key refuses the module at load instead of
/// being silently ignored.
pub fn expect_only(known: &[&str]) -> Result<(), Error> {
    match keys()
        .into_iter()
        .find(|key| !known.contains(&key.as_str()))
    {
        None => Ok(()),
        Some(key) => Err(Error::new(format!(
            "unknown config key `{key}`; this module reads {}",
            if known.is_empty() {
                "no keys".to_owned()
            } else {
                quoted_list(known)
            }
        ))),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mismatch(key: &str, expected: &str, found: &ConfigValue) -> Error {
    Error::new(format!(
        "config key `{key}` must be {expected}, but it is {}",
        describe(found)
    ))
}

fn describe(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Flag(value) => format!("the flag {value}"),
        ConfigValue::Integer(value) => format!("the integer {value}"),
        ConfigValue::Number(value) => format!("the number {value}"),
        ConfigValue::Text(value) => format!("the text {value:?}"),
        ConfigValue::Texts(values) => format!("a list of {} texts", values.len()),
    }
}

impl From<bool> for ConfigValue {
    fn from(value: bool) -> Self {
        ConfigValue::Flag(value)
    }
}

impl From<i64> for ConfigValue {
    fn from(value: i64) -> Self {
        ConfigValue::Integer(value)
    }
}

impl From<f64> for ConfigValue {
    fn from(value: f64) -> Self {
        ConfigValue::Number(value)
    }
}

impl From<&str> for ConfigValue {
    fn from(value: &str) -> Self {
        ConfigValue::Text(value.to_owned())
    }
}

impl From<String> for ConfigValue {
    fn from(value: String) -> Self {
        ConfigValue::Text(value)
    }
}

impl From<Vec<String>> for ConfigValue {
    fn from(values: Vec<String>) -> Self {
        ConfigValue::Texts(values)
    }
}

impl From<&[&str]> for ConfigValue {
    fn from(values: &[&str]) -> Self {
        ConfigValue::Texts(values.iter().map(|v| (*v).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for ConfigValue {
    fn from(values: [&str; N]) -> Self {
        ConfigValue::Texts(values.iter().map(|v| (*v).to_owned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    #[test]
    fn typed_helpers_read_the_test_host() {
        TestHost::new()
            .config("distance", 142.5)
            .config("count", 3_i64)
            .config("strict", true)
            .config("language", "fr")
            .config("nations", ["NOR", "AUT"])
            .install();
        assert_eq!(number("distance"), Ok(Some(142.5)));
        assert_eq!(number("count"), Ok(Some(3.0)), "an integer is a number too");
        assert_eq!(integer("count"), Ok(Some(3)));
        assert_eq!(flag("strict"), Ok(Some(true)));
        assert_eq!(text("language"), Ok(Some("fr".to_owned())));
        assert_eq!(
            texts("nations"),
            Ok(Some(vec!["NOR".to_owned(), "AUT".to_owned()]))
        );
        assert_eq!(number("missing"), Ok(None));
        let mut keys = keys();
        keys.sort();
        assert_eq!(keys, ["count", "distance", "language", "nations", "strict"]);
    }

    #[test]
    fn a_mismatch_names_the_key_and_the_type() {
        TestHost::new()
            .config("distance", "far")
            .config("count", 2.5)
            .install();
        assert_eq!(
            number("distance").unwrap_err().message,
            "config key `distance` must be a number, but it is the text \"far\""
        );
        assert_eq!(
            integer("count").unwrap_err().message,
            "config key `count` must be an integer, but it is the number 2.5"
        );
        assert!(
            flag("distance")
                .unwrap_err()
                .message
                .contains("must be a flag")
        );
    }

    #[test]
    fn expect_only_names_the_unknown_key() {
        TestHost::new()
            .config("min_distance", 1.0)
            .config("min_distnce", 2.0)
            .install();
        assert_eq!(
            expect_only(&["min_distance", "max_air_time"])
                .unwrap_err()
                .message,
            "unknown config key `min_distnce`; this module reads `min_distance`, `max_air_time`"
        );
        assert_eq!(expect_only(&["min_distance", "min_distnce"]), Ok(()));
    }
}
