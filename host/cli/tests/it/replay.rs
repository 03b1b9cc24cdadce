//! `piste replay hull` on the real Middlebury dinoSparseRing data set, and on broken input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/middlebury/dinoSparseRing")
}

fn piste(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_piste"))
        .args(args)
        .output()
        .expect("run piste");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn leave_one_view_out_on_the_dino_prints_per_view_iou_and_their_mean() {
    let dir = dataset();
    let (ok, stdout, stderr) = piste(&[
        "replay",
        "hull",
        "--dataset",
        dir.to_str().unwrap(),
        "--loo",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["views"], 15);
    let per_view = report["loo"]["per_view"].as_array().unwrap();
    assert_eq!(per_view.len(), 15);
    let mean = report["loo"]["mean_iou"].as_f64().unwrap();
    let recomputed = per_view
        .iter()
        .map(|v| v["iou"].as_f64().unwrap())
        .sum::<f64>()
        / 15.0;
    assert!((mean - recomputed).abs() < 1e-12);
    assert!(mean >= 0.90, "mean leave-one-view-out IoU {mean}");
}

#[test]
fn a_malformed_calibration_names_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let par = std::fs::read_to_string(dataset().join("dinoSR_par.txt")).unwrap();
    let broken = par.replacen("3325.500000", "3325.5O0000", 3);
    std::fs::write(tmp.path().join("dinoSR_par.txt"), broken).unwrap();
    let (ok, _, stderr) = piste(&["replay", "hull", "--dataset", tmp.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("dinoSR_par.txt:2: k22: `3325.5O0000` is not a finite number"),
        "{stderr}"
    );
}

#[test]
fn a_missing_image_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        dataset().join("dinoSR_par.txt"),
        tmp.path().join("dinoSR_par.txt"),
    )
    .unwrap();
    let (ok, _, stderr) = piste(&["replay", "hull", "--dataset", tmp.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot open") && stderr.contains("dinoSR0001.png"),
        "{stderr}"
    );
}

#[test]
fn a_damaged_image_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
    }
    let png = tmp.path().join("dinoSR0003.png");
    let bytes = std::fs::read(&png).unwrap();
    std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, _, stderr) = piste(&["replay", "hull", "--dataset", tmp.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("dinoSR0003.png"), "{stderr}");
}

#[test]
fn the_hull_is_exported_as_ply_and_glb() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset();
    for name in ["dino.ply", "dino.glb"] {
        let out = tmp.path().join(name);
        let (ok, _, stderr) = piste(&[
            "replay",
            "hull",
            "--dataset",
            dir.to_str().unwrap(),
            "--resolution",
            "64",
            "--mesh",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        let bytes = std::fs::read(&out).unwrap();
        assert!(
            bytes.starts_with(if name.ends_with("ply") {
                b"ply\n"
            } else {
                b"glTF"
            }),
            "{name}"
        );
        assert!(stderr.contains("triangles"), "{stderr}");
    }
    let (ok, _, stderr) = piste(&[
        "replay",
        "hull",
        "--dataset",
        dir.to_str().unwrap(),
        "--resolution",
        "8",
        "--mesh",
        "x.obj",
    ]);
    assert!(!ok && stderr.contains(".ply or .glb"), "{stderr}");
}

/// Checks a GLB with the Khronos glTF validator (installed by `cargo xtask setup`).
fn validate_glb(path: &Path) -> String {
    let tools = std::env::var_os("PISTE_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools"));
    let validator = tools.join("node_modules/gltf-validator");
    assert!(
        validator.is_dir(),
        "no glTF validator in {}: run `cargo xtask setup`",
        tools.display()
    );
    let script = r#"
        const v = require(process.argv[1]);
        const data = new Uint8Array(require('fs').readFileSync(process.argv[2]));
        v.validateBytes(data).then(r => {
            console.log(JSON.stringify({ errors: r.issues.numErrors, warnings: r.issues.numWarnings, messages: r.issues.messages }));
        }, e => { console.error(String(e)); process.exit(2); });
    "#;
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&validator)
        .arg(path)
        .output()
        .expect("node is installed by `cargo xtask setup`");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_khronos_validator_accepts_the_glb() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dino.glb");
    let dir = dataset();
    let (ok, _, stderr) = piste(&[
        "replay",
        "hull",
        "--dataset",
        dir.to_str().unwrap(),
        "--resolution",
        "64",
        "--mesh",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(validate_glb(&out).trim()).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["warnings"], 0, "{report}");
    // And the validator does catch a broken file.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&out, bytes).unwrap();
    let broken: serde_json::Value = serde_json::from_str(validate_glb(&out).trim()).unwrap();
    assert!(broken["errors"].as_u64().unwrap() > 0, "{broken}");
}
