//! The module templates behind `piste module new`, embedded in the binary.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use piste_sandbox::World;

/// One template file: its path in the new crate and its text with `{{name}}` and `{{sdk_path}}`.
struct File {
    path: &'static str,
    text: &'static str,
}

macro_rules! template {
    ($world:literal) => {
        &[
            File {
                path: "Cargo.toml",
                text: include_str!(concat!("../templates/", $world, "/Cargo.toml.tmpl")),
            },
            File {
                path: "src/lib.rs",
                text: include_str!(concat!("../templates/", $world, "/src/lib.rs.tmpl")),
            },
            File {
                path: "README.md",
                text: include_str!(concat!("../templates/", $world, "/README.md.tmpl")),
            },
            File {
                path: ".gitignore",
                text: include_str!(concat!("../templates/", $world, "/.gitignore.tmpl")),
            },
            File {
                path: "fixtures/example.input.json",
                text: include_str!(concat!(
                    "../templates/",
                    $world,
                    "/fixtures/example.input.json.tmpl"
                )),
            },
            File {
                path: "fixtures/example.expected.json",
                text: include_str!(concat!(
                    "../templates/",
                    $world,
                    "/fixtures/example.expected.json.tmpl"
                )),
            },
        ]
    };
}

fn files(world: World) -> &'static [File] {
    match world {
        World::Tagger => template!("tagger"),
        World::Captioner => template!("captioner"),
        World::Distributor => template!("distributor"),
    }
}

/// Where the guest SDK is: `--sdk`, then `PISTE_SDK`, then the SDK beside this source tree.
pub fn sdk_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let candidate = explicit
        .or_else(|| std::env::var_os("PISTE_SDK").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-sdk"));
    let path = candidate.canonicalize().with_context(|| {
        format!(
            "the guest SDK is not at {}; pass --sdk PATH or set PISTE_SDK",
            candidate.display()
        )
    })?;
    if !path.join("Cargo.toml").is_file() {
        bail!(
            "{} is not the guest SDK (no Cargo.toml); pass --sdk PATH",
            path.display()
        );
    }
    Ok(path)
}

/// Writes a new module crate for `world` into `dir`, named `name`.
pub fn instantiate(world: World, name: &str, dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>> {
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a valid module name: use lower-case letters, digits and dashes, starting with a letter"
        );
    }
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty; choose another name or directory",
            dir.display()
        );
    }
    let sdk = sdk.to_str().context("the SDK path is not valid UTF-8")?;
    let mut written = Vec::new();
    for file in files(world) {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = file
            .text
            .replace("{{name}}", name)
            .replace("{{sdk_path}}", sdk);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
