//! `piste replay sim`: a simulated clip directory, in the layout `piste replay run` reads,
//! with the simulator's ground truth beside it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use piste_media::calib;
use piste_media::sim::{Hazards, Scene, Sim, SimConfig};
use rayon::prelude::*;
use serde_json::json;

use super::images::{FrameFormat, progress_bar, write_mask};
use super::run::{BoundsJson, ClipCamera, ClipMeta};

/// Arguments of `piste replay sim`.
#[derive(Args)]
pub struct SimArgs {
    /// The discipline: ski-jump, figure-skating, aerials or alpine.
    #[arg(long, default_value = "figure-skating")]
    scene: String,
    /// Cameras in the rig.
    #[arg(long, default_value_t = 12)]
    cameras: usize,
    /// Image width.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    /// Image height.
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// Seconds of action after the lead-in.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Frames per second.
    #[arg(long, default_value_t = 25.0)]
    fps: f64,
    /// Seeds everything random.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Turn every hazard off (shadows, glare, spray, flicker, noise, shake, out of view).
    #[arg(long)]
    no_hazards: bool,
    /// Dress the athlete in white.
    #[arg(long)]
    white_suit: bool,
    /// How frames are stored: png (half the disk) or ppm (read back without decoding).
    #[arg(long, value_enum, default_value = "png")]
    frame_format: FrameFormat,
    /// Where to write the clip.
    #[arg(long)]
    out: PathBuf,
}

/// Voxels per axis of the truth occupancy files.
pub const TRUTH_RESOLUTION: u32 = 128;

/// Runs `piste replay sim`.
pub fn run(args: &SimArgs) -> Result<()> {
    let scene = Scene::ALL
        .into_iter()
        .find(|s| s.name() == args.scene)
        .with_context(|| {
            format!(
                "unknown scene `{}`; choose ski-jump, figure-skating, aerials or alpine",
                args.scene
            )
        })?;
    if args.cameras < 2 {
        bail!("--cameras must be at least 2");
    }
    let config = SimConfig {
        scene,
        cameras: args.cameras,
        width: args.width,
        height: args.height,
        fps: args.fps,
        seconds: args.seconds,
        seed: args.seed,
        hazards: if args.no_hazards {
            Hazards::none()
        } else {
            Hazards::default()
        },
        white_suit: args.white_suit,
        ..SimConfig::default()
    };
    let sim = Sim::new(config.clone());
    let frames = sim.frames();
    let cameras = sim.cameras();
    std::fs::create_dir_all(args.out.join("calibration"))?;
    let mut clip_cameras = Vec::new();
    for camera in cameras {
        let file = format!("calibration/{}.yml", camera.name);
        std::fs::write(args.out.join(&file), calib::opencv::to_yaml(camera))?;
        clip_cameras.push(ClipCamera {
            name: camera.name.clone(),
            calibration: file,
        });
    }
    let volume = sim.volume().context("the athlete never appears")?;

    let progress = progress_bar((frames * cameras.len()) as u64, "rendering", "images");
    for camera in cameras {
        std::fs::create_dir_all(args.out.join("frames").join(&camera.name))?;
        std::fs::create_dir_all(args.out.join("truth/masks").join(&camera.name))?;
    }
    std::fs::create_dir_all(args.out.join("truth/occupancy"))?;
    let mut truth_frames = Vec::new();
    for i in 0..frames {
        (0..cameras.len())
            .into_par_iter()
            .try_for_each(|c| -> Result<()> {
                let frame = sim.frame(c, i);
                let name = &cameras[c].name;
                args.frame_format.write(
                    &args.out.join(args.frame_format.frame_path(name, i)),
                    &frame.image,
                )?;
                write_mask(
                    &args.out.join(format!("truth/masks/{name}/{i:06}.png")),
                    &frame.mask,
                )?;
                progress.inc(1);
                Ok(())
            })?;
        let truth = sim.truth(i);
        // Occupancy on a grid around this frame's athlete, so voxel IoU is measured finely.
        let grid = truth.grid();
        if let Some(grid) = grid {
            let occupancy = truth.occupancy(grid, TRUTH_RESOLUTION);
            let mut bits = vec![0u8; occupancy.len().div_ceil(8)];
            for (k, v) in occupancy.iter().enumerate() {
                bits[k / 8] |= u8::from(*v) << (k % 8);
            }
            std::fs::write(args.out.join(format!("truth/occupancy/{i:06}.bin")), bits)?;
        }
        truth_frames.push(json!({
            "frame": i,
            "time": truth.time,
            "phase": format!("{:?}", truth.phase),
            "center_of_mass": truth.center_of_mass.map(|p| p.to_array()),
            "grid": grid.map(|g| json!({ "min": g.min.to_array(), "max": g.max.to_array() })),
            "takeoff_time": truth.takeoff_time,
            "apex_time": truth.apex_time,
            "landing_time": truth.landing_time,
            "rotations": truth.rotations,
            "flips": truth.flips,
        }));
    }
    progress.finish_and_clear();
    let meta = ClipMeta {
        fps: config.fps,
        frames,
        lead_in: config.lead_in_frames,
        cameras: clip_cameras,
        bounds: Some(BoundsJson {
            min: volume.min.to_array(),
            max: volume.max.to_array(),
        }),
        ground_z: Some(0.0),
        start_unix_ms: Some(1_770_925_000_000),
        moment: None,
    };
    std::fs::write(
        args.out.join("clip.json"),
        serde_json::to_string_pretty(&meta)? + "\n",
    )?;
    let truth = json!({ "scene": scene.name(), "seed": args.seed, "hazards": format!("{:?}", config.hazards), "frames": truth_frames });
    std::fs::write(
        args.out.join("truth/truth.json"),
        serde_json::to_string_pretty(&truth)? + "\n",
    )?;
    println!(
        "wrote {} frames x {} cameras of {} to {}",
        frames,
        cameras.len(),
        scene.name(),
        args.out.display()
    );
    Ok(())
}
