//! `piste replay run`: a clip directory through matting, per-frame hulls, kinematics, the key
//! instant at high resolution, and every render, with a progress bar and a timing breakdown.
//!
//! A clip directory (written by `piste replay sim` or `piste capture record`):
//!
//! ```text
//! clip.json                 fps, frames, lead_in, cameras [{name, calibration}], optional
//!                           bounds {min, max}, ground_z, start_unix_ms, moment (context)
//! calibration/NAME.yml      OpenCV FileStorage calibration of each camera
//! frames/NAME/000000.png    every frame of every camera, PNG or binary PPM (`.ppm`: the
//!                           pixels as they are, read with a copy instead of inflating)
//! truth/                    optional ground truth (the simulator's): masks/NAME/000000.png,
//!                           occupancy/000000.bin (128³ bits over `bounds`), truth.json
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use glam::DVec3;
use piste_media::hull::{self, Bounds, Carving};
use piste_media::kinematics::{self, Kinematics, KinematicsConfig, Shape};
use piste_media::matting::{self, Background, Matte, MattingConfig};
use piste_media::mesh::Mesh;
use piste_media::render::slice::{self, Phase};
use piste_media::render::slowmo::{self, Layer};
use piste_media::render::view::{Source, Synthesis};
use piste_media::{Camera, Mask, RgbImage, Window, calib, metrics};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::images::{FrameFormat, progress_bar, read_png, write_mask, write_png};
use super::sim::TRUTH_RESOLUTION;

/// Arguments of `piste replay run`.
#[derive(Args)]
pub struct RunArgs {
    /// The clip directory.
    clip: PathBuf,
    /// Where to write the outputs.
    #[arg(long)]
    out: PathBuf,
    /// Voxels per axis of the per-frame hulls.
    #[arg(long, default_value_t = 128)]
    resolution: u32,
    /// Voxels per axis at the key instant.
    #[arg(long, default_value_t = 256)]
    key_resolution: u32,
    /// Frames of the 360° orbit.
    #[arg(long, default_value_t = 72)]
    orbit_frames: usize,
    /// Views synthesised between two neighbouring real cameras in the bullet-time sweep.
    #[arg(long, default_value_t = 3)]
    bullet_between: usize,
    /// Views that may see a voxel outside the athlete before it is carved away (a camera
    /// whose matte lost part of the athlete); 0, every view agrees, is the tightest hull.
    #[arg(long, default_value_t = 0)]
    tolerance: u32,
    /// Phases in the spacetime slice.
    #[arg(long, default_value_t = 5)]
    phases: usize,
    /// Slow motion of the first camera over the flight (the whole action if there is none):
    /// frames shown per real frame (0 or 1: none).
    #[arg(long, default_value_t = 4)]
    slowmo: usize,
    /// Also write every orbit, bullet-time and slow-motion frame as PNG (DIR/NNNN.png); by default the
    /// sequences are MP4 with the first frame as a PNG still.
    #[arg(long)]
    png_frames: bool,
}

/// The clip's description.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipMeta {
    /// Frames per second.
    pub fps: f64,
    /// Frames per camera.
    pub frames: usize,
    /// Frames before the athlete enters (the background is learned from them).
    pub lead_in: usize,
    /// The cameras.
    pub cameras: Vec<ClipCamera>,
    /// The volume the athlete moves in.
    #[serde(default)]
    pub bounds: Option<BoundsJson>,
    /// Height of the ground plane.
    #[serde(default)]
    pub ground_z: Option<f64>,
    /// Wall-clock time of frame 0, in Unix milliseconds.
    #[serde(default)]
    pub start_unix_ms: Option<u64>,
    /// Context for the moment (sport, event, athletes), in the modules' JSON form.
    #[serde(default)]
    pub moment: Option<serde_json::Value>,
}

/// One camera of a clip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipCamera {
    /// Its name; frames are under `frames/NAME/`.
    pub name: String,
    /// Its calibration file, relative to the clip.
    pub calibration: String,
}

/// A box in JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct BoundsJson {
    /// Lowest corner.
    pub min: [f64; 3],
    /// Highest corner.
    pub max: [f64; 3],
}

/// A clip on disk.
pub struct Clip {
    dir: PathBuf,
    meta: ClipMeta,
    cameras: Vec<Camera>,
    /// How each camera's frames are stored.
    formats: Vec<FrameFormat>,
    truth: Option<serde_json::Value>,
}

impl Clip {
    /// Opens a clip directory, checking that it is complete before any work starts.
    pub fn open(dir: &Path) -> Result<Clip> {
        let meta_path = dir.join("clip.json");
        let text = std::fs::read_to_string(&meta_path)
            .with_context(|| format!("cannot read {}", meta_path.display()))?;
        let meta: ClipMeta = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a clip description", meta_path.display()))?;
        if meta.cameras.len() < 2 {
            bail!(
                "{}: a replay needs at least 2 cameras, the clip has {}",
                meta_path.display(),
                meta.cameras.len()
            );
        }
        if meta.lead_in == 0 {
            bail!(
                "{}: the clip has no lead-in (lead_in = 0); the background is learned from frames before the athlete enters",
                meta_path.display()
            );
        }
        if meta.lead_in >= meta.frames {
            bail!(
                "{}: lead_in {} leaves no frame with the athlete in a clip of {} frames",
                meta_path.display(),
                meta.lead_in,
                meta.frames
            );
        }
        let mut cameras = Vec::with_capacity(meta.cameras.len());
        let mut formats = Vec::with_capacity(meta.cameras.len());
        for camera in &meta.cameras {
            let path = dir.join(&camera.calibration);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut parsed = calib::opencv::parse(&path.display().to_string(), &text)?;
            parsed.name = camera.name.clone();
            let frames_dir = dir.join("frames").join(&camera.name);
            let mut counts = [0usize; FrameFormat::ALL.len()];
            for entry in std::fs::read_dir(&frames_dir)
                .with_context(|| format!("cannot read {}", frames_dir.display()))?
            {
                let path = entry?.path();
                let extension = path.extension().and_then(|x| x.to_str());
                if let Some(k) = FrameFormat::ALL
                    .iter()
                    .position(|f| Some(f.extension()) == extension)
                {
                    counts[k] += 1;
                }
            }
            // The format the camera's frames are in: the one with the most files.
            let (k, count) = counts
                .into_iter()
                .enumerate()
                .max_by_key(|(_, count)| *count)
                .expect("formats");
            if count != meta.frames {
                bail!(
                    "{}: {} frames, but clip.json says {}",
                    frames_dir.display(),
                    count,
                    meta.frames
                );
            }
            cameras.push(parsed);
            formats.push(FrameFormat::ALL[k]);
        }
        let truth_path = dir.join("truth/truth.json");
        let truth = match std::fs::read_to_string(&truth_path) {
            Ok(text) => Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not valid JSON", truth_path.display()))?,
            ),
            Err(_) => None,
        };
        Ok(Clip {
            dir: dir.to_path_buf(),
            meta,
            cameras,
            formats,
            truth,
        })
    }

    fn frame(&self, camera: usize, index: usize) -> Result<RgbImage> {
        let format = self.formats[camera];
        let path = self
            .dir
            .join(format.frame_path(&self.meta.cameras[camera].name, index));
        let image = format.read(&path)?;
        let cam = &self.cameras[camera];
        if (image.width, image.height) != (cam.width, cam.height) {
            bail!(
                "{}: {}x{}, but its calibration is for {}x{}",
                path.display(),
                image.width,
                image.height,
                cam.width,
                cam.height
            );
        }
        Ok(image)
    }

    fn truth_mask(&self, camera: usize, index: usize) -> Option<Result<Mask>> {
        let path = self
            .dir
            .join("truth/masks")
            .join(&self.meta.cameras[camera].name)
            .join(format!("{index:06}.png"));
        path.is_file().then(|| {
            let image = read_png(&path)?;
            Ok(Mask {
                width: image.width,
                height: image.height,
                data: image.data.chunks_exact(3).map(|p| p[0] >= 128).collect(),
            })
        })
    }

    /// The true occupancy of a frame and the grid it is on (`truth/truth.json` gives each
    /// frame's grid, `truth/occupancy/NNNNNN.bin` its bits), if the clip has ground truth.
    fn truth_occupancy(&self, index: usize) -> Option<Result<(Bounds, Vec<bool>)>> {
        let path = self
            .dir
            .join("truth/occupancy")
            .join(format!("{index:06}.bin"));
        let grid = self
            .truth
            .as_ref()?
            .get("frames")?
            .get(index)?
            .get("grid")?;
        let corner = |key: &str| -> Option<DVec3> {
            let v = grid.get(key)?.as_array()?;
            Some(DVec3::new(
                v.first()?.as_f64()?,
                v.get(1)?.as_f64()?,
                v.get(2)?.as_f64()?,
            ))
        };
        let bounds = Bounds {
            min: corner("min")?,
            max: corner("max")?,
        };
        path.is_file().then(|| {
            let n = TRUTH_RESOLUTION as usize;
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if bytes.len() * 8 < n * n * n {
                bail!(
                    "{}: {} bytes is too short for {n}³ voxels",
                    path.display(),
                    bytes.len()
                );
            }
            Ok((
                bounds,
                (0..n * n * n)
                    .map(|i| bytes[i / 8] >> (i % 8) & 1 == 1)
                    .collect(),
            ))
        })
    }

    fn bounds(&self) -> Bounds {
        match self.meta.bounds {
            Some(b) => Bounds {
                min: DVec3::from_array(b.min),
                max: DVec3::from_array(b.max),
            },
            None => super::hull::focus_bounds(&self.cameras),
        }
    }
}

/// Stage timings, printed at the end.
#[derive(Default)]
struct Timings(Vec<(&'static str, Spent)>);

impl Timings {
    fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let started = Mark::now();
        let value = f()?;
        self.0.push((stage, started.spent()));
        Ok(value)
    }

    /// What `stage` took; nothing if it did not run.
    fn of(&self, stage: &str) -> Spent {
        self.0
            .iter()
            .find(|(s, _)| *s == stage)
            .map_or(Spent::default(), |(_, spent)| *spent)
    }
}

/// A moment by the wall clock and by the CPU time of all the process's threads.
#[derive(Clone, Copy)]
struct Mark {
    wall: Instant,
    cpu: Duration,
}

impl Mark {
    fn now() -> Mark {
        Mark {
            wall: Instant::now(),
            cpu: process_cpu(),
        }
    }

    /// What was spent since this mark.
    fn spent(&self) -> Spent {
        let now = Mark::now();
        Spent {
            wall: now.wall - self.wall,
            cpu: Some(now.cpu.saturating_sub(self.cpu)),
        }
    }
}

/// Wall-clock time spent on a stage, and the CPU time of every thread over it (none for a
/// stage that ran beside another, whose CPU time cannot be told apart). CPU time over wall
/// time says how busy the cores were: on 2 cores, 2 is all of them.
#[derive(Clone, Copy, Default)]
struct Spent {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Spent {
    /// Wall-clock time alone.
    fn wall(wall: Duration) -> Spent {
        Spent { wall, cpu: None }
    }

    /// Work that ran on one thread at a time, beside other work: its wall-clock time, and
    /// the CPU time its threads gave it.
    fn beside(wall: Duration, cpu: Duration) -> Spent {
        Spent {
            wall,
            cpu: Some(cpu),
        }
    }
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, other: Spent) {
        self.wall += other.wall;
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

impl std::ops::Sub for Spent {
    type Output = Spent;

    fn sub(self, other: Spent) -> Spent {
        Spent {
            wall: self.wall.saturating_sub(other.wall),
            cpu: self
                .cpu
                .map(|a| a.saturating_sub(other.cpu.unwrap_or_default())),
        }
    }
}

/// Bytes in a mebibyte.
const MIB: f64 = 1024.0 * 1024.0;

/// The most memory the process has held in RAM at once (its peak resident set), if the
/// system says.
fn peak_memory() -> Option<u64> {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for the call to write.
    let read = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    // Linux counts `ru_maxrss` in kibibytes.
    (read && usage.ru_maxrss > 0).then(|| usage.ru_maxrss as u64 * 1024)
}

/// The CPU time all the process's threads have used so far.
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The CPU time the calling thread has used so far.
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// A CPU-time clock's reading (zero where it cannot be read).
fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to write; both clock ids used are
    // constants every POSIX system defines.
    let read = unsafe { libc::clock_gettime(clock, &mut now) } == 0;
    if read {
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}

/// Runs `piste replay run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let total = Mark::now();
    let mut timings = Timings::default();
    let clip = timings.time("open clip", || Clip::open(&args.clip))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let n_cams = clip.cameras.len();
    let meta = &clip.meta;
    let bounds = clip.bounds();

    let config = MattingConfig::default();
    let backgrounds: Vec<Background> = timings.time("learn backgrounds", || {
        (0..n_cams)
            .into_par_iter()
            .map(|c| {
                let plates = (0..meta.lead_in)
                    .map(|i| clip.frame(c, i))
                    .collect::<Result<Vec<_>>>()?;
                let refs: Vec<&RgbImage> = plates.iter().collect();
                Background::learn(&refs, &config)
                    .with_context(|| format!("camera {}", clip.cameras[c].name))
            })
            .collect()
    })?;
    // Camera `c`'s frame `i`, its matte and what tells a live signal; and the CPU time they
    // took (one thread reads and mattes a camera's frame). The matting looks first where
    // `lead` says the camera's last frames found the athlete.
    let matte_camera = |c: usize, i: usize, lead: Option<&matting::Lead>| {
        let started = thread_cpu();
        let frame = clip.frame(c, i)?;
        let size = (frame.width as usize, frame.height as usize);
        let search = lead.and_then(|lead| lead.search(size));
        let matte = backgrounds[c].matte_near(&frame, &config, search);
        let signal = Signal::of(&frame);
        anyhow::Ok(((frame, matte, signal), thread_cpu().saturating_sub(started)))
    };
    // Every camera's frame `i` matted in parallel, and their CPU time. Of the pictures only
    // the slice camera's athlete is kept: each frame goes as soon as it is matted, so its
    // memory serves the next camera's instead of fresh pages the kernel must zero first.
    let matte_frame = |i: usize, leads: &[matting::Lead]| -> Result<(Matted, Duration)> {
        let cameras = every_camera(n_cams, |c| {
            let ((frame, matte, signal), cpu) = matte_camera(c, i, leads.get(c))?;
            let athlete = (c == 0).then(|| frame.window(matte.alpha.bounds));
            Ok(((athlete, matte, signal), cpu))
        })?;
        let cpu = cameras.iter().map(|(_, cpu)| *cpu).sum();
        Ok((cameras.into_iter().map(|(matted, _)| matted).collect(), cpu))
    };

    // Pass over every frame with the athlete: matte, carve, measure; keep what the slice needs.
    let carving = Carving {
        resolution: args.resolution,
        tolerance: args.tolerance.min(n_cams as u32 - 2),
        min_views: (n_cams as u32 / 2).max(2),
    };
    let progress = progress_bar((meta.frames - meta.lead_in) as u64, "matte+hull", "frames");
    let mut health = Health::new(n_cams);
    let mut shake = matting::Shake::new(n_cams);
    let mut leads = vec![matting::Lead::default(); n_cams];
    let mut shapes = Vec::new();
    let mut slice_frames = Vec::new();
    let mut mask_ious = Vec::new();
    let mut voxel_ious = Vec::new();
    let (mut matting_time, mut hull_time, mut truth_time) =
        (Spent::default(), Duration::ZERO, Spent::default());
    let mut both_time = Spent::default();
    // A frame is matted while the one before is settled and carved: the cameras' mattes
    // and the hull's views are uneven tasks, and either leaves a core idle at its end.
    let t = Mark::now();
    let (first, cpu) = matte_frame(meta.lead_in, &leads)?;
    let mut next = Some(first);
    let spent = t.spent();
    both_time += spent;
    matting_time += Spent::beside(spent.wall, cpu);
    for i in meta.lead_in..meta.frames {
        let t = Mark::now();
        let (mut athlete, mut mattes) = (None, Vec::new());
        let matted = next.take().expect("frame i was matted in the round before");
        for (c, (kept, matte, signal)) in matted.into_iter().enumerate() {
            leads[c].follow(&matte);
            athlete = athlete.or(kept);
            mattes.push(matte);
            if let Some(warning) = health.check(c, i, signal) {
                progress.suspend(|| {
                    eprintln!(
                        "warning: camera {}: {warning}; left out of the hulls",
                        clip.cameras[c].name
                    )
                });
            }
        }
        let ((seen, shape, permissive, hull_wall), upcoming) = rayon::join(
            || {
                let started = Instant::now();
                let seen = shake.track(&clip.cameras, &mattes);
                let (hull, permissive) =
                    matting::settle(&seen, &mut mattes, &health.live, bounds, carving);
                let shape = Shape::of(i as f64 / meta.fps, &hull);
                (seen, shape, permissive, started.elapsed())
            },
            || {
                let started = Instant::now();
                let matted = (i + 1 < meta.frames).then(|| matte_frame(i + 1, &leads));
                (matted, started.elapsed())
            },
        );
        let (matted, matting_wall) = upcoming;
        let (matted, matting_cpu) = matted.transpose()?.unzip();
        next = matted;
        matting_time += Spent::beside(matting_wall, matting_cpu.unwrap_or_default());
        hull_time += hull_wall;
        both_time += t.spent();
        if let Some(shape) = shape {
            shapes.push((i, shape));
        }
        // The quality report, when the clip has ground truth (timed apart: it is not replay
        // work, and reading the true masks costs as much as reading the frames).
        let t = Mark::now();
        for (c, matte) in mattes.iter().enumerate() {
            if let Some(truth) = clip.truth_mask(c, i) {
                mask_ious.push(metrics::iou(&matte.mask, &truth?));
            }
        }
        if let Some(truth) = clip.truth_occupancy(i) {
            // Quality: the same views carved on the truth's own grid.
            let (grid, truth) = truth?;
            let views = matting::live_views(&seen, &permissive, &health.live);
            let ours = hull::carve(
                &views,
                grid,
                Carving {
                    resolution: TRUTH_RESOLUTION,
                    ..carving
                },
            );
            let (mut inter, mut union) = (0usize, 0usize);
            for (a, b) in truth.iter().zip(&ours.occupied) {
                inter += usize::from(*a && *b);
                union += usize::from(*a || *b);
            }
            if union > 0 {
                voxel_ious.push(inter as f64 / union as f64);
            }
        }
        truth_time += t.spent();
        let (athlete, matte) = athlete
            .zip(mattes.into_iter().next())
            .expect("the slice camera's athlete and matte");
        slice_frames.push((i, athlete, matte.alpha));
        progress.inc(1);
    }
    progress.finish_and_clear();
    // Matting and the per-frame hulls ran side by side: each one's own wall-clock time (and
    // matting's CPU time, which its threads measure), then the two together. The hulls'
    // CPU time is the rest of the two's.
    timings.0.push(("matting", matting_time));
    timings.0.push((
        "per-frame hulls",
        Spent {
            wall: hull_time,
            cpu: both_time
                .cpu
                .zip(matting_time.cpu)
                .map(|(both, matting)| both.saturating_sub(matting)),
        },
    ));
    timings.0.push((MATTING_AND_HULLS, both_time));
    if !mask_ious.is_empty() || !voxel_ious.is_empty() {
        timings.0.push((TRUTH_STAGE, truth_time));
    }
    if shapes.is_empty() {
        bail!("no frame shows the athlete in every camera; check the calibration and the bounds");
    }

    let kinematics = timings.time("kinematics", || {
        let list: Vec<Shape> = shapes.iter().map(|(_, s)| *s).collect();
        Ok(kinematics::measure(&list, KinematicsConfig::default()))
    })?;
    let key_time = kinematics.apex_s.unwrap_or(shapes[shapes.len() / 2].1.t);
    let key = shapes
        .iter()
        .min_by(|a, b| {
            (a.1.t - key_time)
                .abs()
                .total_cmp(&(b.1.t - key_time).abs())
        })
        .expect("shapes")
        .0;

    let plates: Vec<RgbImage> = backgrounds.par_iter().map(Background::plate).collect();
    let slice_image = timings.time("spacetime slice", || {
        let indices = slice::select_phases(&kinematics, args.phases);
        let phases: Vec<Phase<'_>> = indices
            .iter()
            .map(|&k| Phase {
                colour: &slice_frames[k].1,
                alpha: &slice_frames[k].2,
            })
            .collect();
        Ok(slice::composite(&plates[0], &phases, 0.35))
    })?;
    // The slice is written on a thread of its own (encoding two stills on one core would
    // leave the other idle), as PNG and as JPEG, for feeds and pages that take nothing else.
    let slice_written = {
        let (png, jpeg) = (args.out.join("slice.png"), args.out.join("slice.jpg"));
        std::thread::spawn(move || -> Result<()> {
            write_png(&png, &slice_image)?;
            piste_capture::encode::still(&slice_image, piste_capture::encode::Still::Jpeg, &jpeg)?;
            Ok(())
        })
    };

    // The key instant: its frames read and matted again (the pass above kept only the first
    // camera's), then carved finely.
    let (key_frames, key_mattes, key_cameras, key_hull) =
        timings.time("key instant hull", || {
            let matted = every_camera(n_cams, |c| {
                matte_camera(c, key, None).map(|((frame, matte, _), _)| (frame, matte))
            })?;
            let (frames, mut mattes): (Vec<RgbImage>, Vec<Matte>) = matted.into_iter().unzip();
            let cameras = shake.cameras(&clip.cameras, &mattes);
            let (hull, _) = matting::settle(
                &cameras,
                &mut mattes,
                &health.live,
                bounds,
                Carving {
                    resolution: args.key_resolution,
                    ..carving
                },
            );
            Ok((frames, mattes, cameras, hull))
        })?;
    // The backgrounds' tables (about 30 MB a camera) are done with: freed now, their memory
    // serves the renders' frames instead of fresh pages (which the kernel must zero first).
    drop(backgrounds);
    let sources = |skip: Option<usize>| -> Vec<Source<'_>> {
        (0..n_cams)
            .filter(|c| Some(*c) != skip)
            .map(|c| Source {
                camera: &key_cameras[c],
                frame: &key_frames[c],
                background: &plates[c],
                mask: Some(&key_mattes[c].mask),
            })
            .collect()
    };
    // Each real camera's view of the key hull, for every render.
    let synthesis = timings.time("views of the key hull", || {
        Ok(Synthesis::new(&key_hull, sources(None)))
    })?;
    let centre = shapes
        .iter()
        .find(|(i, _)| *i == key)
        .map(|(_, s)| s.centroid)
        .expect("key shape");
    let orbit = orbit_cameras(&clip.cameras, centre, args.orbit_frames);
    // A sequence as NAME.mp4 (H.264 at the clip's rate) with its first frame as NAME.png,
    // and with --png-frames every frame as NAME/NNNN.png. Frames are encoded as they come.
    let write_sequence = |name: &str, frames: &mut dyn Iterator<Item = RgbImage>| -> Result<()> {
        let dir = args.out.join(name);
        if args.png_frames {
            std::fs::create_dir_all(&dir)?;
        }
        // The first error writing a PNG, reported once the video is done.
        let mut failed: Option<anyhow::Error> = None;
        let frames = frames.enumerate().map(|(k, frame)| {
            let mut still = |path: PathBuf| {
                if let (None, Err(e)) = (&failed, write_png(&path, &frame)) {
                    failed = Some(e);
                }
            };
            if k == 0 {
                still(args.out.join(format!("{name}.png")));
            }
            if args.png_frames {
                still(dir.join(format!("{k:04}.png")));
            }
            frame
        });
        piste_capture::encode::mp4(frames, meta.fps, &args.out.join(format!("{name}.mp4")))?;
        failed.map_or(Ok(()), Err)
    };
    // The orbit as RGB frames, the replay engine's output; they are rendered all at once
    // (each render is parallel inside too, but has serial steps that would leave a core idle).
    let orbit_frames: Vec<RgbImage> = timings.time("orbit", || {
        Ok(orbit
            .par_iter()
            .map(|camera| synthesis.render(camera, meta.ground_z))
            .collect())
    })?;
    // The benchmark's standard workload ends here: everything so far but the comparison
    // with the ground truth. What follows writes files (video encoding belongs to capture,
    // and the mesh is an export) and renders further sequences.
    let standard_end = total.spent();
    slice_written
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    // The key instant's mesh is built and written beside the orbit's encoding, which leaves
    // part of a core idle.
    let (mesh, video) = std::thread::scope(|scope| {
        let mesh = scope.spawn(|| -> Result<Duration> {
            let started = Instant::now();
            let mesh = Mesh::from_hull(&key_hull);
            std::fs::write(args.out.join("key.glb"), mesh.to_glb())?;
            std::fs::write(args.out.join("key.ply"), mesh.to_ply())?;
            Ok(started.elapsed())
        });
        let started = Instant::now();
        let video =
            write_sequence("orbit", &mut orbit_frames.into_iter()).map(|()| started.elapsed());
        let mesh = mesh
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (mesh, video)
    });
    // (Wall-clock time alone: the two share the cores.)
    timings.0.push(("orbit video", Spent::wall(video?)));
    timings
        .0
        .push(("mesh (beside the video)", Spent::wall(mesh?)));
    // Frames are rendered a few at once (each render is parallel inside too, but has serial
    // steps that would leave a core idle), and handed to the encoder in order.
    let at_once = 2 * rayon::current_num_threads();
    let render_sequence = |name: &str, cameras: &[Camera]| -> Result<()> {
        write_sequence(
            name,
            &mut cameras.chunks(at_once).flat_map(|chunk| {
                chunk
                    .par_iter()
                    .map(|camera| synthesis.render(camera, meta.ground_z))
                    .collect::<Vec<_>>()
            }),
        )
    };
    timings.time("bullet time", || {
        render_sequence(
            "bullet",
            &bullet_cameras(&clip.cameras, centre, args.bullet_between),
        )
    })?;
    if args.slowmo > 1 {
        timings.time("slow motion", || {
            // The slice's camera's frames over the flight, read again (the pass kept only
            // the athlete of each).
            let frames = slow_motion_span(&slice_frames, &shapes, &kinematics, meta.fps)
                .map(|(i, alpha, centroid)| Ok((clip.frame(0, i)?, alpha, centroid)))
                .collect::<Result<Vec<_>>>()?;
            let mut frames =
                slow_motion(&clip.cameras[0], &plates[0], &frames, args.slowmo).peekable();
            if frames.peek().is_none() {
                return Ok(());
            }
            write_sequence("slowmo", &mut frames)
        })?;
    }
    write_mask(&args.out.join("key_mask_cam0.png"), &key_mattes[0].mask)?;

    // A held-out camera rendered from the others, against its own frame (both as the
    // camera saw it, shake included).
    let held_out = n_cams / 2;
    let psnr = timings.time("held-out view", || {
        let views: Vec<_> = (0..n_cams)
            .filter(|c| *c != held_out && health.live[*c])
            .map(|c| hull::View::new(&key_cameras[c], &key_mattes[c].mask))
            .collect();
        let hull = hull::carve_tracked(&views, bounds, carving);
        let rendered = Synthesis::new(&hull, sources(Some(held_out)))
            .render(&key_cameras[held_out], meta.ground_z);
        write_png(&args.out.join("held_out.png"), &rendered)?;
        Ok(metrics::psnr(&rendered, &key_frames[held_out]))
    })?;

    let moment = moment_json(meta, &kinematics);
    std::fs::write(
        args.out.join("moment.json"),
        serde_json::to_string_pretty(&moment)? + "\n",
    )?;
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let quality = json!({
        "mask_iou_mean": mean(&mask_ious),
        "mask_iou_min": mask_ious.iter().copied().reduce(f64::min),
        "voxel_iou_mean": mean(&voxel_ious),
        "held_out_camera": clip.cameras[held_out].name,
        "held_out_psnr_db": psnr,
        "key_frame": key,
        "left_out": health.report(&clip.cameras),
    });
    std::fs::write(
        args.out.join("quality.json"),
        serde_json::to_string_pretty(&quality)? + "\n",
    )?;
    let elapsed = total.spent();
    let truth = timings.of(TRUTH_STAGE);
    let standard = standard_end - truth;
    timings.0.push(("total", elapsed));
    // What a clip without ground truth (a venue's) costs.
    timings.0.push(("replay total", elapsed - truth));
    timings.0.push((STANDARD_STAGE, standard));
    let stages: Vec<_> = timings
        .0
        .iter()
        .map(|(stage, spent)| {
            json!({
                "stage": stage,
                "seconds": spent.wall.as_secs_f64(),
                "cpu_seconds": spent.cpu.map(|d| d.as_secs_f64()),
            })
        })
        .collect();
    let peak = peak_memory();
    let report = json!({ "stages": stages, "peak_memory_bytes": peak });
    std::fs::write(
        args.out.join("timings.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;

    println!(
        "replay of {} cameras x {} frames -> {}",
        n_cams,
        meta.frames,
        args.out.display()
    );
    println!("  {:<24} {:>10} {:>10}", "stage", "wall", "cpu");
    for (stage, spent) in &timings.0 {
        let cpu = spent
            .cpu
            .map_or("-".to_string(), |d| format!("{:.3} s", d.as_secs_f64()));
        println!(
            "  {stage:<24} {:>8.3} s {cpu:>10}",
            spent.wall.as_secs_f64()
        );
    }
    if let Some(bytes) = peak {
        println!("  {:<24} {:>6.0} MiB", "peak memory", bytes as f64 / MIB);
    }
    println!("quality {quality}");
    Ok(())
}

/// `each(c)` for every camera `c` of `n`, in parallel, a camera a task: a thread idle at the
/// end takes the next camera, not a run of cameras that another thread split off.
fn every_camera<T: Send>(
    n: usize,
    each: impl Fn(usize) -> Result<T> + Sync + Send,
) -> Result<Vec<T>> {
    (0..n).into_par_iter().with_max_len(1).map(each).collect()
}

/// One frame of every camera: the athlete's pixels (the slice camera's alone), its matte and
/// what tells a live signal.
type Matted = Vec<(Option<Window<[u8; 3]>>, Matte, Signal)>;

/// Matting and the per-frame hulls, which run side by side, together.
const MATTING_AND_HULLS: &str = "matting and hulls";

/// The stage that compares with the ground truth (left out of "replay total").
const TRUTH_STAGE: &str = "ground-truth comparison";

/// The replay benchmark's standard workload: the clip opened, backgrounds learned, matting,
/// per-frame hulls, the spacetime slice, the key instant and the orbit's RGB frames, end to
/// end (wall clock, less the ground-truth comparison). The orbit's video, the mesh, bullet
/// time, slow motion and the held-out check follow it.
const STANDARD_STAGE: &str = "standard workload";

/// Cameras whose frames cannot be carved from: black (no signal) or frozen (the same bytes
/// as the frame before, which a live sensor never sends).
struct Health {
    /// Whether each camera is in use for the current frame.
    live: Vec<bool>,
    /// Per camera: every 61st byte of the frame before.
    previous: Vec<Option<Vec<u8>>>,
    /// Per camera: why it was left out, from which frame, for how many frames.
    left_out: Vec<Option<(&'static str, usize, usize)>>,
}

impl Health {
    fn new(cameras: usize) -> Self {
        Health {
            live: vec![true; cameras],
            previous: vec![None; cameras],
            left_out: vec![None; cameras],
        }
    }

    /// Checks camera `c`'s frame `index` by its signal; a warning the first time the camera
    /// is left out.
    fn check(&mut self, c: usize, index: usize, signal: Signal) -> Option<String> {
        let reason = if signal.black {
            Some("black")
        } else if self.previous[c].as_ref() == Some(&signal.sample) {
            Some("frozen")
        } else {
            None
        };
        self.previous[c] = Some(signal.sample);
        self.live[c] = reason.is_none();
        let reason = reason?;
        match &mut self.left_out[c] {
            Some((_, _, count)) => {
                *count += 1;
                None
            }
            slot => {
                *slot = Some((reason, index, 1));
                Some(format!("{reason} from frame {index}"))
            }
        }
    }

    fn report(&self, cameras: &[Camera]) -> serde_json::Value {
        json!(
            self.left_out
                .iter()
                .zip(cameras)
                .filter_map(|(l, c)| l.map(|(reason, from, frames)| json!({
                    "camera": c.name, "reason": reason, "from_frame": from, "frames": frames,
                })))
                .collect::<Vec<_>>()
        )
    }
}

/// What tells a camera's frame from no signal: whether it is black (its brightest sampled
/// pixel is below 16 of 255), and a sample a frozen camera repeats: every 16th byte of every
/// 8th row, so that anything taller than 8 pixels and wider than 5 that moves changes it
/// (sensor noise changes it everywhere), while reading an eighth of the frame.
struct Signal {
    black: bool,
    sample: Vec<u8>,
}

impl Signal {
    fn of(frame: &RgbImage) -> Signal {
        Signal {
            black: frame.data.iter().step_by(97).all(|v| *v < 16),
            sample: frame
                .data
                .chunks_exact((frame.width as usize * 3).max(1))
                .step_by(8)
                .flat_map(|row| row.iter().copied().step_by(16))
                .collect(),
        }
    }
}

/// The athlete in one frame of the slice's camera: the frame's index, its pixels over the
/// alpha's box, and the alpha.
type Athlete = (usize, Window<[u8; 3]>, Window<f32>);

/// The frames slow motion spans, from two frames before takeoff to two after landing (all
/// of them without a flight): each one's index, the athlete's alpha in the slice's camera,
/// and the athlete's centroid.
fn slow_motion_span<'a>(
    frames: &'a [Athlete],
    shapes: &'a [(usize, Shape)],
    kinematics: &Kinematics,
    fps: f64,
) -> impl Iterator<Item = (usize, &'a Window<f32>, DVec3)> + 'a {
    let margin = 2.0 / fps;
    let (from, to) = match (kinematics.takeoff_s, kinematics.landing_s) {
        (Some(a), Some(b)) => (a - margin, b + margin),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    frames.iter().filter_map(move |(i, _, alpha)| {
        let shape = &shapes.iter().find(|(j, _)| j == i)?.1;
        (from..=to)
            .contains(&shape.t)
            .then_some((*i, alpha, shape.centroid))
    })
}

/// Slow motion of `camera` (the slice's camera) through `frames` (each with the athlete's
/// alpha and centroid): `factor` frames per real frame, each made when it is asked for.
fn slow_motion<'a>(
    camera: &Camera,
    plate: &'a RgbImage,
    frames: &'a [(RgbImage, &'a Window<f32>, DVec3)],
    factor: usize,
) -> impl Iterator<Item = RgbImage> + 'a {
    let layers: Vec<Layer<'_>> = frames
        .iter()
        .filter_map(|(frame, alpha, centroid)| {
            Some(Layer::new(frame, alpha, camera.project(*centroid)?))
        })
        .collect();
    let steps: Vec<(usize, f32)> = (0..layers.len().saturating_sub(1))
        .flat_map(|k| (0..factor).map(move |s| (k, s as f32 / factor as f32)))
        .collect();
    let last = layers.last().map(|layer| layer.frame.clone());
    steps
        .into_iter()
        .map(move |(k, tau)| slowmo::between(plate, &layers[k], &layers[k + 1], tau))
        .chain(last)
}

/// Cameras on a circle around `centre` at the rig's mean distance and height.
fn orbit_cameras(rig: &[Camera], centre: DVec3, count: usize) -> Vec<Camera> {
    let reference = &rig[0];
    let radius = rig
        .iter()
        .map(|c| (c.center() - centre).truncate().length())
        .sum::<f64>()
        / rig.len() as f64;
    let height = rig.iter().map(|c| c.center().z).sum::<f64>() / rig.len() as f64;
    (0..count)
        .map(|k| {
            let angle = std::f64::consts::TAU * k as f64 / count as f64;
            let eye = DVec3::new(
                centre.x + radius * angle.cos(),
                centre.y + radius * angle.sin(),
                height,
            );
            Camera::look_at(
                format!("orbit{k:03}"),
                eye,
                centre,
                DVec3::Z,
                reference.k,
                reference.width,
                reference.height,
            )
        })
        .collect()
}

/// The real cameras in order of azimuth around `centre`, with `between` views synthesised
/// between each neighbouring pair.
fn bullet_cameras(rig: &[Camera], centre: DVec3, between: usize) -> Vec<Camera> {
    let mut ordered: Vec<&Camera> = rig.iter().collect();
    ordered.sort_by(|a, b| {
        let az = |c: &Camera| (c.center() - centre).truncate().to_angle();
        az(a).total_cmp(&az(b))
    });
    let mut out = Vec::new();
    for pair in ordered.windows(2) {
        for s in 0..=between {
            let t = s as f64 / (between + 1) as f64;
            out.push(Camera::between(
                pair[0],
                pair[1],
                t,
                format!("bullet{:04}", out.len()),
            ));
        }
    }
    if let Some(last) = ordered.last() {
        out.push((*last).clone());
    }
    out
}

/// The moment in the modules' JSON form: the clip's context with the measured kinematics.
fn moment_json(meta: &ClipMeta, k: &Kinematics) -> serde_json::Value {
    let at = |t: f64| {
        meta.start_unix_ms
            .map(|start| start + (t * 1000.0).round() as u64)
    };
    let kmh = |ms: f64| ms * 3.6;
    let mut moment = meta.moment.clone().unwrap_or_else(|| {
        json!({
            "id": "replay",
            "sport": "Other",
            "discipline": "",
            "event": { "name": "", "phase": "", "venue": "", "medal_event": false, "ends_at_ms": 0, "hill_record_m": null },
            "athletes": [],
            "rank": null,
            "result": null,
            "detections": [],
        })
    });
    moment["at_ms"] = json!(at(k.apex_s.unwrap_or(0.0)).unwrap_or(0));
    moment["kinematics"] = json!({
        "air_time_s": k.air_time_s,
        "max_height_m": k.max_height_m,
        "distance_m": k.distance_m,
        "takeoff_speed_kmh": k.takeoff_speed_ms.map(kmh),
        "max_speed_kmh": kmh(k.max_speed_ms),
        "rotations": k.rotations,
        "flips": k.flips,
        "takeoff_ms": k.takeoff_s.and_then(at),
        "landing_ms": k.landing_s.and_then(at),
        "landing_impact_g": null,
        "landing": null,
    });
    moment
}
