//! `calib::opencv` against files that OpenCV itself wrote (`tests/data/opencv/make.py`, run
//! with opencv-python-headless): its YAML and JSON, its Rodrigues vectors, and the pixels
//! its `cv2.projectPoints` gave.

use std::path::Path;

use glam::{DMat3, DVec2, DVec3};
use piste_media::calib::opencv;
use piste_media::{Camera, Distortion};
use serde_json::Value;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/opencv")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> Camera {
    opencv::parse(name, &read(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// What make.py stored beside the files.
struct Expected {
    json: Value,
}

impl Expected {
    fn load() -> Self {
        Expected {
            json: serde_json::from_str(&read("expected.json")).unwrap(),
        }
    }

    fn numbers(&self, key: &str) -> Vec<f64> {
        self.json[key]
            .as_array()
            .unwrap_or_else(|| panic!("expected.json has no `{key}`"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    fn row_major(&self, key: &str) -> DMat3 {
        DMat3::from_cols_array(&self.numbers(key).try_into().unwrap()).transpose()
    }

    fn vec3(&self, key: &str) -> DVec3 {
        DVec3::from_slice(&self.numbers(key))
    }

    fn points(&self, key: &str) -> Vec<Vec<f64>> {
        self.json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect()
    }
}

/// The largest difference between two matrices, element by element.
fn gap(a: DMat3, b: DMat3) -> f64 {
    (a - b)
        .to_cols_array()
        .iter()
        .fold(0.0, |m, d| m.max(d.abs()))
}

/// Whether two numbers are equal but for serde_json's last bit: without its
/// `float_roundtrip` feature it may read a decimal one unit in the last place off.
fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-15 * x.abs().max(y.abs()))
}

fn k_values(cam: &Camera) -> Vec<f64> {
    cam.k.transpose().to_cols_array().to_vec()
}

fn distortion_values(cam: &Camera) -> Vec<f64> {
    let d = cam.distortion;
    vec![d.k1, d.k2, d.p1, d.p2, d.k3]
}

const POSED: [&str; 4] = [
    "cam_rmat.yml",
    "cam_rmat.json",
    "cam_rvec.yml",
    "cam_rvec.json",
];

#[test]
fn files_written_by_opencv_parse_to_the_numbers_it_wrote() {
    let expected = Expected::load();
    for name in POSED {
        let cam = parse(name);
        assert_eq!(
            cam.name,
            expected.json["camera_name"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!((cam.width, cam.height), (1280, 720), "{name}");
        assert!(
            same(&k_values(&cam), &expected.numbers("camera_matrix")),
            "{name}"
        );
        assert_eq!(cam.k.col(2).x, 641.2873, "{name}: cx is k13");
        assert!(
            same(
                &distortion_values(&cam),
                &expected.numbers("distortion_coefficients")
            ),
            "{name}"
        );
        assert!(
            same(&cam.t.to_array(), &expected.numbers("translation_vector")),
            "{name}"
        );
        let r_gap = gap(cam.r, expected.row_major("rotation_matrix"));
        assert!(
            r_gap < 1e-15,
            "{name}: R differs from OpenCV's by {r_gap:e}"
        );
    }
    // OpenCV writes 17 significant digits, so the same numbers come back exactly from
    // every file.
    let first = parse(POSED[0]);
    for name in POSED {
        let cam = parse(name);
        assert_eq!(
            (cam.k, cam.distortion, cam.t),
            (first.k, first.distortion, first.t),
            "{name}"
        );
    }
    assert_eq!(parse("cam_rmat.json").r, first.r);
}

#[test]
fn a_rodrigues_vector_gives_the_rotation_of_the_matrix_file() {
    let from_matrix = parse("cam_rmat.yml").r;
    for name in ["cam_rvec.yml", "cam_rvec.json"] {
        let from_vector = parse(name).r;
        let g = gap(from_vector, from_matrix);
        assert!(g < 1e-15, "{name}: {g:e}");
    }
    let rvec = Expected::load().vec3("rvec");
    assert!(gap(opencv::rodrigues(rvec), from_matrix) < 1e-15);
}

#[test]
fn projection_matches_cv2_project_points_with_distortion() {
    let expected = Expected::load();
    let world = expected.points("world_points");
    let pixels = expected.points("pixels");
    assert!(world.len() >= 10 && world.len() == pixels.len());
    for name in POSED {
        let cam = parse(name);
        let mut worst = 0.0f64;
        for (w, p) in world.iter().zip(&pixels) {
            let ours = cam.project(DVec3::from_slice(w)).unwrap();
            worst = worst.max((ours - DVec2::from_slice(p)).length());
        }
        assert!(worst < 1e-6, "{name}: {worst:e} px from cv2.projectPoints");
    }
    // The points reach the image's corners, where distortion moves them by pixels, so the
    // match is not one that ignoring distortion would also pass.
    let mut undistorted = parse("cam_rmat.yml");
    undistorted.distortion = Distortion::default();
    let moved = world
        .iter()
        .zip(&pixels)
        .map(|(w, p)| {
            (undistorted.project(DVec3::from_slice(w)).unwrap() - DVec2::from_slice(p)).length()
        })
        .fold(0.0, f64::max);
    assert!(moved > 20.0, "{moved}");
}

#[test]
fn calibration_sample_output_gives_intrinsics_and_the_identity_pose() {
    let expected = Expected::load();
    for name in ["cam_calibration.yml", "cam_calibration.json"] {
        let cam = parse(name);
        assert_eq!(cam.name, "", "{name}");
        assert_eq!((cam.width, cam.height), (1280, 720), "{name}");
        assert!(
            same(&k_values(&cam), &expected.numbers("camera_matrix")),
            "{name}"
        );
        assert!(
            same(
                &distortion_values(&cam),
                &expected.numbers("distortion_coefficients")
            ),
            "{name}"
        );
        assert_eq!((cam.r, cam.t), (DMat3::IDENTITY, DVec3::ZERO), "{name}");
    }
}

#[test]
fn export_writes_what_opencv_wrote() {
    // OpenCV 4 heads YAML `%YAML:1.0`, as we do; OpenCV 5 writes `%YAML 1.2`. Past the
    // header the files are the same.
    let theirs = read("cam_rmat.yml");
    let (header, body) = theirs.split_once('\n').unwrap();
    assert!(["%YAML:1.0", "%YAML 1.2"].contains(&header), "{header}");
    let ours = opencv::to_yaml(&parse("cam_rmat.yml"));
    assert_eq!(ours.split_once('\n').unwrap(), ("%YAML:1.0", body));
    assert_eq!(
        opencv::to_json(&parse("cam_rmat.json")),
        read("cam_rmat.json")
    );
}

#[test]
fn export_round_trips() {
    for name in POSED {
        let cam = parse(name);
        assert_eq!(
            opencv::parse("ours.yml", &opencv::to_yaml(&cam)).unwrap(),
            cam,
            "{name}"
        );
        assert_eq!(
            opencv::parse("ours.json", &opencv::to_json(&cam)).unwrap(),
            cam,
            "{name}"
        );
    }
}
