//! Pure compute for replays: cameras and their calibration, images and masks, the visual
//! hull, and quality metrics.
//!
//! **Architecture invariant:** this crate does no I/O. It reads no files, opens no sockets,
//! reads no clocks and starts no threads of its own (rayon inside a call is fine). Parsers
//! take text and a source name for their errors; images come in and go out as buffers.
//!
//! Main types: [`Camera`] (pinhole with radial and tangential distortion),
//! [`calib::middlebury`] (the `_par.txt` format), [`calib::opencv`] (`cv::FileStorage`
//! YAML and JSON), [`Mask`] and [`RgbImage`],
//! [`silhouette::Recipe`], [`hull::Hull`] (octree visual hull carving),
//! [`metrics::iou`], [`sim::Sim`] (the venue simulator, ground truth for every figure).

pub mod calib;
mod camera;
pub mod hull;
mod image;
pub mod kinematics;
pub mod matting;
pub mod mesh;
pub mod metrics;
pub mod render;
pub mod silhouette;
pub mod sim;

pub use camera::{Camera, Distortion, Projector, Rays};
pub use image::{Mask, RgbImage, Window};
