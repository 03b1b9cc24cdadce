//! `piste replay hull`: the visual hull of a Middlebury-layout data set, its
//! leave-one-view-out check, and its mesh.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use glam::DVec3;
use piste_media::hull::{self, Bounds, Carving};
use piste_media::mesh::Mesh;
use piste_media::silhouette::Recipe;
use piste_media::{Camera, Mask, calib};
use serde_json::json;

use super::images::read_png;

/// Arguments of `piste replay hull`.
#[derive(Args)]
pub struct HullArgs {
    /// The data set directory.
    #[arg(long)]
    dataset: PathBuf,
    /// Voxels per axis (a power of two).
    #[arg(long, default_value_t = 256)]
    resolution: u32,
    /// Views allowed to disagree before a voxel is carved.
    #[arg(long, default_value_t = 0)]
    tolerance: u32,
    /// Bounding box `x0,y0,z0,x1,y1,z1` (default: the README's, or one around the cameras' focus).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    bbox: Option<Vec<f64>>,
    /// Leave each view out in turn and report its silhouette IoU.
    #[arg(long)]
    loo: bool,
    /// Write the hull's surface mesh here (`.ply` or `.glb`, by extension).
    #[arg(long)]
    mesh: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `piste replay hull`.
pub fn run(args: &HullArgs) -> Result<()> {
    if !args.resolution.is_power_of_two() || args.resolution < 4 {
        bail!(
            "--resolution must be a power of two of at least 4, not {}",
            args.resolution
        );
    }
    let started = Instant::now();
    let (cameras, masks) = load_dataset(&args.dataset)?;
    let bounds = match &args.bbox {
        Some(v) if v.len() != 6 => bail!(
            "--bbox takes six numbers x0,y0,z0,x1,y1,z1, not {}",
            v.len()
        ),
        Some(v) => Bounds {
            min: DVec3::new(v[0], v[1], v[2]),
            max: DVec3::new(v[3], v[4], v[5]),
        },
        None => readme_bounds(&args.dataset).unwrap_or_else(|| focus_bounds(&cameras)),
    };
    let carving = Carving {
        resolution: args.resolution,
        tolerance: args.tolerance,
        min_views: 2,
    };
    let loaded = started.elapsed();
    eprintln!(
        "{} views loaded in {:.2} s; carving at {}³",
        cameras.len(),
        loaded.as_secs_f64(),
        args.resolution
    );
    let views: Vec<_> = cameras
        .iter()
        .zip(&masks)
        .map(|(c, m)| hull::View::new(c, m))
        .collect();
    let t = Instant::now();
    let full = hull::carve(&views, bounds, carving);
    let carve_s = t.elapsed().as_secs_f64();
    let voxel = full.voxel_size();
    let volume = full.count() as f64 * voxel.x * voxel.y * voxel.z;
    if let Some(path) = &args.mesh {
        let mesh = Mesh::from_hull(&full);
        let bytes = match path.extension().and_then(|e| e.to_str()) {
            Some("ply") => mesh.to_ply(),
            Some("glb") => mesh.to_glb(),
            _ => bail!(
                "--mesh {}: the file name must end in .ply or .glb",
                path.display()
            ),
        };
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "mesh: {} vertices, {} triangles -> {}",
            mesh.positions.len(),
            mesh.triangles.len(),
            path.display()
        );
    }
    let loo = if args.loo {
        let t = Instant::now();
        let ious = hull::leave_one_out(&cameras, &masks, bounds, carving);
        Some((ious, t.elapsed().as_secs_f64()))
    } else {
        None
    };
    if args.json {
        let mut out = json!({
            "dataset": args.dataset,
            "views": cameras.len(),
            "resolution": args.resolution,
            "bounds": { "min": bounds.min.to_array(), "max": bounds.max.to_array() },
            "occupied_voxels": full.count(),
            "volume_m3": volume,
            "carve_seconds": carve_s,
        });
        if let Some((ious, seconds)) = &loo {
            let per_view: Vec<_> = cameras
                .iter()
                .zip(ious)
                .map(|(c, iou)| json!({ "view": c.name, "iou": iou }))
                .collect();
            out["loo"] =
                json!({ "per_view": per_view, "mean_iou": mean(ious), "seconds": seconds });
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "visual hull of {} views at {}³: {} voxels, {:.3e} m³, carved in {:.2} s",
        cameras.len(),
        args.resolution,
        full.count(),
        volume,
        carve_s
    );
    if let Some((ious, seconds)) = &loo {
        println!("leave-one-view-out silhouette IoU ({seconds:.1} s):");
        for (camera, iou) in cameras.iter().zip(ious) {
            println!("  {:<20} {iou:.4}", camera.name);
        }
        println!("  {:<20} {:.4}", "mean", mean(ious));
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Reads the cameras and silhouettes of a Middlebury-layout directory.
fn load_dataset(dir: &Path) -> Result<(Vec<Camera>, Vec<Mask>)> {
    let par = find(dir, "_par.txt")?
        .with_context(|| format!("no *_par.txt calibration file in {}", dir.display()))?;
    let text =
        std::fs::read_to_string(&par).with_context(|| format!("cannot read {}", par.display()))?;
    let mut cameras = calib::middlebury::parse(&par.display().to_string(), &text)?;
    if let Some(list) = find(dir, "_good_silhouette_images.txt")? {
        let text = std::fs::read_to_string(&list)
            .with_context(|| format!("cannot read {}", list.display()))?;
        let good: Vec<&str> = text.split_whitespace().collect();
        for name in &good {
            if !cameras.iter().any(|c| c.name == *name) {
                bail!(
                    "{}: lists {name}, which {} does not calibrate",
                    list.display(),
                    par.display()
                );
            }
        }
        cameras.retain(|c| good.contains(&c.name.as_str()));
    }
    if cameras.len() < 2 {
        bail!(
            "{} calibrates {} usable views; a hull needs at least 2",
            par.display(),
            cameras.len()
        );
    }
    let mut masks = Vec::with_capacity(cameras.len());
    for camera in &mut cameras {
        let path = dir.join(&camera.name);
        let image = read_png(&path)?;
        camera.width = image.width;
        camera.height = image.height;
        masks.push(Recipe::MIDDLEBURY.apply(&image));
    }
    Ok((cameras, masks))
}

fn find(dir: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the data set directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// The bounding box the Middlebury README gives: two lines `(x y z)`.
fn readme_bounds(dir: &Path) -> Option<Bounds> {
    let text = std::fs::read_to_string(dir.join("README.txt")).ok()?;
    let points: Vec<DVec3> = text
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('(')?
                .strip_suffix(')')
                .map(str::to_owned)
        })
        .filter_map(|inner| {
            let v: Vec<f64> = inner
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            (v.len() == 3).then(|| DVec3::new(v[0], v[1], v[2]))
        })
        .collect();
    let [min, max] = points.get(..2)?.try_into().ok()?;
    let margin = (max - min) * 0.05;
    Some(Bounds {
        min: min - margin,
        max: max + margin,
    })
}

/// A box around the point nearest every camera's optical axis, as wide as the narrowest
/// camera sees at that distance.
pub fn focus_bounds(cameras: &[Camera]) -> Bounds {
    use glam::DMat3;
    let (mut a, mut b) = (DMat3::ZERO, DVec3::ZERO);
    for camera in cameras {
        let c = camera.center();
        let d = camera.r.transpose() * DVec3::Z;
        let m = DMat3::IDENTITY - DMat3::from_cols(d * d.x, d * d.y, d * d.z);
        a += m;
        b += m * c;
    }
    let focus = a.inverse() * b;
    let half = cameras
        .iter()
        .map(|c| {
            (c.center() - focus).length() * f64::from(c.width.min(c.height)) / (2.0 * c.k.col(0).x)
        })
        .fold(f64::INFINITY, f64::min);
    Bounds {
        min: focus - DVec3::splat(half),
        max: focus + DVec3::splat(half),
    }
}
