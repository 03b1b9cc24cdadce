//! The visual hull on the Middlebury dinoSparseRing photographs (Seitz et al., CVPR 2006):
//! real images, real calibration, nothing made by this project.

use std::path::{Path, PathBuf};

use glam::DVec3;
use piste_media::hull::{self, Bounds, Carving};
use piste_media::silhouette::Recipe;
use piste_media::{Camera, Mask, RgbImage, calib};

fn dataset() -> PathBuf {
    // `cargo xtask test` finds the shared data wherever the clone is; by hand it sits
    // beside the repository.
    std::env::var_os("PISTE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("middlebury/dinoSparseRing")
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
    let ious = hull::leave_one_out(&cameras, &masks, bounds(), Carving::strict(256));
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
    let hull = hull::carve(&views, bounds(), Carving::strict(128));
    assert!(hull.count() > 1000);
    for (camera, mask) in cameras.iter().zip(&masks) {
        // A visual hull lies inside every silhouette it was carved from, up to a voxel.
        let iou = piste_media::metrics::iou(&hull.render_mask(camera), mask);
        assert!(iou > 0.9, "{}: {iou}", camera.name);
    }
}

#[test]
fn a_held_out_view_is_rendered_from_the_others() {
    use piste_media::metrics::psnr;
    use piste_media::render::view::{Source, Synthesis};
    let dir = dataset();
    let (cameras, masks) = views();
    let images: Vec<RgbImage> = cameras
        .iter()
        .map(|c| load_png(&dir.join(&c.name)))
        .collect();
    let black = RgbImage::new(
        cameras[0].width,
        cameras[0].height,
        vec![0; images[0].data.len()],
    )
    .unwrap();
    let mut scores = Vec::new();
    for held_out in [0, 5, 10] {
        let others: Vec<usize> = (0..cameras.len()).filter(|i| *i != held_out).collect();
        let views: Vec<_> = others
            .iter()
            .map(|&i| hull::View::new(&cameras[i], &masks[i]))
            .collect();
        let hull = hull::carve(&views, bounds(), Carving::strict(256));
        let sources = others
            .iter()
            .map(|&i| Source {
                camera: &cameras[i],
                frame: &images[i],
                background: &black,
                mask: Some(&masks[i]),
            })
            .collect();
        let rendered = Synthesis::new(&hull, sources).render(&cameras[held_out], None);
        let ours = psnr(&rendered, &images[held_out]);
        if let Some(dir) = std::env::var_os("PISTE_DEBUG_PNG") {
            let path = PathBuf::from(dir).join(format!("held_out_{held_out}.png"));
            let mut both = rendered.data.clone();
            both.extend_from_slice(&images[held_out].data);
            let mut e = png::Encoder::new(
                std::fs::File::create(path).unwrap(),
                rendered.width,
                rendered.height * 2,
            );
            e.set_color(png::ColorType::Rgb);
            e.write_header().unwrap().write_image_data(&both).unwrap();
        }
        // Baseline: the nearest real camera's own image, as if it stood at the held-out pose.
        let nearest = others
            .iter()
            .copied()
            .min_by(|a, b| {
                let d = |i: usize| (cameras[i].center() - cameras[held_out].center()).length();
                d(*a).total_cmp(&d(*b))
            })
            .unwrap();
        let baseline = psnr(&images[nearest], &images[held_out]);
        println!(
            "{} PSNR {ours:.2} dB (nearest camera's image: {baseline:.2} dB)",
            cameras[held_out].name
        );
        scores.push((ours, baseline));
    }
    for (ours, baseline) in scores {
        assert!(
            ours > baseline + 3.0,
            "rendering must beat the nearest raw image clearly: {ours} vs {baseline}"
        );
        assert!(ours > 17.0, "PSNR {ours}");
    }
}

#[test]
fn tracked_carving_finds_the_subject_in_a_large_volume() {
    let (cameras, masks) = views();
    let views: Vec<_> = cameras
        .iter()
        .zip(&masks)
        .map(|(c, m)| hull::View::new(c, m))
        .collect();
    // A volume ten times the dinosaur's size: fixed carving at 64³ is coarse, tracked is not
    // (its box is found conservatively, so it is somewhat larger than the dinosaur's).
    let b = bounds();
    let centre = (b.min + b.max) * 0.5;
    let half = (b.max - b.min) * 5.0;
    let large = Bounds {
        min: centre - half,
        max: centre + half,
    };
    let tracked = hull::carve_tracked(
        &views,
        large,
        Carving {
            resolution: 64,
            tolerance: 0,
            min_views: 8,
        },
    );
    assert!(
        tracked.voxel_size().x < (b.max.x - b.min.x) / 30.0,
        "{:?}",
        tracked.voxel_size()
    );
    let iou = |h: &hull::Hull, i: usize| {
        piste_media::metrics::iou(&h.render_mask(&cameras[i]), &masks[i])
    };
    let fixed = hull::carve(
        &views,
        large,
        Carving {
            resolution: 64,
            tolerance: 0,
            min_views: 8,
        },
    );
    assert!(
        iou(&tracked, 3) > 0.9 && iou(&tracked, 3) > iou(&fixed, 3) + 0.1,
        "{} vs {}",
        iou(&tracked, 3),
        iou(&fixed, 3)
    );
}
