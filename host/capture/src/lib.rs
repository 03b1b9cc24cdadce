//! Capture: a camera rig through GStreamer, one clock for every camera, a bounded replay
//! buffer of compressed frames, clips cut from it as synchronised frame sets, and encoders
//! for the replay engine's outputs.
//!
//! What it is not: it parses no configuration files (the CLI turns a venue file into a
//! [`RigConfig`]) and does no reconstruction (that is `piste-media`).
//!
//! **Architecture invariant:** only this crate knows GStreamer.
//!
//! **Architecture invariant:** the buffer keeps frames as the cameras send them (H.264
//! access units) and decodes only what a clip needs, so its memory is the streams' bitrate
//! times the buffered seconds, within [`RigConfig::memory_bytes`].
//!
//! Decoding a cut goes through [`Decoder`]: NVDEC on a box with an NVIDIA GPU, libavcodec
//! elsewhere. Each camera's decoder is kept open from cut to cut.
//!
//! Main types: [`Rig`] (the running ingest), [`ReplayBuffer`] (per-camera access units),
//! [`Clip`] and [`FrameSet`] (what a cut returns), [`Decoder`] (NVDEC or the CPU),
//! [`encode`] (MP4, PNG, JPEG), [`probe`].

mod buffer;
mod decode;
pub mod encode;
mod probe;
mod rig;
mod yuv;

pub use buffer::{AccessUnit, CameraStats, ReplayBuffer, group_frame_sets};
pub use decode::Decoder;
pub use probe::{Probe, probe};
pub use rig::{CameraSpec, CameraStatus, Clip, FrameSet, FrameSource, Rig, RigConfig, SourceSpec};

/// What can go wrong in capture.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GStreamer could not be initialised (its libraries or plug-ins are missing).
    #[error("gstreamer: {0}; install the packages `cargo xtask setup` lists")]
    Init(String),
    /// A source description could not be built into a pipeline.
    #[error("camera {camera}: source {source_text:?} is not a valid pipeline: {message}")]
    Source {
        /// The camera.
        camera: String,
        /// The description as given.
        source_text: String,
        /// GStreamer's message.
        message: String,
    },
    /// A pipeline failed.
    #[error("{what}: {message}")]
    Pipeline {
        /// What was running.
        what: String,
        /// GStreamer's message.
        message: String,
    },
    /// A clip asked for times the buffer does not hold.
    #[error("no frames between {t0:?} and {t1:?} in the buffer (it holds {held})")]
    EmptyClip {
        /// Start of the cut.
        t0: std::time::Duration,
        /// End of the cut.
        t1: std::time::Duration,
        /// What it holds, in words.
        held: String,
    },
    /// The decoder asked for does not exist on this box.
    #[error("decoder: {0}")]
    Decoder(String),
    /// An output file could not be written.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds a pipeline from a `gst-launch-1.0` description.
pub(crate) fn launch(description: &str) -> std::result::Result<gstreamer::Pipeline, String> {
    use gstreamer::prelude::*;
    gstreamer::parse::launch(description)
        .map_err(|e| e.to_string())?
        .downcast::<gstreamer::Pipeline>()
        .map_err(|_| "the description is not a pipeline".to_owned())
}

/// The element a pipeline's own description names, as its type.
pub(crate) fn element<T: gstreamer::prelude::IsA<gstreamer::Element>>(
    pipeline: &gstreamer::Pipeline,
    name: &str,
) -> T {
    use gstreamer::prelude::*;
    pipeline
        .by_name(name)
        .and_then(|e| e.downcast::<T>().ok())
        .unwrap_or_else(|| panic!("the pipeline's description names its {name}"))
}

/// Initialises GStreamer once.
pub fn init() -> Result<()> {
    gstreamer::init().map_err(|e| Error::Init(e.to_string()))
}
