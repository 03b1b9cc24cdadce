//! Integration tests of capture: real GStreamer pipelines fed by outside senders
//! (`gst-launch-1.0`, `ffmpeg`) on loopback, the replay buffer, and the encoders.

mod encode;
mod rig;
