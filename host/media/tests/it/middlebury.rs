//! The visual hull on the Middlebury dinoSparseRing photographs (Seitz et al., CVPR 2006):
//! real images, real calibration, nothing made by this project.

use std::path::{Path, PathBuf};

use glam::DVec3;
use piste_media::hull::{self, Bounds, Carving};
use piste_media::silhouette::Recipe;
use piste_media::{Camera, Mask, RgbImage, calib};

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/middlebury/dinoSparseRing")
}

fn load_png(path: &Path) -> RgbImage {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    RgbImage::new(info.width, info.height, buf).unwrap()
}

/// The good-silhouette views: cameras with their image sizes, and silhouettes by the authors' recipe.
fn views() -> (Vec<Camera>, Vec<Mask>) {
    let dir = dataset();
    let par = std::fs::read_to_string(dir.join("dinoSR_par.txt")).unwrap();
    let good = std::fs::read_to_string(dir.join("dinoSR_good_silhouette_images.txt")).unwrap();
    let good: Vec<&str> = good.split_whitespace().collect();
    let mut cameras = Vec::new();
    let mut masks = Vec::new();
    for mut camera in calib::middlebury::parse("dinoSR_par.txt", &par).unwrap() {
        if !good.contains(&camera.name.as_str()) {
            continue;
        }
        let image = load_png(&dir.join(&camera.name));
        camera.width = image.width;
        camera.height = image.height;
        masks.push(Recipe::MIDDLEBURY.apply(&image));
        cameras.push(camera);
    }
    (cameras, masks)
}

/// The authors' tight bounding box, with a 5 % margin.
fn bounds() -> Bounds {
    let min = DVec3::new(-0.061897, -0.018874, -0.057845);
    let max = DVec3::new(0.010897, 0.068227, 0.015495);
    let margin = (max - min) * 0.05;
    Bounds {
        min: min - margin,
        max: max + margin,
    }
}

#[test]
fn leave_one_view_out_silhouette_iou_averages_at_least_0_90() {
    let (cameras, masks) = views();
    assert_eq!(cameras.len(), 15, "the data set lists 15 good views");
    let ious = hull::leave_one_out(
        &cameras,
        &masks,
        bounds(),
        Carving {
            resolution: 256,
            tolerance: 0,
        },
    );
    let mean = ious.iter().sum::<f64>() / ious.len() as f64;
    for (camera, iou) in cameras.iter().zip(&ious) {
        println!("{} {iou:.4}", camera.name);
    }
    println!("mean {mean:.4}");
    assert!(
        mean >= 0.90,
        "mean leave-one-view-out IoU {mean:.4} < 0.90: {ious:?}"
    );
    assert!(ious.iter().all(|iou| *iou >= 0.80), "{ious:?}");
}

#[test]
fn the_hull_reprojects_onto_the_views_it_was_carved_from() {
    let (cameras, masks) = views();
    let views: Vec<_> = cameras
        .iter()
        .zip(&masks)
        .map(|(c, m)| hull::View::new(c, m))
        .collect();
    let hull = hull::carve(
        &views,
        bounds(),
        Carving {
            resolution: 128,
            tolerance: 0,
        },
    );
    assert!(hull.count() > 1000);
    for (camera, mask) in cameras.iter().zip(&masks) {
        // A visual hull lies inside every silhouette it was carved from, up to a voxel.
        let iou = piste_media::metrics::iou(&hull.render_mask(camera), mask);
        assert!(iou > 0.9, "{}: {iou}", camera.name);
    }
}
