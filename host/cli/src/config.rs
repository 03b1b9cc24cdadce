//! Module configuration files: the operator's typed values and the limits of one module.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use piste_guest::testing::fixtures;
use piste_sandbox::Limits;
use piste_sandbox::bindings::ConfigValue;
use serde::Deserialize;

/// A module's configuration file:
///
/// ```toml
/// [config]            # typed values the module reads with `get-config`
/// hill_record_m = 141.0
/// territories = ["IT", "FR"]
///
/// [limits]            # optional; see piste_sandbox::Limits
/// deadline_ms = 20
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleConfig {
    /// The module's own values.
    #[serde(default)]
    pub config: toml::Table,
    /// The bounds it runs under.
    #[serde(default)]
    pub limits: Limits,
}

impl ModuleConfig {
    /// Reads a configuration file; a missing optional file gives the defaults.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{}: not a valid module configuration", path.display()))
    }

    /// The values as the module sees them.
    pub fn values(&self) -> Result<BTreeMap<String, ConfigValue>> {
        self.config
            .iter()
            .map(|(key, value)| Ok((key.clone(), to_config_value(key, value)?)))
            .collect()
    }
}

fn to_config_value(key: &str, value: &toml::Value) -> Result<ConfigValue> {
    let json = fixtures::config_value_json(value)
        .map_err(|e| anyhow::anyhow!("config key `{key}`: {e}"))?;
    serde_json::from_value(json).with_context(|| format!("config key `{key}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BTreeMap<String, ConfigValue>> {
        toml::from_str::<ModuleConfig>(text)?.values()
    }

    #[test]
    fn typed_values_and_limits_are_read() {
        let config: ModuleConfig =
            toml::from_str("[config]\nrecord = 141.5\nrounds = 2\nstrict = true\nname = \"Predazzo\"\nlangs = [\"en\", \"fr\"]\n[limits]\ndeadline_ms = 20\n")
                .unwrap();
        assert_eq!(config.limits.deadline_ms, 20);
        let values = config.values().unwrap();
        assert_eq!(values["record"], ConfigValue::Number(141.5));
        assert_eq!(values["rounds"], ConfigValue::Integer(2));
        assert_eq!(values["strict"], ConfigValue::Flag(true));
        assert_eq!(values["name"], ConfigValue::Text("Predazzo".into()));
        assert_eq!(
            values["langs"],
            ConfigValue::Texts(vec!["en".into(), "fr".into()])
        );
    }

    #[test]
    fn an_unusable_value_names_its_key() {
        let nested = parse("[config]\nthresholds = { quad = 3.75 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            nested.contains("`thresholds`") && nested.contains("table"),
            "{nested}"
        );
        let numbers = parse("[config]\nlangs = [1, 2]\n").unwrap_err().to_string();
        assert!(
            numbers.contains("`langs`") && numbers.contains("only strings"),
            "{numbers}"
        );
        assert!(
            toml::from_str::<ModuleConfig>("[limits]\ndeadline = 5\n").is_err(),
            "unknown limit keys are refused"
        );
    }
}
