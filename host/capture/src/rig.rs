//! The running rig: one GStreamer pipeline per camera on one shared clock and base time, an
//! appsink feeding each camera's [`ReplayBuffer`], and a supervisor that restarts failed
//! pipelines with backoff, marks silent cameras down, and keeps the memory bound.

use crate::buffer::{AccessUnit, CameraStats, ReplayBuffer, group_frame_sets};
use crate::decode::{Decoder, Decoders};
use crate::{Error, Result};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use piste_media::RgbImage;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames that a program makes (the venue simulator), fed to the rig through `appsrc`.
pub trait FrameSource: Send + Sync + 'static {
    /// Frame width.
    fn width(&self) -> u32;
    /// Frame height.
    fn height(&self) -> u32;
    /// The frame for slot `index` of the rig's frame grid (slot k is due k frame periods
    /// after the rig starts); `None` ends the source.
    fn frame(&self, index: u64) -> Option<RgbImage>;
}

/// Where a camera's frames come from.
#[derive(Clone)]
pub enum SourceSpec {
    /// A `gst-launch-1.0` description that ends in H.264 (`udpsrc port=5000 ! tsdemux`,
    /// `srtsrc uri=srt://:7001 ! tsdemux`, `rtspsrc location=… ! rtph264depay`), or in raw
    /// video when `raw` (`v4l2src`), which is then encoded for the buffer.
    Launch {
        /// The description.
        description: String,
        /// Whether it delivers raw video.
        raw: bool,
    },
    /// Frames from a program, through `appsrc`, paced at the rig's rate and encoded like a
    /// raw camera: the demo and the tests take the same path as real cameras.
    Frames(Arc<dyn FrameSource>),
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Launch { description, raw } => {
                write!(f, "Launch({description:?}, raw: {raw})")
            }
            SourceSpec::Frames(_) => f.write_str("Frames"),
        }
    }
}

/// One camera of the rig.
#[derive(Clone, Debug)]
pub struct CameraSpec {
    /// Its id.
    pub id: String,
    /// Its source.
    pub source: SourceSpec,
}

/// How the rig runs.
#[derive(Clone, Debug)]
pub struct RigConfig {
    /// The cameras.
    pub cameras: Vec<CameraSpec>,
    /// The cameras' nominal frame rate.
    pub fps: f64,
    /// Seconds of every camera the buffer keeps.
    pub buffer: Duration,
    /// The most bytes the buffer may hold across cameras; past it the oldest groups of
    /// pictures go first, from the camera holding most.
    pub memory_bytes: u64,
    /// A camera that sends nothing for this long is marked down.
    pub down_after: Duration,
    /// The H.264 decoder that cuts go through.
    pub decoder: Decoder,
}

/// A camera's state, for `capture watch`.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraStatus {
    /// Its id.
    pub id: String,
    /// Whether frames are arriving.
    pub up: bool,
    /// Its stream's statistics.
    pub stats: CameraStats,
    /// Seconds buffered.
    pub buffered: Duration,
    /// Bytes buffered.
    pub bytes: u64,
    /// Times its pipeline was restarted.
    pub restarts: u32,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// Frames of every camera at (nearly) one instant.
#[derive(Clone, Debug)]
pub struct FrameSet {
    /// The set's time on the rig clock.
    pub t: Duration,
    /// Each camera's frame and its own time, in rig order; `None` where a camera has none
    /// within half a frame period.
    pub frames: Vec<Option<(Duration, Arc<RgbImage>)>>,
}

/// A cut from the buffer.
#[derive(Clone, Debug)]
pub struct Clip {
    /// Camera ids, in rig order.
    pub cameras: Vec<String>,
    /// The frame sets, in time order.
    pub sets: Vec<FrameSet>,
    /// Cameras that were down or had no frames in the cut: `media` excludes them.
    pub down: Vec<String>,
}

struct Camera {
    spec: CameraSpec,
    buffer: ReplayBuffer,
    up: bool,
    restarts: u32,
    last_error: Option<String>,
    pipeline: Option<gst::Pipeline>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

struct Shared {
    config: RigConfig,
    /// Every camera's decoding pipeline, kept from cut to cut, with `config.decoder`
    /// resolved for this box.
    decoders: Decoders,
    clock: gst::Clock,
    base: gst::ClockTime,
    cameras: Vec<Mutex<Camera>>,
    stop: AtomicBool,
}

impl Shared {
    fn now(&self) -> Duration {
        let t = self.clock.time().saturating_sub(self.base);
        Duration::from_nanos(t.nseconds())
    }
}

/// A running rig.
pub struct Rig {
    shared: Arc<Shared>,
    supervisor: Option<std::thread::JoinHandle<()>>,
    warmer: Option<std::thread::JoinHandle<()>>,
}

const H264_TAIL: &str = "h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=au sync=false max-buffers=400 drop=true";

fn encoder(fps: f64) -> String {
    format!(
        "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast tune=zerolatency key-int-max={} bitrate=6000 ! ",
        fps.round().max(1.0) as u32
    )
}

impl Rig {
    /// Starts every camera. A camera whose source description does not parse is an error
    /// naming it; one whose source fails later is retried with backoff.
    pub fn start(config: RigConfig) -> Result<Rig> {
        crate::init()?;
        let decoder = config.decoder.resolve()?;
        crate::decode::prepare(decoder);
        let clock = gst::SystemClock::obtain();
        let base = clock.time();
        let mut cameras = Vec::new();
        for spec in &config.cameras {
            if let SourceSpec::Launch { description, .. } = &spec.source {
                // Parse once now so a typo is reported at start, naming the camera.
                gst::parse::launch(&format!("{description} ! fakesink")).map_err(|e| {
                    Error::Source {
                        camera: spec.id.clone(),
                        source_text: description.clone(),
                        message: e.to_string(),
                    }
                })?;
            }
            cameras.push(Mutex::new(Camera {
                spec: spec.clone(),
                buffer: ReplayBuffer::new(config.fps),
                up: false,
                restarts: 0,
                last_error: None,
                pipeline: None,
                retry_at: Some(Instant::now()),
                backoff: Duration::from_millis(500),
            }));
        }
        let shared = Arc::new(Shared {
            decoders: Decoders::new(decoder, cameras.len()),
            config,
            clock,
            base,
            cameras,
            stop: AtomicBool::new(false),
        });
        for i in 0..shared.cameras.len() {
            start_camera(&shared, i);
        }
        let supervisor = spawn(&shared, "rig-supervisor", supervise)?;
        let warmer = spawn(&shared, "rig-decoders", warm_decoders)?;
        Ok(Rig {
            shared,
            supervisor: Some(supervisor),
            warmer: Some(warmer),
        })
    }

    /// The decoder that cuts go through on this box.
    pub fn decoder(&self) -> Decoder {
        self.shared.decoders.decoder()
    }

    /// The rig clock: time since the rig started.
    pub fn now(&self) -> Duration {
        self.shared.now()
    }

    /// Every camera's state.
    pub fn status(&self) -> Vec<CameraStatus> {
        self.shared
            .cameras
            .iter()
            .map(|c| {
                let c = c.lock().expect("camera lock");
                CameraStatus {
                    id: c.spec.id.clone(),
                    up: c.up,
                    stats: c.buffer.stats().clone(),
                    buffered: c.buffer.span(),
                    bytes: c.buffer.bytes(),
                    restarts: c.restarts,
                    last_error: c.last_error.clone(),
                }
            })
            .collect()
    }

    /// Bytes the buffer holds across cameras.
    pub fn buffered_bytes(&self) -> u64 {
        self.shared
            .cameras
            .iter()
            .map(|c| c.lock().expect("camera lock").buffer.bytes())
            .sum()
    }

    /// Cuts `[t0, t1]` (rig clock) out of the buffer and decodes it into frame sets.
    pub fn cut(&self, t0: Duration, t1: Duration) -> Result<Clip> {
        let mut units = Vec::new();
        let mut ids = Vec::new();
        let mut down = Vec::new();
        for c in &self.shared.cameras {
            let c = c.lock().expect("camera lock");
            ids.push(c.spec.id.clone());
            if !c.up {
                down.push(c.spec.id.clone());
            }
            units.push(c.buffer.range(t0, t1));
        }
        let decoded = self.shared.decoders.decode(&ids, &units, t0, t1);
        let mut per_camera = Vec::new();
        for (frames, id) in decoded.into_iter().zip(&ids) {
            let frames = frames?;
            if frames.is_empty() && !down.contains(id) {
                down.push(id.clone());
            }
            per_camera.push(frames);
        }
        let times: Vec<Vec<Duration>> = per_camera
            .iter()
            .map(|f| f.iter().map(|(t, _)| *t).collect())
            .collect();
        if times.iter().all(|t| t.is_empty()) {
            let held = self
                .status()
                .iter()
                .map(|s| format!("{}: {:.1} s", s.id, s.buffered.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::EmptyClip { t0, t1, held });
        }
        let period = Duration::from_secs_f64(1.0 / self.shared.config.fps);
        let sets = group_frame_sets(&times, period)
            .into_iter()
            .map(|(t, picks)| FrameSet {
                t,
                frames: picks
                    .iter()
                    .enumerate()
                    .map(|(c, p)| p.map(|i| per_camera[c][i].clone()))
                    .collect(),
            })
            .collect();
        Ok(Clip {
            cameras: ids,
            sets,
            down,
        })
    }

    /// Stops every pipeline.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for h in [self.supervisor.take(), self.warmer.take()]
            .into_iter()
            .flatten()
        {
            let _ = h.join();
        }
        for c in &self.shared.cameras {
            if let Some(p) = c.lock().expect("camera lock").pipeline.take() {
                let _ = p.set_state(gst::State::Null);
            }
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Builds and starts camera `i`'s pipeline; on failure, schedules a retry.
fn start_camera(shared: &Arc<Shared>, i: usize) {
    let mut cam = shared.cameras[i].lock().expect("camera lock");
    if let Some(p) = cam.pipeline.take() {
        let _ = p.set_state(gst::State::Null);
    }
    let fps = shared.config.fps;
    let description = match &cam.spec.source {
        SourceSpec::Launch {
            description,
            raw: false,
        } => format!("{description} ! {H264_TAIL}"),
        SourceSpec::Launch {
            description,
            raw: true,
        } => format!("{description} ! {}{H264_TAIL}", encoder(fps)),
        SourceSpec::Frames(src) => format!(
            "appsrc name=src is-live=true format=time caps=video/x-raw,format=RGB,width={},height={},framerate={}/1000 ! {}{H264_TAIL}",
            src.width(),
            src.height(),
            (fps * 1000.0).round() as u64,
            encoder(fps)
        ),
    };
    let built = crate::launch(&description);
    let pipeline = match built {
        Ok(p) => p,
        Err(e) => {
            cam.last_error = Some(e);
            cam.retry_at = Some(Instant::now() + cam.backoff);
            return;
        }
    };
    pipeline.use_clock(Some(&shared.clock));
    pipeline.set_base_time(shared.base);
    pipeline.set_start_time(gst::ClockTime::NONE);
    let sink = crate::element::<gst_app::AppSink>(&pipeline, "au");
    let weak = Arc::downgrade(shared);
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(shared) = weak.upgrade() else {
                    return Err(gst::FlowError::Flushing);
                };
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let Ok(map) = buffer.map_readable() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let unit = AccessUnit {
                    t: rig_time(&sample, buffer, shared.now()),
                    pts: buffer.pts().map(|t| Duration::from_nanos(t.nseconds())),
                    dts: buffer.dts().map(|t| Duration::from_nanos(t.nseconds())),
                    key: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                    data: Arc::from(map.as_slice()),
                };
                let mut cam = shared.cameras[i].lock().expect("camera lock");
                cam.buffer.push(unit);
                cam.buffer.trim_age(shared.config.buffer);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    if let SourceSpec::Frames(src) = &cam.spec.source {
        let appsrc = crate::element::<gst_app::AppSrc>(&pipeline, "src");
        feed(shared.clone(), appsrc, src.clone());
    }
    match pipeline.set_state(gst::State::Playing) {
        Ok(_) => {
            cam.pipeline = Some(pipeline);
            cam.retry_at = None;
            cam.buffer.restart();
        }
        Err(e) => {
            let _ = pipeline.set_state(gst::State::Null);
            cam.last_error = Some(format!("cannot start: {e}"));
            cam.retry_at = Some(Instant::now() + cam.backoff);
        }
    }
}

/// A frame's time on the rig clock: its presentation time as running time (the sender's
/// clock, steady from frame to frame) when it is within two seconds of its arrival, or the
/// arrival itself (a stream without usable timestamps).
fn rig_time(sample: &gst::Sample, buffer: &gst::BufferRef, arrival: Duration) -> Duration {
    let running = buffer.pts().and_then(|pts| {
        let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
        segment.to_running_time(pts)
    });
    match running.map(|t| Duration::from_nanos(t.nseconds())) {
        Some(t) if t.abs_diff(arrival) < Duration::from_secs(2) => t,
        _ => arrival,
    }
}

/// Pushes a program's frames into `appsrc` at the rig's rate until the rig stops.
fn feed(shared: Arc<Shared>, appsrc: gst_app::AppSrc, src: Arc<dyn FrameSource>) {
    std::thread::spawn(move || {
        let period = Duration::from_secs_f64(1.0 / shared.config.fps);
        // Frames fall on the rig's frame grid, as from genlocked cameras: slot k is due at
        // k periods of rig time and shows the source's frame k, so every program-fed camera
        // shows the same instant in the same slot.
        let mut slot = (shared.now().as_secs_f64() / period.as_secs_f64()).ceil() as u64;
        while !shared.stop.load(Ordering::SeqCst) {
            let due = Duration::from_secs_f64(slot as f64 * period.as_secs_f64());
            let now = shared.now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let Some(frame) = src.frame(slot) else { break };
            let mut buffer = gst::Buffer::from_mut_slice(frame.data);
            {
                let b = buffer.get_mut().expect("a fresh buffer is writable");
                b.set_pts(gst::ClockTime::from_nseconds(due.as_nanos() as u64));
                b.set_duration(gst::ClockTime::from_nseconds(period.as_nanos() as u64));
            }
            if appsrc.push_buffer(buffer).is_err() {
                break; // the pipeline stopped; a restart starts a new feeder
            }
            slot += 1;
        }
    });
}

/// Runs `work` on the rig in a thread of its own, named `name`.
fn spawn(
    shared: &Arc<Shared>,
    name: &str,
    work: fn(&Arc<Shared>),
) -> Result<std::thread::JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || work(&shared))
        .map_err(|e| Error::Pipeline {
            what: name.into(),
            message: e.to_string(),
        })
}

/// Opens every camera's decoder in the background once a second of the camera is in, by
/// decoding that second, so that the first cut is as quick as the next: NVDEC takes about
/// half a second to open, and its frame pool grows to a cut's size only by use.
fn warm_decoders(shared: &Arc<Shared>) {
    let second = Duration::from_secs(1);
    let mut warm = vec![false; shared.cameras.len()];
    while !shared.stop.load(Ordering::SeqCst) && warm.contains(&false) {
        std::thread::sleep(Duration::from_millis(100));
        for (c, warm) in warm.iter_mut().enumerate().filter(|(_, w)| !**w) {
            let units = {
                let cam = shared.cameras[c].lock().expect("camera lock");
                match cam.buffer.held() {
                    Some((_, newest)) if cam.buffer.span() >= second => {
                        cam.buffer.range(newest - second, newest)
                    }
                    _ => continue,
                }
            };
            shared.decoders.warm(c, &units);
            *warm = true;
        }
    }
}

/// Watches the pipelines: restarts failed ones with backoff, marks silent cameras down and
/// back up, and keeps the buffer within its memory bound.
fn supervise(shared: &Arc<Shared>) {
    let tick = Duration::from_millis(100);
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(tick);
        let now = shared.now();
        for i in 0..shared.cameras.len() {
            let mut restart = false;
            {
                let mut cam = shared.cameras[i].lock().expect("camera lock");
                let failed = cam.pipeline.as_ref().and_then(|p| p.bus()).and_then(|bus| {
                    bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos])
                });
                if let Some(msg) = failed {
                    let why = match msg.view() {
                        gst::MessageView::Error(e) => {
                            format!("{} ({})", e.error(), e.debug().unwrap_or_default())
                        }
                        _ => "the stream ended".to_owned(),
                    };
                    tracing::warn!(camera = %cam.spec.id, retry_in = ?cam.backoff, "camera pipeline failed: {why}");
                    cam.last_error = Some(why);
                    if let Some(p) = cam.pipeline.take() {
                        let _ = p.set_state(gst::State::Null);
                    }
                    cam.retry_at = Some(Instant::now() + cam.backoff);
                    cam.backoff = (cam.backoff * 2).min(Duration::from_secs(8));
                }
                if cam.retry_at.is_some_and(|t| Instant::now() >= t) {
                    restart = true;
                    cam.restarts += 1;
                }
                let last = cam.buffer.stats().last;
                let silent = last.is_none_or(|l| now.saturating_sub(l) > shared.config.down_after);
                if cam.up && silent {
                    cam.up = false;
                    tracing::warn!(camera = %cam.spec.id, "camera down: nothing for {:?}", shared.config.down_after);
                } else if !cam.up && !silent {
                    cam.up = true;
                    cam.backoff = Duration::from_millis(500);
                    tracing::info!(camera = %cam.spec.id, "camera up");
                }
            }
            if restart {
                start_camera(shared, i);
            }
        }
        // The memory bound: the camera holding most gives up its oldest group of pictures.
        loop {
            let sizes: Vec<u64> = shared
                .cameras
                .iter()
                .map(|c| c.lock().expect("camera lock").buffer.bytes())
                .collect();
            if sizes.iter().sum::<u64>() <= shared.config.memory_bytes {
                break;
            }
            let (big, _) = sizes
                .iter()
                .enumerate()
                .max_by_key(|(_, b)| **b)
                .expect("a rig has cameras");
            if !shared.cameras[big]
                .lock()
                .expect("camera lock")
                .buffer
                .drop_gop()
            {
                break;
            }
        }
    }
}
