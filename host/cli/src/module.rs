//! `piste module`: the module developer's tools, from a new crate to a signed, tested,
//! benchmarked component.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use piste_guest::testing::fixtures;
use piste_sandbox::{
    CallStats, Error as SandboxError, Inspection, LoadedModule, ModuleInfo, ModuleSpec,
    PublisherKey, Sandbox, SandboxConfig, TrustStore, World, allowed_import, embed_info,
    signer_count,
};
use serde_json::Value;

use crate::config::ModuleConfig;
use crate::template;

/// Module commands.
#[derive(Subcommand)]
pub enum ModuleCommand {
    /// Create a module crate from a template that builds and tests as it is.
    New {
        /// The module's name (lower-case, dashes), also its directory.
        name: String,
        /// The world it targets.
        #[arg(long)]
        world: World,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The guest SDK to depend on (default: PISTE_SDK or the SDK beside this piste).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a module crate (or every module of a workspace) for wasm32-wasip2 and stamp
    /// each component with its name and version.
    Build {
        /// The crate or workspace directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the components (default: TARGET/piste).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a component with a publisher's secret key.
    Sign {
        /// The component.
        wasm: PathBuf,
        /// The secret key (from `piste keys generate` or `wasmsign2 keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed component (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a component's signature against trusted publisher keys.
    Verify {
        /// The component.
        wasm: PathBuf,
        /// A public key file, an OpenSSH `authorized_keys`-style list, or a directory of *.pub.
        #[arg(long, env = "PISTE_TRUST")]
        trust: PathBuf,
    },
    /// Show a component's world, imports, exports, signatures and size.
    Inspect {
        /// The component.
        wasm: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run fixture inputs through the real sandbox and compare with expected outputs.
    Test {
        /// The signed component.
        wasm: PathBuf,
        /// Directory of NAME.input.json and NAME.expected.json (and an optional config.toml).
        #[arg(long)]
        fixtures: PathBuf,
        #[command(flatten)]
        run: RunArgs,
        /// Write the actual outputs as the expected ones.
        #[arg(long)]
        bless: bool,
    },
    /// Measure loading, instantiation and calls on the fixtures.
    Bench {
        /// The signed component.
        wasm: PathBuf,
        /// Directory of NAME.input.json fixtures.
        #[arg(long)]
        fixtures: PathBuf,
        #[command(flatten)]
        run: RunArgs,
        /// Calls per fixture.
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
}

/// How to load a module for running.
#[derive(Args)]
pub struct RunArgs {
    /// Trusted publisher keys (file or directory).
    #[arg(long, env = "PISTE_TRUST")]
    pub trust: PathBuf,
    /// The module's configuration file (default: FIXTURES/config.toml if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory for precompiled code (default: no cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// Runs a module command.
pub fn run(cmd: ModuleCommand) -> Result<()> {
    match cmd {
        ModuleCommand::New {
            name,
            world,
            dir,
            sdk,
        } => new(&name, world, dir, sdk),
        ModuleCommand::Build { dir, out } => build(&dir, out).map(drop),
        ModuleCommand::Sign { wasm, key, out } => sign(&wasm, &key, out.as_deref()),
        ModuleCommand::Verify { wasm, trust } => verify(&wasm, &trust),
        ModuleCommand::Inspect { wasm, json } => inspect(&wasm, json),
        ModuleCommand::Test {
            wasm,
            fixtures,
            run,
            bless,
        } => test(&wasm, &fixtures, &run, bless),
        ModuleCommand::Bench {
            wasm,
            fixtures,
            run,
            iterations,
        } => bench(&wasm, &fixtures, &run, iterations),
    }
}

fn new(name: &str, world: World, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let sdk = template::sdk_path(sdk)?;
    let files = template::instantiate(world, name, &dir, &sdk)?;
    println!("created {} module `{name}` in {}", world, dir.display());
    for file in files {
        println!("  {}", file.display());
    }
    println!("next:");
    println!(
        "  cd {} && cargo test            # the rules, natively",
        dir.display()
    );
    println!("  piste module build             # the component");
    println!("  piste module sign target/piste/{name}.wasm --key KEY");
    println!("  piste module test target/piste/{name}.wasm --fixtures fixtures --trust PUBKEY");
    Ok(())
}

/// Builds the crate or workspace in `dir` and returns the stamped components.
pub fn build(dir: &Path, out: Option<PathBuf>) -> Result<Vec<PathBuf>> {
    let mut child = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run cargo in {}", dir.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut artifacts = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.context("reading cargo's output")?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(files) = msg["filenames"].as_array() else {
            continue;
        };
        for file in files
            .iter()
            .filter_map(Value::as_str)
            .filter(|f| f.ends_with(".wasm"))
        {
            let id = msg["package_id"].as_str().unwrap_or("");
            artifacts.push((PathBuf::from(file), package_info(id)));
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "cargo build failed in {} (see the errors above)",
            dir.display()
        );
    }
    if artifacts.is_empty() {
        bail!(
            "no component was built in {}: is the crate type `cdylib`?",
            dir.display()
        );
    }
    let mut written = Vec::new();
    for (file, info) in artifacts {
        // TARGET/wasm32-wasip2/release/NAME.wasm -> TARGET/piste
        let out_dir = match &out {
            Some(out) => out.clone(),
            None => file
                .ancestors()
                .nth(3)
                .context("unexpected artifact path")?
                .join("piste"),
        };
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        let wasm =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let target = out_dir.join(format!("{}.wasm", info.name));
        std::fs::write(&target, embed_info(&wasm, &info))
            .with_context(|| format!("cannot write {}", target.display()))?;
        println!(
            "built {}@{}  {}  ({} KiB)",
            info.name,
            info.version,
            target.display(),
            wasm.len() / 1024
        );
        written.push(target);
    }
    Ok(written)
}

/// Name and version from a cargo package id: `path+file:///dir/NAME#VERSION` or
/// `path+file:///dir/x#NAME@VERSION`.
fn package_info(id: &str) -> ModuleInfo {
    let (location, tail) = id.rsplit_once('#').unwrap_or((id, "0.0.0"));
    let (name, version) = match tail.split_once('@') {
        Some((name, version)) => (name.to_string(), version.to_string()),
        None => (
            location.rsplit('/').next().unwrap_or("module").to_string(),
            tail.to_string(),
        ),
    };
    ModuleInfo { name, version }
}

fn sign(wasm: &Path, key: &Path, out: Option<&Path>) -> Result<()> {
    let key = PublisherKey::from_secret_file(key)?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let signed = key.sign(&display_name(wasm), &bytes)?;
    let out = out.unwrap_or(wasm);
    std::fs::write(out, signed).with_context(|| format!("cannot write {}", out.display()))?;
    println!("signed {} with key {}", out.display(), key.fingerprint());
    Ok(())
}

fn verify(wasm: &Path, trust: &Path) -> Result<()> {
    let store = TrustStore::load(trust)?;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let signers = store.verify(&display_name(wasm), &bytes)?;
    println!(
        "{}: signature valid, signed by {}",
        wasm.display(),
        signers.join(", ")
    );
    Ok(())
}

fn inspect(wasm: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let inspection = Inspection::read(&display_name(wasm), &bytes)?;
    let signatures = signer_count(&bytes);
    if json {
        let mut value = serde_json::to_value(&inspection)?;
        value["size_bytes"] = bytes.len().into();
        value["signatures"] = signatures.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let info = inspection.info.as_ref();
    println!(
        "module      {}",
        info.map_or(display_name(wasm), |i| format!("{}@{}", i.name, i.version))
    );
    println!(
        "world       {}",
        inspection
            .world
            .map_or("none (not a piste module)".into(), |w| w.to_string())
    );
    println!(
        "size        {} bytes, {} core modules, {} bytes of code (largest function {} bytes)",
        bytes.len(),
        inspection.core_modules,
        inspection.code_bytes,
        inspection.largest_function_bytes
    );
    println!(
        "signatures  {}",
        if signatures == 0 {
            "none (unsigned)".to_string()
        } else {
            signatures.to_string()
        }
    );
    println!("exports");
    for export in &inspection.exports {
        println!("  {export}");
    }
    println!("imports");
    for import in &inspection.imports {
        match allowed_import(import) {
            Ok(()) => println!("  {import}"),
            Err(what) => println!("  {import}   FORBIDDEN: {what}"),
        }
    }
    Ok(())
}

fn display_name(wasm: &Path) -> String {
    wasm.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("module")
        .replace('_', "-")
}

/// Loads a module for `test` and `bench`: its world from its exports, config from the file.
fn load(
    wasm: &Path,
    fixtures: &Path,
    args: &RunArgs,
    cache: Option<PathBuf>,
) -> Result<(Arc<Sandbox>, Arc<LoadedModule>)> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let world = Inspection::read(&display_name(wasm), &bytes)?
        .world
        .with_context(|| format!("{} exports no piste world", wasm.display()))?;
    let config_path = args
        .config
        .clone()
        .or_else(|| Some(fixtures.join("config.toml")).filter(|p| p.is_file()));
    let config = match &config_path {
        Some(path) => ModuleConfig::read(path)?,
        None => ModuleConfig::default(),
    };
    let trust = TrustStore::load(&args.trust)?;
    let sandbox = Sandbox::new(
        SandboxConfig {
            cache_dir: cache,
            ..SandboxConfig::default()
        },
        trust,
    )?;
    let spec = ModuleSpec::new(wasm, world)
        .with_config(config.values()?)
        .with_limits(config.limits);
    let module = sandbox.load(spec)?;
    Ok((sandbox, module))
}

/// The fixtures in a directory, by name, sorted.
fn fixture_inputs(dir: &Path) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot read fixtures in {}", dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".input.json"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        out.push((name.to_string(), value));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        bail!("no fixtures (NAME.input.json) in {}", dir.display());
    }
    Ok(out)
}

fn test(wasm: &Path, dir: &Path, args: &RunArgs, bless: bool) -> Result<()> {
    let (_sandbox, module) = load(wasm, dir, args, args.cache.clone())?;
    let info = module.info();
    println!(
        "testing {}@{} ({}) in the sandbox",
        info.name,
        info.version,
        module.world()
    );
    let mut failed = 0;
    let cases = fixture_inputs(dir)?;
    for (name, input) in &cases {
        let expected_path = dir.join(format!("{name}.expected.json"));
        let outcome = match module.call_json(input) {
            Ok((value, stats)) => Ok((value, stats)),
            Err(SandboxError::Call(e)) => {
                Err(serde_json::json!({ "error": e.kind.as_str(), "message": e.message }))
            }
            Err(e) => return Err(e).with_context(|| format!("fixture {name}")),
        };
        let actual = match &outcome {
            Ok((value, _)) => value.clone(),
            Err(error) => error.clone(),
        };
        if bless {
            let short = fixtures::short_floats(actual.clone());
            std::fs::write(&expected_path, serde_json::to_string_pretty(&short)? + "\n")?;
            println!("  blessed {name}");
            continue;
        }
        let expected: Value = match std::fs::read_to_string(&expected_path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{}: not valid JSON", expected_path.display()))?,
            Err(_) => bail!(
                "{} is missing; run with --bless to write it from the current output",
                expected_path.display()
            ),
        };
        // An expected `{"error": KIND}` matches any failure of that kind, whatever its message.
        let pass = match (&outcome, expected.get("error")) {
            (Err(error), Some(kind)) => error["error"] == *kind,
            _ => fixtures::same(&actual, &expected),
        };
        let stats = outcome.as_ref().ok().map(|(_, s)| *s);
        println!(
            "  {} {name:<28}{}",
            if pass { "PASS" } else { "FAIL" },
            stats.map(format_stats).unwrap_or_default()
        );
        if !pass {
            failed += 1;
            println!(
                "    expected: {}",
                serde_json::to_string_pretty(&expected)?.replace('\n', "\n    ")
            );
            println!(
                "    actual:   {}",
                serde_json::to_string_pretty(&actual)?.replace('\n', "\n    ")
            );
        }
    }
    print!("{}", module.metrics());
    let passed = cases.len() - failed;
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} of {} fixtures failed", cases.len());
    }
    Ok(())
}

fn format_stats(stats: CallStats) -> String {
    format!(
        "  {:>9.1} µs  fuel {:>9}  memory {:>6} KiB",
        stats.elapsed.as_secs_f64() * 1e6,
        stats.fuel,
        stats.memory_bytes / 1024
    )
}

fn bench(wasm: &Path, dir: &Path, args: &RunArgs, iterations: u32) -> Result<()> {
    let cache = tempfile::tempdir().context("cannot make a cache directory")?;
    let cold = Instant::now();
    let (_, module) = load(wasm, dir, args, Some(cache.path().to_path_buf()))?;
    let cold = cold.elapsed();
    let warm = Instant::now();
    let (_, module_warm) = load(wasm, dir, args, Some(cache.path().to_path_buf()))?;
    let warm = warm.elapsed();
    assert!(module_warm.loaded_from_cache());
    let info = module.info();
    println!("{}@{} ({})", info.name, info.version, module.world());
    println!(
        "  load cold (compile)    {:>10.2} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "  load warm (cache)      {:>10.2} ms",
        warm.as_secs_f64() * 1e3
    );
    let mut inst = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        module
            .instantiate_only()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        inst.push(t.elapsed());
    }
    println!(
        "  instantiate + init     {:>10.1} µs median",
        percentile(&mut inst, 0.5).as_secs_f64() * 1e6
    );
    for (name, input) in fixture_inputs(dir)? {
        let mut times = Vec::with_capacity(iterations as usize);
        let started = Instant::now();
        for _ in 0..iterations {
            let t = Instant::now();
            module
                .call_json(&input)
                .with_context(|| format!("fixture {name}"))?;
            times.push(t.elapsed());
        }
        let total = started.elapsed();
        println!(
            "  {name:<22} median {:>7.2} µs  p99 {:>7.2} µs  {:>9.0} calls/s (JSON decoding included)",
            percentile(&mut times, 0.5).as_secs_f64() * 1e6,
            percentile(&mut times, 0.99).as_secs_f64() * 1e6,
            f64::from(iterations) / total.as_secs_f64()
        );
    }
    Ok(())
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(index).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_give_name_and_version() {
        let a = package_info("path+file:///work/modules/tag-rules#0.1.0");
        assert_eq!(
            (a.name.as_str(), a.version.as_str()),
            ("tag-rules", "0.1.0")
        );
        let b = package_info("path+file:///work/modules/test-programs/panic#hostile-panic@0.2.0");
        assert_eq!(
            (b.name.as_str(), b.version.as_str()),
            ("hostile-panic", "0.2.0")
        );
    }
}
