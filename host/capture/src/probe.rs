//! `piste capture probe`: what a source delivers (caps, size, rate), measured for a moment.

use crate::{Error, Result};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::time::{Duration, Instant};

/// What a source delivers.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The caps of its first buffer, as GStreamer writes them.
    pub caps: String,
    /// The media type, e.g. `video/x-h264`.
    pub media: String,
    /// Width and height, if the caps say.
    pub size: Option<(i32, i32)>,
    /// The frame rate the caps declare.
    pub declared_fps: Option<f64>,
    /// Buffers per second measured over the probe.
    pub measured_fps: f64,
    /// Buffers seen.
    pub buffers: u64,
}

/// Runs `description ! parsebin ! appsink` for `duration` and reports what came out.
pub fn probe(description: &str, duration: Duration) -> Result<Probe> {
    crate::init()?;
    let err = |message: String| Error::Pipeline {
        what: format!("probing {description:?}"),
        message,
    };
    let pipeline = crate::launch(&format!(
        "{description} ! parsebin ! appsink name=sink sync=false"
    ))
    .map_err(|message| Error::Source {
        camera: "probe".into(),
        source_text: description.into(),
        message,
    })?;
    let sink = crate::element::<gst_app::AppSink>(&pipeline, "sink");
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| err(e.to_string()))?;
    let start = Instant::now();
    let mut caps: Option<gst::Caps> = None;
    let mut buffers = 0u64;
    let mut first: Option<Instant> = None;
    let bus = pipeline.bus().expect("pipelines have a bus");
    while start.elapsed() < duration {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            let _ = pipeline.set_state(gst::State::Null);
            if let gst::MessageView::Error(e) = msg.view() {
                return Err(err(format!(
                    "{} ({})",
                    e.error(),
                    e.debug().unwrap_or_default()
                )));
            }
        }
        if let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
            buffers += 1;
            first.get_or_insert_with(Instant::now);
            if caps.is_none() {
                caps = sample.caps().map(|c| c.to_owned());
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let Some(caps) = caps else {
        return Err(err(format!("nothing arrived within {duration:?}")));
    };
    let s = caps.structure(0).expect("caps have a structure");
    let size = match (s.get::<i32>("width"), s.get::<i32>("height")) {
        (Ok(w), Ok(h)) => Some((w, h)),
        _ => None,
    };
    let declared_fps = s
        .get::<gst::Fraction>("framerate")
        .ok()
        .filter(|f| f.numer() > 0)
        .map(|f| f.numer() as f64 / f.denom() as f64);
    let span = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    Ok(Probe {
        caps: caps.to_string(),
        media: s.name().to_string(),
        size,
        declared_fps,
        measured_fps: if span > 0.0 {
            buffers as f64 / span
        } else {
            0.0
        },
        buffers,
    })
}
