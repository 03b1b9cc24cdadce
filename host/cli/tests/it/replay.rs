//! `piste replay hull` on the real Middlebury dinoSparseRing data set, and on broken input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dataset() -> PathBuf {
    // `cargo xtask test` finds the shared data wherever the clone is; by hand it sits
    // beside the repository.
    std::env::var_os("PISTE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("middlebury/dinoSparseRing")
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
    let _turn = crate::heavy();
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
    let _turn = crate::heavy();
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

/// `piste replay run CLIP --out OUT` with the default options.
fn replay_run(clip: &Path, out: &Path) -> (bool, String, String) {
    piste(&[
        "replay",
        "run",
        clip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// A small simulated figure-skating clip, written by `piste replay sim`.
fn small_clip(dir: &Path) {
    small_clip_as(dir, "png");
}

/// [`small_clip`] with its frames stored as `format` (png or ppm).
fn small_clip_as(dir: &Path, format: &str) {
    let (ok, _, stderr) = piste(&[
        "replay",
        "sim",
        "--scene",
        "figure-skating",
        "--cameras",
        "8",
        "--width",
        "480",
        "--height",
        "270",
        "--seconds",
        "1.2",
        "--frame-format",
        format,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
}

#[test]
fn a_clip_of_ppm_frames_holds_the_pixels_of_its_png_twin_and_a_cut_frame_is_named() {
    let _turn = crate::heavy();
    let tmp = tempfile::tempdir().unwrap();
    let (png, ppm) = (tmp.path().join("png"), tmp.path().join("ppm"));
    small_clip_as(&png, "png");
    small_clip_as(&ppm, "ppm");
    for name in ["cam00/000000", "cam05/000020"] {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(png.join(format!("frames/{name}.png"))).unwrap(),
        ));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut pixels).unwrap();
        let raw = std::fs::read(ppm.join(format!("frames/{name}.ppm"))).unwrap();
        let header = b"P6\n480 270\n255\n";
        assert_eq!(&raw[..header.len()], header, "{name}");
        assert!(raw[header.len()..] == pixels[..], "{name}: pixels differ");
    }

    // A frame cut short (a disk that filled up) is refused, by name, before any output.
    let cut = ppm.join("frames/cam04/000003.ppm");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    let out = tmp.path().join("out");
    let (ok, _, stderr) = replay_run(&ppm, &out);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("cam04/000003.ppm") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!out.join("moment.json").exists());
}

#[test]
fn a_simulated_clip_goes_through_the_whole_replay() {
    let _turn = crate::heavy();
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip");
    let out = tmp.path().join("replay");
    small_clip(&clip);
    let (ok, stdout, stderr) = piste(&[
        "replay",
        "run",
        clip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--png-frames",
        "--orbit-frames",
        "8",
        "--bullet-between",
        "1",
    ]);
    assert!(ok, "{stderr}");
    for stage in [
        "matting",
        "per-frame hulls",
        "orbit",
        "bullet time",
        "spacetime slice",
        "slow motion",
        "total",
        "peak memory",
    ] {
        assert!(
            stdout.contains(stage),
            "the timing breakdown names {stage}: {stdout}"
        );
    }
    for file in [
        "key.glb",
        "key.ply",
        "slice.png",
        "held_out.png",
        "orbit/0007.png",
        "bullet/0000.png",
        "orbit.png",
        "orbit.mp4",
        "bullet.mp4",
        "slowmo.mp4",
        "slowmo/0004.png",
    ] {
        assert!(out.join(file).is_file(), "{file} is written");
    }
    let quality: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("quality.json")).unwrap()).unwrap();
    // Floors a little under what this clip measures (mask 0.85, voxel 0.60, PSNR 20.7 dB):
    // they fail on a regression, they are not the targets.
    assert!(
        quality["mask_iou_mean"].as_f64().unwrap() >= 0.80,
        "{quality}"
    );
    assert!(
        quality["voxel_iou_mean"].as_f64().unwrap() >= 0.50,
        "{quality}"
    );
    assert!(
        quality["held_out_psnr_db"].as_f64().unwrap() >= 17.0,
        "{quality}"
    );
    let moment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("moment.json")).unwrap()).unwrap();
    let rotations = moment["kinematics"]["rotations"].as_f64().unwrap();
    assert!(
        (rotations - 3.5).abs() < 0.5,
        "a triple axel turns 3.5 times, measured {rotations}"
    );
    // The timings: the standard workload holds matting, the per-frame hulls and the orbit,
    // and not the further renders.
    let timings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timings.json")).unwrap()).unwrap();
    // A stage's figure (its wall-clock "seconds" or its "cpu_seconds"), if it has one.
    let figure = |stage: &str, name: &str| {
        timings["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["stage"] == stage)
            .map(|t| t[name].as_f64())
            .unwrap_or_else(|| panic!("no {stage} in {timings}"))
    };
    let seconds = |stage: &str| figure(stage, "seconds").expect("every stage has seconds");
    let standard = seconds("standard workload");
    // Matting runs beside the hulls: the two together take at least either one's time.
    let together = seconds("matting and hulls");
    assert!(
        together >= seconds("matting").max(seconds("per-frame hulls")),
        "{timings}"
    );
    assert!(standard >= together + seconds("orbit"), "{timings}");
    // Each stage's CPU time is there, but for those that shared the cores with another.
    let cpu = |stage: &str| figure(stage, "cpu_seconds");
    for stage in ["learn backgrounds", "matting", "matting and hulls", "orbit"] {
        assert!(cpu(stage).is_some_and(|s| s > 0.0), "{stage}: {timings}");
    }
    assert_eq!(cpu("orbit video"), None, "{timings}");
    // And the peak memory: at least the key instant's frames, which the renders hold, of the
    // clip's 8 cameras at 480x270.
    let peak = timings["peak_memory_bytes"].as_u64().expect("peak memory");
    assert!(peak > 8 * 480 * 270 * 3, "{timings}");
    assert!(
        seconds("replay total") >= standard + seconds("bullet time") + seconds("slow motion"),
        "{timings}"
    );
}

#[test]
fn a_clip_without_lead_in_or_with_missing_frames_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip");
    small_clip(&clip);
    let meta_path = clip.join("clip.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&meta).unwrap();
    value["lead_in"] = 0.into();
    std::fs::write(&meta_path, value.to_string()).unwrap();
    let out = tmp.path().join("out");
    let (ok, _, stderr) = replay_run(&clip, &out);
    assert!(!ok && stderr.contains("no lead-in"), "{stderr}");

    std::fs::write(&meta_path, &meta).unwrap();
    std::fs::remove_file(clip.join("frames/cam03/000007.png")).unwrap();
    let (ok, _, stderr) = replay_run(&clip, &out);
    assert!(
        !ok && stderr.contains("cam03") && stderr.contains("frames"),
        "{stderr}"
    );

    std::fs::write(
        clip.join("calibration/cam02.yml"),
        "%YAML:1.0\n---\ncamera_matrix: !!opencv-matrix\n   rows: 3\n",
    )
    .unwrap();
    let (ok, _, stderr) = replay_run(&clip, &out);
    assert!(!ok && stderr.contains("cam02.yml"), "{stderr}");
}

#[test]
fn a_frozen_and_a_black_camera_are_left_out_with_a_warning() {
    let _turn = crate::heavy();
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip");
    let out = tmp.path().join("replay");
    small_clip(&clip);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clip.join("clip.json")).unwrap()).unwrap();
    let (lead_in, frames) = (
        meta["lead_in"].as_u64().unwrap() as usize,
        meta["frames"].as_u64().unwrap() as usize,
    );
    // cam02 freezes on its first frame with the athlete; cam05 loses its signal.
    let frozen = clip.join("frames/cam02");
    let still = std::fs::read(frozen.join(format!("{lead_in:06}.png"))).unwrap();
    let black = {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, 480, 270);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![3u8; 480 * 270 * 3]).unwrap();
        writer.finish().unwrap();
        bytes
    };
    for i in lead_in..frames {
        std::fs::write(frozen.join(format!("{i:06}.png")), &still).unwrap();
        std::fs::write(clip.join(format!("frames/cam05/{i:06}.png")), &black).unwrap();
    }
    let (ok, _, stderr) = piste(&[
        "replay",
        "run",
        clip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--orbit-frames",
        "4",
        "--bullet-between",
        "0",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("camera cam02: frozen from frame {}", lead_in + 1)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("camera cam05: black from frame {lead_in}")),
        "{stderr}"
    );
    let quality: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("quality.json")).unwrap()).unwrap();
    let left_out: Vec<&str> = quality["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["camera"].as_str().unwrap())
        .collect();
    assert_eq!(left_out, ["cam02", "cam05"], "{quality}");
    // Six cameras still carve a usable hull, and the jump is still measured.
    assert!(
        quality["voxel_iou_mean"].as_f64().unwrap() >= 0.45,
        "{quality}"
    );
    let moment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("moment.json")).unwrap()).unwrap();
    let rotations = moment["kinematics"]["rotations"].as_f64().unwrap();
    assert!((rotations - 3.5).abs() < 0.75, "rotations {rotations}");
}
