//! Runs a directory of JSON fixtures natively, the way `piste module test` runs
//! them in the sandbox, so `cargo test` checks the same cases.
//!
//! The layout is the one `piste module test --fixtures DIR` reads:
//!
//! - `NAME.input.json`: the call's input. A tagger's is `{"moment": …}`; a
//!   captioner's `{"moment": …, "tags": […], "language": "fr"}`; a
//!   distributor's `{"asset": …, "destinations": […], "now_ms": …}`.
//! - `NAME.expected.json`: the output, as the host writes it (a list of tags, a
//!   caption, a list of decisions), or `{"error": "module-error"}` for a call
//!   that must fail with the module's own error.
//! - `config.toml` (optional): the module's configuration, in a `[config]`
//!   table; a `[limits]` table is the sandbox's business and ignored here.
//!
//! Each fixture gets a fresh test host with that configuration and a call to
//! `init`, then the call. Outputs are compared as JSON values, numbers to
//! within `f32` precision (a relative 1e-6): confidences are `f32`, and an
//! expected `0.9` is the `f32` nearest 0.9, whatever digits the host's `f64`
//! would print for it. Run with `PISTE_BLESS=1` to write the expected files
//! from the current outputs (`f32` values written short, `0.9`), then review
//! the diff.
//!
//! ```no_run
//! # struct MyRules;
//! # impl piste_guest::Tagger for MyRules {
//! #     fn tag(_: piste_guest::Moment) -> Result<Vec<piste_guest::Tag>, piste_guest::Error> { Ok(vec![]) }
//! # }
//! #[test]
//! fn fixtures() {
//!     piste_guest::testing::fixtures::check_tagger::<MyRules>(
//!         concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"),
//!     );
//! }
//! ```

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::testing::TestHost;
use crate::{Captioner, ConfigValue, Distributor, Error, Tagger};

/// Runs the fixtures in `dir` through the tagger `T`; panics listing every
/// fixture whose output differs from the expected one.
pub fn check_tagger<T: Tagger>(dir: impl AsRef<Path>) {
    run(dir.as_ref(), T::init, |input| {
        let moment = field(input, "moment")?;
        output(T::tag(moment))
    });
}

/// Runs the fixtures in `dir` through the captioner `T`; panics listing every
/// fixture whose output differs from the expected one.
pub fn check_captioner<T: Captioner>(dir: impl AsRef<Path>) {
    run(dir.as_ref(), T::init, |input| {
        let moment = field(input, "moment")?;
        let tags = field(input, "tags")?;
        let language = field(input, "language")?;
        output(T::caption(moment, tags, language))
    });
}

/// Runs the fixtures in `dir` through the distributor `T`; panics listing
/// every fixture whose output differs from the expected one.
pub fn check_distributor<T: Distributor>(dir: impl AsRef<Path>) {
    run(dir.as_ref(), T::init, |input| {
        let asset = field(input, "asset")?;
        let destinations = field(input, "destinations")?;
        let now_ms = field(input, "now_ms")?;
        output(T::route(asset, destinations, now_ms))
    });
}

fn field<T: DeserializeOwned>(input: &Value, name: &str) -> Result<T, String> {
    let value = input
        .get(name)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    serde_json::from_value(value.clone()).map_err(|e| format!("field `{name}`: {e}"))
}

/// The JSON the host makes of a call's result.
fn output<T: serde::Serialize>(result: Result<T, Error>) -> Result<Value, String> {
    Ok(match result {
        Ok(value) => serde_json::to_value(value).map_err(|e| e.to_string())?,
        Err(error) => json!({ "error": "module-error", "message": error.message }),
    })
}

fn run(
    dir: &Path,
    init: fn() -> Result<(), Error>,
    call: impl Fn(&Value) -> Result<Value, String>,
) {
    let host = host_for(dir);
    let bless = std::env::var_os("PISTE_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let cases = inputs(dir);
    let mut failures = Vec::new();
    for (name, path) in &cases {
        let input: Value = read_json(path);
        host.clone().install();
        if let Err(error) = init() {
            panic!(
                "init refused the configuration in {}: {error}",
                dir.display()
            );
        }
        let actual = call(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected_path = dir.join(format!("{name}.expected.json"));
        if bless {
            let text = pretty(&short_floats(actual)) + "\n";
            std::fs::write(&expected_path, text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", expected_path.display()));
            continue;
        }
        if !expected_path.is_file() {
            panic!(
                "{} is missing; run with PISTE_BLESS=1 to write it from the current output",
                expected_path.display()
            );
        }
        let expected: Value = read_json(&expected_path);
        // An expected `{"error": KIND}` matches any failure of that kind, whatever its message.
        let pass = match (actual.get("error"), expected.get("error")) {
            (Some(kind), Some(expected_kind)) => kind == expected_kind,
            _ => same(&actual, &expected),
        };
        if !pass {
            failures.push(format!(
                "fixture {name}:\n  expected: {}\n  actual:   {}",
                pretty(&expected).replace('\n', "\n  "),
                pretty(&actual).replace('\n', "\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures in {} failed (PISTE_BLESS=1 rewrites the expected files):\n{}",
        failures.len(),
        cases.len(),
        dir.display(),
        failures.join("\n")
    );
}

/// Equal JSON values, numbers that are not both integers equal to within `f32` precision.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else {
                return false;
            };
            (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

/// `value` with every number that is exactly an `f32` written as that `f32`'s
/// shortest text: `0.9`, not `0.8999999761581421`.
pub fn short_floats(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            #[allow(
                clippy::cast_possible_truncation,
                reason = "the round trip checks it is exact"
            )]
            let single = f as f32;
            match format!("{single}").parse::<f64>() {
                Ok(short) if f64::from(single) == f => json!(short),
                _ => Value::Number(n),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(short_floats).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, short_floats(v))).collect())
        }
        other => other,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values serialize")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", path.display()))
}

/// The fixtures' inputs, by name, sorted.
fn inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixtures in {}: {e}", dir.display()));
    let mut cases: Vec<(String, PathBuf)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".input.json")?
                .to_owned();
            Some((name, path))
        })
        .collect();
    cases.sort();
    assert!(
        !cases.is_empty(),
        "no fixtures (NAME.input.json) in {}",
        dir.display()
    );
    cases
}

/// The test host `config.toml` describes, or an empty one.
fn host_for(dir: &Path) -> TestHost {
    let path = dir.join("config.toml");
    let mut host = TestHost::new();
    if !path.is_file() {
        return host;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: not valid TOML: {e}", path.display()));
    for key in table.keys() {
        assert!(
            key == "config" || key == "limits",
            "{}: unknown table `{key}`; a module configuration has `[config]` and `[limits]`",
            path.display()
        );
    }
    let Some(config) = table.get("config") else {
        return host;
    };
    let config = config
        .as_table()
        .unwrap_or_else(|| panic!("{}: `config` must be a table", path.display()));
    for (key, value) in config {
        let value = config_value(value)
            .unwrap_or_else(|e| panic!("{}: config key `{key}`: {e}", path.display()));
        host = host.config(key, value);
    }
    host
}

/// A TOML value as the host hands it to the module.
fn config_value(value: &toml::Value) -> Result<ConfigValue, String> {
    serde_json::from_value(config_value_json(value)?).map_err(|e| e.to_string())
}

/// A value of a module's `config.toml` in the JSON form of the WIT `config-value`
/// (`{"Number": 141.5}`), which the SDK's and the host's types both deserialize: the
/// one rule for what an operator may write, shared by `piste module test`.
pub fn config_value_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::Boolean(b) => json!({ "Flag": b }),
        toml::Value::Integer(i) => json!({ "Integer": i }),
        toml::Value::Float(f) => json!({ "Number": f }),
        toml::Value::String(s) => json!({ "Text": s }),
        toml::Value::Array(items) => {
            let texts = items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        format!("lists may hold only strings, found {}", item.type_str())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "Texts": texts })
        }
        other => {
            return Err(format!(
                "a {} is not a module config value (use a boolean, integer, float, string or list of strings)",
                other.type_str()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_to_f32_precision() {
        let from_f32 = serde_json::to_value(0.91_f32).unwrap();
        assert!(same(&from_f32, &json!(0.91)));
        assert!(same(
            &json!({"a": [1, 2.5]}),
            &json!({"a": [1, 2.5000000001]})
        ));
        assert!(!same(&json!(0.91), &json!(0.92)));
        assert!(!same(
            &json!(1_771_088_400_000_u64),
            &json!(1_771_088_400_001_u64)
        ));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert_eq!(short_floats(from_f32), json!(0.91));
        assert_eq!(
            short_floats(json!(0.1)),
            json!(0.1),
            "an f64 that is no f32 stays as it is"
        );
    }
}
