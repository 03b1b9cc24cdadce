//! Decoding a cut: the H.264 decoder a clip goes through (the GPU's NVDEC on a box that has
//! one, libavcodec on the CPU elsewhere) and one camera's access units turned back into
//! RGB frames timed on the rig's clock.

use crate::buffer::AccessUnit;
use crate::{Error, Result};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use piste_media::RgbImage;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Which H.264 decoder turns a cut back into frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decoder {
    /// NVDEC where the box has an NVIDIA GPU, else software.
    #[default]
    Auto,
    /// libavcodec on the CPU (`avdec_h264`), one single-threaded decoder per core.
    Software,
    /// The GPU's video decoder (`nvh264dec`), colours converted on the GPU where
    /// `cudaconvert` works and on the decoding thread otherwise; every camera decodes at
    /// once.
    Nvdec,
}

impl Decoder {
    /// The decoder this box uses. `Auto` becomes NVDEC where GStreamer's nvcodec plug-in
    /// found a GPU (it registers `nvh264dec` only then), else software; NVDEC asked for on
    /// a box without it is an error that says so.
    pub fn resolve(self) -> Result<Decoder> {
        crate::init()?;
        let nvdec = gst::ElementFactory::find("nvh264dec").is_some();
        match self {
            Decoder::Auto if nvdec => Ok(Decoder::Nvdec),
            Decoder::Auto => Ok(Decoder::Software),
            Decoder::Nvdec if !nvdec => Err(Error::Decoder(
                "nvdec was asked for, but GStreamer's nvcodec plug-in found no NVIDIA GPU here \
                 (there is no nvh264dec element); use \"auto\" or \"software\""
                    .into(),
            )),
            d => Ok(d),
        }
    }

    /// Its word in the venue file and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Decoder::Auto => "auto",
            Decoder::Software => "software",
            Decoder::Nvdec => "nvdec",
        }
    }

    /// How many cameras decode at once on a box with `cores` cores.
    fn parallel(self, cores: usize) -> usize {
        match self {
            // A dozen multi-threaded decoders on two cores spend their time switching.
            Decoder::Software | Decoder::Auto => cores,
            // The decoding is on the GPU's engines; the threads mostly wait.
            Decoder::Nvdec => usize::MAX,
        }
    }

    /// The elements from parsed H.264 to frames in system memory that
    /// `encode::sample_to_rgb` takes: 4:2:0 (converted on the decoding thread) or RGB.
    fn chain(self) -> &'static str {
        match self {
            Decoder::Software | Decoder::Auto => {
                "avdec_h264 max-threads=1 ! videoconvert ! video/x-raw,format={I420,NV12}"
            }
            // `cudaconvert` registers only where GStreamer's kernels compile for the GPU
            // (GStreamer 1.22's do not with CUDA 13).
            Decoder::Nvdec if gst::ElementFactory::find("cudaconvert").is_some() => {
                "nvh264dec ! cudaconvert ! cudadownload ! video/x-raw,format=RGB"
            }
            // Frames to system memory, so the decoder does not look for an OpenGL display.
            Decoder::Nvdec => {
                "nvh264dec ! video/x-raw ! videoconvert ! video/x-raw,format={NV12,I420}"
            }
        }
    }
}

impl std::str::FromStr for Decoder {
    type Err = String;

    fn from_str(word: &str) -> std::result::Result<Decoder, String> {
        [Decoder::Auto, Decoder::Software, Decoder::Nvdec]
            .into_iter()
            .find(|d| d.name() == word)
            .ok_or_else(|| format!("{word:?} is not a decoder: auto, software or nvdec"))
    }
}

/// The CUDA context every NVDEC pipeline of the process shares. Making one takes hundreds
/// of milliseconds, and a dozen made at once queue in the driver.
static CUDA: std::sync::Mutex<Option<gst::Context>> = std::sync::Mutex::new(None);

/// Readies `decoder` (resolved) before the first cut: for NVDEC, makes the shared CUDA
/// context by opening one decoder. Without it cuts still work, each making its own.
pub(crate) fn prepare(decoder: Decoder) {
    if decoder != Decoder::Nvdec || shared_cuda().is_some() {
        return;
    }
    let Ok(pipeline) = crate::launch(
        "appsrc caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse \
         ! nvh264dec ! fakesink",
    ) else {
        return;
    };
    // The decoder makes its context when it opens, going to READY.
    let _ = pipeline.set_state(gst::State::Ready);
    keep_cuda(&pipeline);
    let _ = pipeline.set_state(gst::State::Null);
    if shared_cuda().is_none() {
        tracing::warn!("NVDEC: no CUDA context to share; every cut makes its own");
    }
}

fn shared_cuda() -> Option<gst::Context> {
    CUDA.lock().expect("cuda context lock").clone()
}

/// Keeps the CUDA context `pipeline` made, if it made one and none is kept yet.
fn keep_cuda(pipeline: &gst::Pipeline) {
    let bus = pipeline.bus().expect("pipelines have a bus");
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::HaveContext]) {
        if let gst::MessageView::HaveContext(m) = msg.view() {
            let context = m.context();
            if context.context_type() == "gst.cuda.context" {
                CUDA.lock()
                    .expect("cuda context lock")
                    .get_or_insert(context);
            }
        }
    }
}

/// A decoded frame and its arrival on the rig's clock.
pub(crate) type TimedFrame = (Duration, Arc<RgbImage>);

/// Every camera's decoding pipeline, kept from cut to cut: opening a decoder (NVDEC's
/// most of all, about half a second) costs more than decoding a cut.
pub(crate) struct Decoders {
    decoder: Decoder,
    pipes: Vec<std::sync::Mutex<Option<Pipe>>>,
}

impl Decoders {
    /// No pipelines yet for `cameras` cameras; each is made at its camera's first cut.
    pub(crate) fn new(decoder: Decoder, cameras: usize) -> Decoders {
        Decoders {
            decoder,
            pipes: (0..cameras).map(|_| std::sync::Mutex::new(None)).collect(),
        }
    }

    /// The decoder, resolved for this box.
    pub(crate) fn decoder(&self) -> Decoder {
        self.decoder
    }

    /// Decodes every camera's access units, as many cameras at once as the decoder allows,
    /// and returns each camera's frames whose arrival is within `[t0, t1]`.
    pub(crate) fn decode(
        &self,
        ids: &[String],
        units: &[Vec<AccessUnit>],
        t0: Duration,
        t1: Duration,
    ) -> Vec<Result<Vec<TimedFrame>>> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = self.decoder.parallel(cores).min(units.len()).max(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<std::sync::Mutex<Option<Result<Vec<TimedFrame>>>>> =
            units.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if c >= units.len() {
                            break;
                        }
                        let r = self.camera(c, &ids[c], &units[c], t0, t1);
                        *results[c].lock().expect("result lock") = Some(r);
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.into_inner()
                    .expect("result lock")
                    .expect("every camera decoded")
            })
            .collect()
    }

    /// Opens camera `c`'s decoder, if it has none, by decoding `units` (a key frame first).
    pub(crate) fn warm(&self, c: usize, units: &[AccessUnit]) {
        if self.pipes[c].lock().expect("decoder lock").is_none() {
            let _ = self.camera(c, "", units, Duration::ZERO, Duration::ZERO);
        }
    }

    /// Decodes camera `c`'s units through its pipeline, made if it has none; a pipeline
    /// that failed is dropped, and the camera's next cut makes a new one.
    fn camera(
        &self,
        c: usize,
        id: &str,
        units: &[AccessUnit],
        t0: Duration,
        t1: Duration,
    ) -> Result<Vec<TimedFrame>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let err = |message: String| Error::Pipeline {
            what: format!("decoding camera {id}"),
            message,
        };
        let mut slot = self.pipes[c].lock().expect("decoder lock");
        let pipe = match slot.take() {
            Some(pipe) => pipe,
            None => Pipe::new(self.decoder).map_err(err)?,
        };
        // Decoded frames come out by presentation time; map it back to arrival on the rig
        // clock, and convert only the frames the cut keeps (not those from the key frame
        // before it).
        let arrival: HashMap<u64, Duration> = units
            .iter()
            .map(|u| (presentation(u).as_nanos() as u64, u.t))
            .collect();
        let mut frames: Vec<TimedFrame> = Vec::new();
        pipe.decode(units, |sample| {
            let pts = sample.buffer().and_then(|b| b.pts()).map(|t| t.nseconds());
            if let Some(&t) = pts.and_then(|pts| arrival.get(&pts))
                && t >= t0
                && t <= t1
            {
                frames.push((t, Arc::new(crate::encode::sample_to_rgb(sample)?)));
            }
            Ok(())
        })
        .map_err(err)?;
        *slot = Some(pipe);
        frames.sort_by_key(|(t, _)| *t);
        Ok(frames)
    }
}

/// One camera's decoding pipeline: access units in through `appsrc`, frames out of
/// `appsink`. After each cut a flushing seek readies it for the next.
struct Pipe {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
}

impl Pipe {
    fn new(decoder: Decoder) -> std::result::Result<Pipe, String> {
        let pipeline = crate::launch(&format!(
            "appsrc name=src format=time stream-type=seekable \
             caps=video/x-h264,stream-format=byte-stream,alignment=au \
             ! h264parse ! {} ! appsink name=sink sync=false",
            decoder.chain()
        ))?;
        let src = crate::element::<gst_app::AppSrc>(&pipeline, "src");
        let sink = crate::element::<gst_app::AppSink>(&pipeline, "sink");
        // No bound on what waits to be decoded: a cut is pushed whole, then drained.
        src.set_max_bytes(0);
        // appsrc lets the seek that flushes between cuts through only when it is answered.
        src.set_callbacks(
            gst_app::AppSrcCallbacks::builder()
                .seek_data(|_, _| true)
                .build(),
        );
        if decoder == Decoder::Nvdec
            && let Some(context) = shared_cuda()
        {
            pipeline.set_context(&context);
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| e.to_string())?;
        Ok(Pipe {
            pipeline,
            src,
            sink,
        })
    }

    /// Pushes `units` and the end of the stream, hands every decoded sample to `each`, then
    /// flushes.
    fn decode(
        &self,
        units: &[AccessUnit],
        each: impl FnMut(&gst::Sample) -> std::result::Result<(), String>,
    ) -> std::result::Result<(), String> {
        for u in units {
            let pts = presentation(u);
            let mut b = gst::Buffer::from_slice(u.data.clone());
            let bm = b.get_mut().expect("fresh");
            bm.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            if let Some(d) = u.dts {
                bm.set_dts(gst::ClockTime::from_nseconds(d.as_nanos() as u64));
            }
            if !u.key {
                bm.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
            self.src
                .push_buffer(b)
                .map_err(|e| format!("the decoder refused a frame: {e:?}"))?;
        }
        self.src
            .end_of_stream()
            .map_err(|e| format!("the decoder refused the end of the cut: {e:?}"))?;
        crate::encode::drain(&self.pipeline, &self.sink, Duration::from_secs(60), each)?;
        keep_cuda(&self.pipeline);
        // What the bus gathered over the cut is spent; a kept pipeline must not hoard it.
        let bus = self.pipeline.bus().expect("pipelines have a bus");
        while bus.pop().is_some() {}
        self.pipeline
            .seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::ZERO)
            .map_err(|e| format!("cannot flush the decoder for the next cut: {e}"))
    }
}

/// A unit's presentation time in its stream (its arrival where the stream has none).
fn presentation(unit: &AccessUnit) -> Duration {
    unit.pts.unwrap_or(unit.t)
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
