//! Project automation: `cargo xtask setup | modules | test | demo | bench | tidy`.

mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup     install what a fresh Debian 12 machine lacks (apt packages, the wasm32-wasip2
            target, wasmsign2-cli)
  modules   build every guest module for wasm32-wasip2 into target/modules
  test      setup, modules, then every test (what CI runs)
  demo      setup, modules, then run the example modules on sample moments
  bench [replay]
            setup, modules, then the benchmarks, optimised (figures for BENCHMARKS.md):
            sandbox, capture, sync, replay (with `replay`, setup and the replay engine only)
  tidy      the repository's structural checks
  fuzz [S]  fuzz every decoder of network bytes for S seconds each (default 60; not in CI)";

/// Debian packages the build and the tests need.
// openssh-client: `ssh-keygen` makes the OpenSSH publisher keys the signing tests trust.
// openssl: the sync tests run an outside CA made with it.
// python3-venv: Python tools (moto's S3 server) go into a virtual environment of our own.
// GStreamer 1.22 and its plug-ins: capture, decoding (libav), H.264 (x264, ugly), SRT (bad);
// ffmpeg and gst-launch-1.0 are the outside senders the capture tests stream from, and
// GStreamer's RTSP server (through Debian's Python bindings) their outside RTSP camera.
const APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "libgstreamer1.0-dev",
    "libgstreamer-plugins-base1.0-dev",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly",
    "gstreamer1.0-libav",
    "gstreamer1.0-tools",
    "python3-gi",
    "gir1.2-gst-rtsp-server-1.0",
    "ffmpeg",
    "python3",
    "python3-venv",
    "ca-certificates",
    "openssh-client",
    "openssl",
];

/// Packages from PyPI the tests need, installed in TARGET/tools/venv: moto's S3 server, which
/// the archive's S3 tests start on loopback.
const PIP_TOOLS: &[(&str, &str)] = &[("moto_server", "moto[server]==5.2.*")];

/// Tools from crates.io the tests need: (binary, crate, version).
const CARGO_TOOLS: &[(&str, &str, &str)] = &[("wasmsign2", "wasmsign2-cli", "0.2.6")];

/// Packages from the npm registry the tests need, installed under TARGET/tools:
/// the Khronos glTF validator checks the meshes piste exports.
const NPM_TOOLS: &[&str] = &["gltf-validator@2.0.0-dev.3.10"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "setup" => setup(),
        "modules" => modules().map(drop),
        "test" => test(),
        "demo" => demo(),
        "bench" => match args.get(1).map(String::as_str) {
            None => bench(),
            Some("replay") => setup().and_then(|()| replay_bench()),
            Some(other) => bail!("unknown benchmark `{other}` (the one that runs alone: replay)"),
        },
        "tidy" => tidy::run_all(&root()),
        "fuzz" => fuzz(
            args.get(1)
                .map(|s| s.parse())
                .transpose()
                .context("fuzz takes seconds per target")?,
        ),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The cargo target directory (CARGO_TARGET_DIR if set).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Where npm tools are installed.
fn tools_dir() -> PathBuf {
    target_dir().join("tools")
}

/// Where the built modules go.
fn modules_dir() -> PathBuf {
    target_dir().join("modules")
}

fn step(title: &str) {
    println!("\n==> {title}");
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn setup() -> Result<()> {
    step("setup");
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        println!("apt packages: all present");
    } else if have("apt-get") {
        println!("apt packages: installing {}", missing.join(" "));
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    } else {
        bail!(
            "missing packages {} and no apt-get to install them",
            missing.join(" ")
        );
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output();
    match targets {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2") =>
        {
            println!("rust target wasm32-wasip2: present");
        }
        Ok(_) => run(Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .current_dir(root()))?,
        Err(_) => bail!(
            "rustup is not installed: install Rust with rustup, then run `cargo xtask setup` again"
        ),
    }
    if !(have("node") && have("npm")) {
        println!("node and npm: installing");
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "nodejs",
                "npm",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    for package in NPM_TOOLS {
        let name = package.rsplit_once('@').map_or(*package, |(name, _)| name);
        if tools_dir()
            .join("node_modules")
            .join(name)
            .join("package.json")
            .is_file()
        {
            println!("{name}: present");
        } else {
            println!("{name}: installing {package}");
            std::fs::create_dir_all(tools_dir())?;
            run(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(tools_dir())
                .arg(package))?;
        }
    }
    let venv = tools_dir().join("venv");
    for (binary, package) in PIP_TOOLS {
        if venv.join("bin").join(binary).is_file() {
            println!("{binary}: present");
            continue;
        }
        println!("{binary}: installing {package}");
        if !venv.join("bin/pip").is_file() {
            std::fs::create_dir_all(tools_dir())?;
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", package]))?;
    }
    for (binary, krate, version) in CARGO_TOOLS {
        if have(binary) {
            println!("{binary}: present");
        } else {
            println!("{binary}: installing {krate} {version}");
            run(cargo().args([
                "install",
                "--locked",
                "--quiet",
                krate,
                "--version",
                version,
            ]))?;
        }
    }
    Ok(())
}

/// Builds every guest module and returns where they are.
fn modules() -> Result<PathBuf> {
    step("modules (wasm32-wasip2)");
    let out = modules_dir();
    run(cargo()
        .args([
            "run", "--quiet", "-p", "piste", "--", "module", "build", "modules", "--out",
        ])
        .arg(&out))?;
    Ok(out)
}

/// A development publisher key and signed copies of the example modules, for the demo.
fn signed_examples(modules: &Path) -> Result<(PathBuf, PathBuf)> {
    let dev = target_dir().join("piste-dev");
    let keys = dev.join("keys");
    if !keys.join("publisher.key").is_file() {
        run(cargo()
            .args([
                "run", "--quiet", "-p", "piste", "--", "keys", "generate", "--out",
            ])
            .arg(&keys))?;
    }
    let signed = dev.join("modules");
    std::fs::create_dir_all(&signed)?;
    for name in ["tag-rules", "caption-templates", "distribution-policy"] {
        let from = modules.join(format!("{name}.wasm"));
        let to = signed.join(format!("{name}.wasm"));
        run(cargo()
            .args(["run", "--quiet", "-p", "piste", "--", "module", "sign"])
            .arg(&from)
            .arg("--key")
            .arg(keys.join("publisher.key"))
            .arg("--out")
            .arg(&to))?;
    }
    Ok((signed, keys.join("publisher.pub")))
}

fn test() -> Result<()> {
    setup()?;
    let modules = modules()?;
    step("tidy");
    tidy::run_all(&root())?;
    step("host workspace tests");
    run(cargo()
        .args(["test", "--workspace", "--no-fail-fast"])
        .env("PISTE_MODULES", &modules)
        .env("PISTE_TOOLS", tools_dir())
        .envs(shared_data().map(|d| ("PISTE_SHARED_DATA", d)))
        .env("PISTE_REQUIRE_MOTO", "1"))?;
    step("example modules: native unit tests");
    run(cargo().current_dir(root().join("modules")).args([
        "test",
        "-p",
        "tag-rules",
        "-p",
        "caption-templates",
        "-p",
        "distribution-policy",
    ]))?;
    step("example modules: fixtures in the sandbox");
    let (signed, trust) = signed_examples(&modules)?;
    for name in ["tag-rules", "caption-templates", "distribution-policy"] {
        run(cargo()
            .args(["run", "--quiet", "-p", "piste", "--", "module", "test"])
            .arg(signed.join(format!("{name}.wasm")))
            .arg("--fixtures")
            .arg(root().join("modules").join(name).join("fixtures"))
            .arg("--trust")
            .arg(&trust))?;
    }
    Ok(())
}

/// The shared test data (the Middlebury images): `PISTE_SHARED_DATA`, or the first
/// `shared/data` beside the repository or one of its ancestors. Without it the tests that
/// need it fail and say where they looked.
fn shared_data() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PISTE_SHARED_DATA") {
        return Some(PathBuf::from(dir));
    }
    root()
        .ancestors()
        .map(|a| a.join("shared/data"))
        .find(|d| d.join("middlebury").is_dir())
}

/// The fuzz targets under `fuzz/`: every decoder of bytes that arrive from the network.
const FUZZ_TARGETS: &[&str] = &["sync_frame", "manifest", "ingest_session", "edge_session"];

/// Runs every fuzz target for `seconds` each with cargo-fuzz (libFuzzer, AddressSanitizer).
/// cargo-fuzz passes unstable compiler flags; RUSTC_BOOTSTRAP lets our stable toolchain take them.
fn fuzz(seconds: Option<u64>) -> Result<()> {
    let seconds = seconds.unwrap_or(60);
    if !Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        step("installing cargo-fuzz");
        run(cargo().args([
            "install",
            "--locked",
            "--quiet",
            "cargo-fuzz",
            "--version",
            "0.13.1",
        ]))?;
    }
    let corpus = target_dir().join("fuzz-corpus");
    for target in FUZZ_TARGETS {
        step(&format!("fuzz {target} for {seconds} s"));
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        run(cargo()
            .current_dir(root().join("fuzz"))
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--release", target])
            .arg(&dir)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=4096"))?;
    }
    println!(
        "fuzzing found nothing in {} targets × {seconds} s",
        FUZZ_TARGETS.len()
    );
    Ok(())
}

fn demo() -> Result<()> {
    setup()?;
    let modules = modules()?;
    let (signed, trust) = signed_examples(&modules)?;
    step("demo");
    run(cargo()
        .args(["run", "--quiet", "-p", "piste", "--", "demo", "--modules"])
        .arg(&signed)
        .arg("--trust")
        .arg(&trust)
        .arg("--cache")
        .arg(target_dir().join("piste-dev").join("cache")))
}

fn bench() -> Result<()> {
    setup()?;
    let modules = modules()?;
    step("sandbox benchmarks (release)");
    run(cargo()
        .args(["bench", "-p", "piste-sandbox", "--bench", "sandbox"])
        .env("PISTE_MODULES", &modules))?;
    step("capture beside ffmpeg (release)");
    run(cargo().args(["bench", "-p", "piste-capture", "--bench", "capture"]))?;
    step("sync over loopback (release)");
    run(cargo().args(["bench", "-p", "piste-archive", "--bench", "sync"]))?;
    replay_bench()
}

/// How many times the replay bench times `piste replay run`.
const TIMED_RUNS: usize = 3;

/// A stage's wall-clock seconds in a `timings.json`; NaN if it is not there.
fn stage_seconds(timings: &serde_json::Value, stage: &str) -> f64 {
    timings["stages"]
        .as_array()
        .and_then(|list| list.iter().find(|t| t["stage"] == stage))
        .and_then(|t| t["seconds"].as_f64())
        .unwrap_or(f64::NAN)
}

/// The replay engine's standard workload (12 cameras, 1280x720, 50 frames after a 10-frame
/// lead-in) end to end, and matting beside OpenCV's MOG2 on the same frames.
fn replay_bench() -> Result<()> {
    step("replay engine: standard workload (release)");
    run(cargo().args(["build", "--release", "--quiet", "-p", "piste"]))?;
    let piste = target_dir().join("release/piste");
    let bench = target_dir().join("bench");
    // Frames as PPM: the engine is handed them decoded, as the capture buffer hands over a cut.
    let clip = bench.join("clip-figure-skating-ppm");
    if !clip.join("clip.json").is_file() {
        run(Command::new(&piste)
            .args([
                "replay",
                "sim",
                "--scene",
                "figure-skating",
                "--seed",
                "7",
                "--frame-format",
                "ppm",
                "--out",
            ])
            .arg(&clip))?;
    }
    // The engine is handed a cut in memory (the capture buffer holds it): a first run,
    // untimed, brings the clip's files into the page cache (and the process's first
    // allocations into being), so the timed runs read them from memory, not the disk.
    let replay_run = |out: &Path| {
        let mut cmd = Command::new(&piste);
        cmd.args(["replay", "run"]).arg(&clip).arg("--out").arg(out);
        cmd
    };
    run(replay_run(&bench.join("replay-warm-up")).stdout(std::process::Stdio::null()))?;
    println!("(a warm-up run read the clip into the page cache; the runs below are timed)");
    // Three timed runs (the machine is shared and noisy); the median one by the standard
    // workload gives the figures, and its outputs are kept as target/bench/replay.
    let mut runs = Vec::new();
    for k in 1..=TIMED_RUNS {
        let dir = bench.join(format!("replay-run-{k}"));
        run(&mut replay_run(&dir))?;
        let timings: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("timings.json"))?)?;
        runs.push((stage_seconds(&timings, "standard workload"), dir));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let out = bench.join("replay");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::rename(&runs[runs.len() / 2].1, &out)?;
    for (_, dir) in &runs {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }

    step("matting beside OpenCV MOG2 (same frames, reading them timed in both)");
    let has_cv2 = Command::new("python3")
        .args(["-c", "import cv2"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_cv2 {
        run(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "opencv-python-headless",
        ]))?;
    }
    let baseline = Command::new("python3")
        .arg(root().join("xtask/bench/mog2.py"))
        .arg(&clip)
        .output()?;
    if !baseline.status.success() {
        bail!(
            "mog2.py failed: {}",
            String::from_utf8_lossy(&baseline.stderr)
        );
    }
    let mog2: serde_json::Value =
        serde_json::from_slice(&baseline.stdout).context("mog2.py printed no JSON")?;
    let read = |file: &str| -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(
            out.join(file),
        )?)?)
    };
    let (timings, quality) = (read("timings.json")?, read("quality.json")?);
    let seconds = |stage: &str| stage_seconds(&timings, stage);
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    // Matting's wall-clock time is taken while the hulls of the frame before share the
    // cores, so this rate is lower than matting alone would reach.
    let ours_fps = number(&mog2["frames"]) / (seconds("learn backgrounds") + seconds("matting"));
    let (mog2_fps, mog2_iou) = (number(&mog2["fps"]), number(&mog2["mask_iou_mean"]));
    let ours_iou = number(&quality["mask_iou_mean"]);
    println!(
        "{:<36} {:>10} {:>10} {:>8}",
        "figure", "piste", "MOG2", "ratio"
    );
    println!(
        "{:<36} {:>10.1} {:>10.1} {:>8.2}",
        "matting frames per second",
        ours_fps,
        mog2_fps,
        ours_fps / mog2_fps
    );
    println!(
        "{:<36} {:>10.3} {:>10.3} {:>8.2}",
        "mask IoU against the truth",
        ours_iou,
        mog2_iou,
        ours_iou / mog2_iou
    );
    // `piste replay run` times the standard workload end to end.
    let standard = seconds("standard workload");
    println!();
    println!(
        "{:<36} {:>10} {:>10} {:>8}",
        "end to end", "piste", "target", "ratio"
    );
    println!(
        "{:<36} {:>9.2}s {:>9.1}s {:>8.2}",
        format!("standard workload (median of {TIMED_RUNS})"),
        standard,
        3.0,
        standard / 3.0
    );
    let each: Vec<String> = runs.iter().map(|(s, _)| format!("{s:.2}s")).collect();
    println!("{:<36} {}", "  each run, fastest first", each.join(" "));
    println!(
        "{:<36} {:>9.2}s",
        "replay total (every render)",
        seconds("replay total")
    );
    println!(
        "{:<36} {:>6.0} MiB",
        "peak memory (the whole run)",
        number(&timings["peak_memory_bytes"]) / (1024.0 * 1024.0)
    );
    Ok(())
}
