//! Module configuration files: the operator's typed values and the limits of one module.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
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
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a valid module configuration", path.display()))
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
    Ok(match value {
        toml::Value::Boolean(b) => ConfigValue::Flag(*b),
        toml::Value::Integer(i) => ConfigValue::Integer(*i),
        toml::Value::Float(f) => ConfigValue::Number(*f),
        toml::Value::String(s) => ConfigValue::Text(s.clone()),
        toml::Value::Array(items) => ConfigValue::Texts(
            items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => bail!("config key `{key}`: lists may hold only strings, found {}", other.type_str()),
                })
                .collect::<Result<_>>()?,
        ),
        other => bail!(
            "config key `{key}`: a {} is not a module config value (use a boolean, integer, float, string or list of strings)",
            other.type_str()
        ),
    })
}
