//! `piste capture`: probe a source, record a clip from a venue's rig, watch the rig live.
//! The venue file (TOML) is read here; `piste-capture` gets typed camera specs.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use piste_capture::{CameraSpec, Decoder, FrameSource, Rig, RigConfig, SourceSpec};
use piste_media::sim::{Scene, Sim, SimConfig};
use piste_media::{RgbImage, calib};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::replay::images::{FrameFormat, progress_bar};
use crate::replay::run::{ClipCamera, ClipMeta};

/// Capture commands.
#[derive(Subcommand)]
pub enum CaptureCommand {
    /// What a source delivers: caps, size, declared and measured rate.
    Probe {
        /// A gst-launch-1.0 description, e.g. "udpsrc port=5000 caps=video/mpegts,systemstream=true ! tsdemux".
        source: String,
        /// Seconds to watch it.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// Record every camera of a venue for N seconds into a clip directory for `piste replay run`.
    Record {
        /// The venue file (see images/venue.example.toml).
        #[arg(long)]
        venue: PathBuf,
        /// Seconds to record.
        #[arg(long)]
        seconds: f64,
        /// The clip directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Frames at the start of the clip before the moment (the background is learned from them).
        #[arg(long, default_value_t = 10)]
        lead_in: usize,
        /// How frames are stored: png (half the disk) or ppm (read back without decoding).
        #[arg(long, value_enum, default_value = "png")]
        frame_format: FrameFormat,
    },
    /// Live status of every camera: rate, drops, lateness, drift, buffer fill.
    Watch {
        /// The venue file.
        #[arg(long)]
        venue: PathBuf,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long)]
        seconds: Option<f64>,
    },
}

/// A venue file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Venue {
    venue: String,
    #[serde(default = "default_fps")]
    fps: f64,
    #[serde(default = "default_buffer")]
    buffer_seconds: f64,
    #[serde(default = "default_memory")]
    memory_mb: u64,
    #[serde(default = "default_down")]
    down_after_ms: u64,
    #[serde(default = "default_decoder")]
    decoder: String,
    #[serde(default)]
    sim: Option<SimSection>,
    #[serde(rename = "camera")]
    cameras: Vec<VenueCamera>,
}

fn default_fps() -> f64 {
    25.0
}
fn default_buffer() -> f64 {
    20.0
}
fn default_memory() -> u64 {
    2048
}
fn default_down() -> u64 {
    800
}
fn default_decoder() -> String {
    "auto".into()
}

/// The simulator behind `sim:` sources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimSection {
    scene: String,
    #[serde(default = "default_width")]
    width: u32,
    #[serde(default = "default_height")]
    height: u32,
    #[serde(default = "default_seconds")]
    seconds: f64,
    #[serde(default)]
    seed: u64,
}

fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    360
}
fn default_seconds() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VenueCamera {
    id: String,
    /// An OpenCV calibration file, relative to the venue file (not needed for `sim:`).
    #[serde(default)]
    calibration: Option<PathBuf>,
    source: String,
    #[serde(default)]
    raw: bool,
}

/// The rig a venue file describes, with each camera's calibration as OpenCV YAML.
struct Loaded {
    name: String,
    config: RigConfig,
    calibrations: Vec<String>,
    /// Frames in the simulated clip that `sim:` cameras loop over, if any.
    sim_loop: Option<usize>,
}

/// One simulated camera's frames, looping over the simulated clip.
struct SimCamera {
    sim: Arc<Sim>,
    index: usize,
}

impl FrameSource for SimCamera {
    fn width(&self) -> u32 {
        self.sim.cameras()[self.index].width
    }
    fn height(&self) -> u32 {
        self.sim.cameras()[self.index].height
    }
    fn frame(&self, i: u64) -> Option<RgbImage> {
        let n = self.sim.frames() as u64;
        Some(self.sim.frame(self.index, (i % n) as usize).image)
    }
}

fn load(path: &Path) -> Result<Loaded> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let venue: Venue =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let field = |camera: &str, field: &str, problem: String| {
        anyhow::anyhow!("{}: camera {camera}: {field}: {problem}", path.display())
    };
    if venue.cameras.is_empty() {
        bail!("{}: no [[camera]] sections", path.display());
    }
    if !(1.0..=240.0).contains(&venue.fps) {
        bail!(
            "{}: fps: {} is not between 1 and 240",
            path.display(),
            venue.fps
        );
    }
    let decoder: Decoder = venue
        .decoder
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: decoder: {e}", path.display()))?;
    let n_sim = venue
        .cameras
        .iter()
        .filter(|c| c.source.starts_with("sim:"))
        .count();
    let sim = match (&venue.sim, n_sim) {
        (_, 0) => None,
        (None, _) => bail!(
            "{}: cameras use sim: sources but there is no [sim] section",
            path.display()
        ),
        (Some(s), n) => {
            let scene = Scene::ALL
                .into_iter()
                .find(|sc| sc.name() == s.scene)
                .with_context(|| format!("{}: sim: scene: unknown {:?}; choose ski-jump, figure-skating, aerials or alpine", path.display(), s.scene))?;
            Some(Arc::new(Sim::new(SimConfig {
                scene,
                cameras: n.max(2),
                width: s.width,
                height: s.height,
                fps: venue.fps,
                seconds: s.seconds,
                seed: s.seed,
                ..SimConfig::default()
            })))
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut cameras = Vec::new();
    let mut calibrations = Vec::new();
    let mut sim_index = 0;
    for c in &venue.cameras {
        if c.id.is_empty()
            || !c
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(field(&c.id, "id", "use letters, digits, - and _".into()));
        }
        if !seen.insert(c.id.clone()) {
            return Err(field(&c.id, "id", "appears twice".into()));
        }
        let (source, calibration) = if c.source.starts_with("sim:") {
            let sim = sim.clone().expect("checked above");
            let mut camera = sim.cameras()[sim_index].clone();
            camera.name = c.id.clone();
            let yaml = calib::opencv::to_yaml(&camera);
            let spec = SourceSpec::Frames(Arc::new(SimCamera {
                sim,
                index: sim_index,
            }));
            sim_index += 1;
            (spec, yaml)
        } else {
            if c.source.trim().is_empty() {
                return Err(field(&c.id, "source", "is empty".into()));
            }
            let calibration = c.calibration.as_ref().ok_or_else(|| {
                field(
                    &c.id,
                    "calibration",
                    "missing: give the camera's OpenCV calibration file".into(),
                )
            })?;
            let file = dir.join(calibration);
            let yaml = std::fs::read_to_string(&file)
                .map_err(|e| field(&c.id, "calibration", format!("{}: {e}", file.display())))?;
            calib::opencv::parse(&file.display().to_string(), &yaml)
                .map_err(|e| field(&c.id, "calibration", e.to_string()))?;
            (
                SourceSpec::Launch {
                    description: c.source.clone(),
                    raw: c.raw,
                },
                yaml,
            )
        };
        cameras.push(CameraSpec {
            id: c.id.clone(),
            source,
        });
        calibrations.push(calibration);
    }
    Ok(Loaded {
        name: venue.venue,
        config: RigConfig {
            cameras,
            fps: venue.fps,
            buffer: Duration::from_secs_f64(venue.buffer_seconds),
            memory_bytes: venue.memory_mb << 20,
            down_after: Duration::from_millis(venue.down_after_ms),
            decoder,
        },
        calibrations,
        sim_loop: sim.map(|s| s.frames()),
    })
}

fn wait_up(rig: &Rig, limit: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit && !rig.status().iter().all(|s| s.up) {
        std::thread::sleep(Duration::from_millis(50));
    }
    rig.now()
}

/// Runs a capture command.
pub fn run(cmd: CaptureCommand) -> Result<()> {
    match cmd {
        CaptureCommand::Probe { source, seconds } => {
            let p = piste_capture::probe(&source, Duration::from_secs_f64(seconds))?;
            println!("media       {}", p.media);
            if let Some((w, h)) = p.size {
                println!("size        {w}x{h}");
            }
            if let Some(f) = p.declared_fps {
                println!("rate        {f:.2} fps declared");
            }
            println!(
                "measured    {:.2} buffers/s over {} buffers",
                p.measured_fps, p.buffers
            );
            println!("caps        {}", p.caps);
            Ok(())
        }
        CaptureCommand::Watch { venue, seconds } => {
            let loaded = load(&venue)?;
            let rig = Rig::start(loaded.config)?;
            let start = Instant::now();
            println!(
                "venue {} · {} cameras · cuts decode on {}",
                loaded.name,
                rig.status().len(),
                rig.decoder().name()
            );
            loop {
                std::thread::sleep(Duration::from_secs(1));
                println!(
                    "{:<14} {:<5} {:>6} {:>7} {:>6} {:>9} {:>8} {:>8}  error",
                    "camera", "state", "fps", "drops", "late", "drift ms", "buffer s", "MiB"
                );
                for s in rig.status() {
                    println!(
                        "{:<14} {:<5} {:>6.1} {:>7} {:>6} {:>9.1} {:>8.1} {:>8.1}  {}",
                        s.id,
                        if s.up { "up" } else { "DOWN" },
                        s.stats.rate,
                        s.stats.drops,
                        s.stats.late,
                        s.stats.drift * 1000.0,
                        s.buffered.as_secs_f64(),
                        s.bytes as f64 / (1 << 20) as f64,
                        s.last_error.unwrap_or_default()
                    );
                }
                if seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s) {
                    return Ok(());
                }
            }
        }
        CaptureCommand::Record {
            venue,
            seconds,
            out,
            lead_in,
            frame_format,
        } => {
            let loaded = load(&venue)?;
            let fps = loaded.config.fps;
            let ids: Vec<String> = loaded.config.cameras.iter().map(|c| c.id.clone()).collect();
            if seconds <= 0.0 || seconds > loaded.config.buffer.as_secs_f64() {
                bail!(
                    "--seconds must be between 0 and the venue's buffer_seconds ({})",
                    loaded.config.buffer.as_secs_f64()
                );
            }
            let period = Duration::from_secs_f64(1.0 / fps);
            let rig = Rig::start(loaded.config)?;
            eprintln!("cuts decode on {}", rig.decoder().name());
            let mut from = wait_up(&rig, Duration::from_secs(15));
            if let Some(n) = loaded.sim_loop {
                // Simulated cameras loop over their clip: start at the top of a loop, so the
                // recording begins with the simulator's lead-in.
                let slot = (from.as_secs_f64() / period.as_secs_f64()).ceil() as u64;
                let top = slot.div_ceil(n as u64) * n as u64;
                from = period * top as u32;
                while rig.now() < from {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            for s in rig.status().iter().filter(|s| !s.up) {
                eprintln!("warning: camera {} is down; the clip leaves it out", s.id);
            }
            let bar = progress_bar((seconds * 10.0) as u64, "recording", "ds");
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < seconds {
                std::thread::sleep(Duration::from_millis(100));
                bar.set_position((start.elapsed().as_secs_f64() * 10.0) as u64);
            }
            bar.finish_and_clear();
            // A frame's time is its slot's start; keep the cut clear of the next slot.
            let clip = rig.cut(from, from + Duration::from_secs_f64(seconds) - period / 2)?;
            rig.stop();
            let calibrations = &loaded.calibrations;
            write_clip(&out, &clip, &ids, calibrations, fps, lead_in, frame_format)
        }
    }
}

/// Writes a cut as a clip directory: every kept camera's frames, holding a camera's
/// previous frame where a set lacks one, and its calibration.
fn write_clip(
    out: &Path,
    clip: &piste_capture::Clip,
    ids: &[String],
    calibrations: &[String],
    fps: f64,
    lead_in: usize,
    format: FrameFormat,
) -> Result<()> {
    let kept: Vec<usize> = (0..ids.len())
        .filter(|&c| !clip.down.contains(&ids[c]))
        .collect();
    if kept.len() < 2 {
        bail!(
            "only {} cameras delivered frames; a replay needs at least 2",
            kept.len()
        );
    }
    // Start at the first set every kept camera is in.
    let first = clip
        .sets
        .iter()
        .position(|s| kept.iter().all(|&c| s.frames[c].is_some()))
        .context("no instant where every camera has a frame")?;
    let sets = &clip.sets[first..];
    std::fs::create_dir_all(out.join("calibration"))?;
    let mut cameras = Vec::new();
    let bar = progress_bar((sets.len() * kept.len()) as u64, "writing", "frames");
    let mut held = 0usize;
    for &c in &kept {
        let id = &ids[c];
        let file = format!("calibration/{id}.yml");
        std::fs::write(out.join(&file), &calibrations[c])?;
        cameras.push(ClipCamera {
            name: id.clone(),
            calibration: file,
        });
        std::fs::create_dir_all(out.join("frames").join(id))?;
        let mut last = None;
        for (i, set) in sets.iter().enumerate() {
            let frame = match &set.frames[c] {
                Some((_, f)) => {
                    last = Some(f.clone());
                    f.clone()
                }
                None => {
                    held += 1;
                    last.clone().expect("the first set has every camera")
                }
            };
            format.write(&out.join(format.frame_path(id, i)), &frame)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let meta = ClipMeta {
        fps,
        frames: sets.len(),
        lead_in: lead_in.min(sets.len().saturating_sub(1)),
        cameras,
        bounds: None,
        ground_z: None,
        start_unix_ms: None,
        moment: None,
    };
    std::fs::write(out.join("clip.json"), serde_json::to_vec_pretty(&meta)?)?;
    println!(
        "recorded {} frames × {} cameras into {}{}",
        sets.len(),
        kept.len(),
        out.display(),
        if held > 0 {
            format!(" ({held} missing frames held from the previous one)")
        } else {
            String::new()
        }
    );
    Ok(())
}
