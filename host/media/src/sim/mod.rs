//! The venue simulator: calibrated cameras in a ring or arc around a field of snow or ice,
//! an articulated athlete doing a jump, spin or turn, and what makes matting hard on snow
//! (cast shadows, white clothing, glare, spray, exposure flicker, sensor noise, camera
//! shake, leaving the frame). It renders every camera and the ground truth: masks, soft
//! coverage, 3D occupancy and the athlete's trajectory, all deterministic from a seed.
//!
//! World coordinates are z-up, in metres, with the ground plane at z = 0. Cameras follow
//! [`Camera`]'s convention (`x_cam = R x_world + t`; x right, y down, z forward).
//!
//! Main types: [`SimConfig`] and [`Sim`] (a clip: [`Sim::frame`] renders one camera's
//! frame, [`Sim::truth`] tells what happened), [`Scene`], [`Hazards`], [`Rig`],
//! [`Athlete`].

mod athlete;
mod random;
mod render;
mod rig;
mod scene;

pub use athlete::{Athlete, Capsule, Equipment, Hit, Limb, Outfit, Part, PartKind, Pose, Side};
pub use rig::{Rig, Sensor, look_at};
pub use scene::{Phase, Scene, Surface};

use std::sync::OnceLock;

use glam::{DVec2, DVec3};
use rayon::prelude::*;

use crate::camera::{Camera, Distortion};
use crate::hull::Bounds;
use crate::image::{Mask, RgbImage};
use random::{gaussian, hash, signed, stream, unit};
use render::{Look, Plate, Shot};
use scene::{Field, Script};

/// What makes matting hard, each switchable: 0 (or `false`) turns a hazard off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hazards {
    /// How much the athlete's cast shadow darkens the ground (0 none, 1 black); shadows
    /// are never part of the athlete's mask.
    pub shadows: f64,
    /// Peak brightness the sun's glare adds on ice, as a fraction of full scale; it also
    /// drifts from frame to frame.
    pub glare: f64,
    /// How much snow or ice spray is thrown at landings and turns (1 normal); spray is
    /// never part of the athlete's mask.
    pub spray: f64,
    /// Standard deviation of the per-camera, per-frame exposure gain (0.03: 3 %).
    pub flicker: f64,
    /// Standard deviation of Gaussian sensor noise, in 8-bit levels.
    pub noise: f64,
    /// Camera shake: standard deviation of the image's movement in pixels at 1280 pixels
    /// of width (scaled with the width). The rig's cameras stay the nominal calibration;
    /// [`Sim::true_camera`] gives the shaken one.
    pub shake: f64,
    /// Zooms every fourth camera (those with index 1 mod 4) in, so the athlete partly
    /// leaves its view. The ski jump's flight leaves some views regardless.
    pub out_of_view: bool,
}

impl Default for Hazards {
    /// Every hazard on, at a strength typical of a sunny day at an outdoor venue.
    fn default() -> Self {
        Hazards {
            shadows: 0.45,
            glare: 0.6,
            spray: 1.0,
            flicker: 0.03,
            noise: 2.0,
            shake: 0.8,
            out_of_view: true,
        }
    }
}

impl Hazards {
    /// Every hazard off: the plate, the athlete, nothing else.
    pub fn none() -> Self {
        Hazards {
            shadows: 0.0,
            glare: 0.0,
            spray: 0.0,
            flicker: 0.0,
            noise: 0.0,
            shake: 0.0,
            out_of_view: false,
        }
    }
}

/// A clip to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The discipline.
    pub scene: Scene,
    /// How many cameras.
    pub cameras: usize,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Seconds of action after the lead-in, centred on the key moment.
    pub seconds: f64,
    /// Seeds everything random: texture, lenses, noise, flicker, shake, spray, the
    /// athlete's line.
    pub seed: u64,
    /// What makes matting hard.
    pub hazards: Hazards,
    /// Dresses the athlete in white (a hazard on snow); overrides `suit`.
    pub white_suit: bool,
    /// Suit colour when not white.
    pub suit: [u8; 3],
    /// Gives each camera a slightly different, slight lens distortion (part of the
    /// calibration, so [`Sim::cameras`] include it).
    pub lens_distortion: bool,
    /// Frames before the athlete enters, for learning the background.
    pub lead_in_frames: usize,
}

impl Default for SimConfig {
    /// Twelve 1280x720 cameras, 25 fps, two seconds of figure skating after ten frames of
    /// empty rink, every hazard on.
    fn default() -> Self {
        SimConfig {
            scene: Scene::FigureSkating,
            cameras: 12,
            width: 1280,
            height: 720,
            fps: 25.0,
            seconds: 2.0,
            seed: 0,
            hazards: Hazards::default(),
            white_suit: false,
            suit: [20, 70, 200],
            lens_distortion: true,
            lead_in_frames: 10,
        }
    }
}

/// One rendered frame of one camera, with its ground truth silhouette.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// What the camera recorded.
    pub image: RgbImage,
    /// How much of each pixel the athlete covers, 0 to 1 (edges supersampled 4 x 4).
    pub alpha: Vec<f32>,
    /// Where the athlete is: `alpha >= 0.5`.
    pub mask: Mask,
}

/// What happened at one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// Frame index.
    pub frame: usize,
    /// Seconds from the first frame.
    pub time: f64,
    /// Phase of the movement.
    pub phase: Phase,
    /// The root (pelvis centre); during the lead-in, where the athlete will enter.
    pub position: DVec3,
    /// The body's centre of mass (uniform density); `None` during the lead-in.
    pub center_of_mass: Option<DVec3>,
    /// Takeoff time in seconds from the first frame (may lie outside the clip).
    pub takeoff_time: Option<f64>,
    /// Time of the flight's highest point (alpine: of the turn's apex).
    pub apex_time: Option<f64>,
    /// Landing time.
    pub landing_time: Option<f64>,
    /// Turns about the body's long axis since takeoff (spins, twists).
    pub rotations: f64,
    /// Somersault turns since takeoff.
    pub flips: f64,
    /// The posed athlete; `None` during the lead-in.
    pub athlete: Option<Athlete>,
}

impl Truth {
    /// Which voxel centres of a `resolution³` grid over `bounds` lie inside the athlete, in
    /// [`crate::hull::Hull::occupied`]'s order (`x + n (y + n z)`).
    pub fn occupancy(&self, bounds: Bounds, resolution: u32) -> Vec<bool> {
        match &self.athlete {
            Some(a) => a.occupancy(bounds, resolution),
            None => vec![false; (resolution as usize).pow(3)],
        }
    }

    /// The athlete's bounding box; `None` during the lead-in.
    pub fn bounds(&self) -> Option<Bounds> {
        self.athlete.as_ref().map(Athlete::bounds)
    }

    /// The grid voxel IoU is measured on: the athlete's box with a margin, so the voxels are
    /// fine; `None` during the lead-in.
    pub fn grid(&self) -> Option<Bounds> {
        self.bounds().map(|b| {
            let pad = (b.max - b.min) * 0.15 + 0.05;
            Bounds {
                min: b.min - pad,
                max: b.max + pad,
            }
        })
    }
}

/// A simulated clip: cameras, their background plates, and the athlete's motion.
pub struct Sim {
    config: SimConfig,
    script: Script,
    cameras: Vec<Camera>,
    field: Field,
    /// Each camera's plate, rendered the first time the camera is.
    plates: Vec<OnceLock<Plate>>,
    /// Standard normal numbers for sensor noise.
    table: Vec<f32>,
}

impl Sim {
    /// Sets up the rig and the motion; each camera's background plate is rendered when
    /// that camera first is.
    pub fn new(config: SimConfig) -> Sim {
        let scene = config.scene;
        let suit = if config.white_suit {
            [238, 240, 244]
        } else {
            config.suit
        };
        let script = Script::new(scene, suit, config.seed);
        let mut cameras = scene
            .rig(config.cameras, config.width, config.height)
            .cameras;
        for (i, cam) in cameras.iter_mut().enumerate() {
            if config.hazards.out_of_view && i % 4 == 1 {
                cam.k.x_axis.x *= 1.8;
                cam.k.y_axis.y *= 1.8;
            }
            if config.lens_distortion {
                let h = |k: u64| hash(config.seed, &[stream::LENS, i as u64, k]);
                cam.distortion = Distortion {
                    k1: -0.02 - 0.03 * unit(h(0)),
                    k2: 0.01 * signed(h(1)),
                    p1: 0.0005 * signed(h(2)),
                    p2: 0.0005 * signed(h(3)),
                    k3: 0.0,
                };
            }
        }
        let plates = cameras.iter().map(|_| OnceLock::new()).collect();
        let table = (0..4096u64)
            .map(|i| gaussian(hash(config.seed, &[stream::TABLE, i])) as f32)
            .collect();
        Sim {
            config,
            script,
            cameras,
            field: scene.field(),
            plates,
            table,
        }
    }

    fn plate_of(&self, camera: usize) -> &Plate {
        self.plates[camera].get_or_init(|| {
            let scene = self.config.scene;
            let look = Look {
                surface: scene.surface(),
                field: &self.field,
                sun: scene.sun(),
                glare: self.config.hazards.glare,
                seed: self.config.seed,
            };
            render::plate(&self.cameras[camera], &look)
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The calibrated (nominal) cameras.
    pub fn cameras(&self) -> &[Camera] {
        &self.cameras
    }

    /// How many frames the clip has: the lead-in, then `seconds * fps`.
    pub fn frames(&self) -> usize {
        self.config.lead_in_frames + (self.config.seconds * self.config.fps).round() as usize
    }

    /// Seconds from the first frame to frame `i`.
    pub fn time(&self, i: usize) -> f64 {
        i as f64 / self.config.fps
    }

    /// Unit vector towards the sun (the light that casts the shadows).
    pub fn sun(&self) -> DVec3 {
        self.config.scene.sun()
    }

    /// A camera's clean background plate: the field with nobody on it, without noise,
    /// flicker or shake, glare at its mean strength.
    pub fn plate(&self, camera: usize) -> &RgbImage {
        &self.plate_of(camera).image
    }

    /// Scene time (takeoff or turn apex at 0) of clip time `t`.
    fn scene_time(&self, t: f64) -> f64 {
        let (k0, k1) = self.script.key_window();
        t - self.config.lead_in_frames as f64 / self.config.fps - 0.5 * self.config.seconds
            + 0.5 * (k0 + k1)
    }

    fn clip_time(&self, s: f64) -> f64 {
        s - self.scene_time(0.0)
    }

    /// The posed athlete at frame `i`; `None` during the lead-in.
    pub fn athlete(&self, i: usize) -> Option<Athlete> {
        (i >= self.config.lead_in_frames)
            .then(|| self.script.athlete(self.scene_time(self.time(i))).0)
    }

    /// How far camera `camera`'s image moves at frame `i` (shake), in pixels.
    fn shift(&self, camera: usize, i: usize) -> DVec2 {
        let amplitude = self.config.hazards.shake * f64::from(self.config.width) / 1280.0;
        if amplitude == 0.0 {
            return DVec2::ZERO;
        }
        let t = self.time(i);
        let axis = |k: u64| {
            let h = |j: u64| hash(self.config.seed, &[stream::SHAKE, camera as u64, k, j]);
            let frequency = 1.5 + 2.5 * unit(h(0));
            let phase = std::f64::consts::TAU * unit(h(1));
            let jitter = gaussian(hash(
                self.config.seed,
                &[stream::SHAKE, camera as u64, k, 2, i as u64],
            ));
            amplitude * (0.7 * (std::f64::consts::TAU * frequency * t + phase).sin() + 0.7 * jitter)
        };
        DVec2::new(axis(0), axis(1))
    }

    /// The camera as it really was at frame `i`: the nominal calibration moved by the
    /// shake (a shift of the principal point, which moves the whole image).
    pub fn true_camera(&self, camera: usize, i: usize) -> Camera {
        let mut cam = self.cameras[camera].clone();
        let shift = self.shift(camera, i);
        cam.k.z_axis.x += shift.x;
        cam.k.z_axis.y += shift.y;
        cam
    }

    /// Renders frame `i` of camera `camera`.
    pub fn frame(&self, camera: usize, i: usize) -> Frame {
        let h = &self.config.hazards;
        let seed = self.config.seed;
        let key = |s: u64| hash(seed, &[s, camera as u64, i as u64]);
        let truth_camera = self.true_camera(camera, i);
        let athlete = self.athlete(i);
        let particles = if athlete.is_some() {
            self.script.spray(self.scene_time(self.time(i)), h.spray)
        } else {
            Vec::new()
        };
        let gain = (1.0 + h.flicker * gaussian(key(stream::FLICKER))).clamp(0.5, 1.5);
        let glare_delta = if h.glare > 0.0 {
            let phase = std::f64::consts::TAU * unit(hash(seed, &[stream::GLARE, camera as u64]));
            0.3 * (std::f64::consts::TAU * self.time(i) / 1.7 + phase).sin()
                + 0.1 * gaussian(key(stream::GLARE))
        } else {
            0.0
        };
        render::render(&Shot {
            camera: &truth_camera,
            plate: self.plate_of(camera),
            shift: self.shift(camera, i),
            athlete: athlete.as_ref(),
            particles: &particles,
            sun: self.sun(),
            shadow: h.shadows,
            glare_delta: glare_delta as f32,
            gain: gain as f32,
            noise: h.noise as f32,
            noise_key: key(stream::NOISE),
            table: &self.table,
        })
    }

    /// Where the athlete is in frame `i` of camera `camera`: the same mask as
    /// [`Sim::frame`]'s, without rendering the image.
    pub fn mask(&self, camera: usize, i: usize) -> Mask {
        let camera = self.true_camera(camera, i);
        match self.athlete(i) {
            Some(athlete) => render::coverage(&camera, &athlete, self.sun()).1,
            None => Mask::empty(camera.width, camera.height),
        }
    }

    /// Renders frame `i` of every camera, cameras in parallel.
    pub fn frames_at(&self, i: usize) -> Vec<Frame> {
        (0..self.cameras.len())
            .into_par_iter()
            .map(|c| self.frame(c, i))
            .collect()
    }

    /// The volume the athlete moves through over the whole clip, from the truth, with a
    /// margin: the box a replay carves in. `None` if the athlete never appears.
    pub fn volume(&self) -> Option<Bounds> {
        let mut volume: Option<Bounds> = None;
        for i in 0..self.frames() {
            if let Some(b) = self.truth(i).bounds() {
                volume = Some(match volume {
                    Some(v) => Bounds {
                        min: v.min.min(b.min),
                        max: v.max.max(b.max),
                    },
                    None => b,
                });
            }
        }
        let volume = volume?;
        let margin = (volume.max - volume.min) * 0.1 + 0.2;
        Some(Bounds {
            min: volume.min - margin,
            max: volume.max + margin,
        })
    }

    /// The ground truth at frame `i`.
    pub fn truth(&self, i: usize) -> Truth {
        let time = self.time(i);
        let lead_in = self.config.lead_in_frames;
        let present = i >= lead_in;
        let s = self.scene_time(if present { time } else { self.time(lead_in) });
        let (athlete, moment) = self.script.athlete(s);
        let (takeoff, apex, landing) = self.script.events();
        let clip = |e: Option<f64>| e.map(|s| self.clip_time(s));
        Truth {
            frame: i,
            time,
            phase: if present {
                self.script.phase(s, 0.5 / self.config.fps)
            } else {
                Phase::Absent
            },
            position: self.script.root(s),
            center_of_mass: present.then(|| athlete.center_of_mass()),
            takeoff_time: clip(takeoff),
            apex_time: clip(apex),
            landing_time: clip(landing),
            rotations: if present { moment.rotations } else { 0.0 },
            flips: if present { moment.flips } else { 0.0 },
            athlete: present.then_some(athlete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(scene: Scene) -> SimConfig {
        SimConfig {
            scene,
            cameras: 4,
            width: 160,
            height: 90,
            lead_in_frames: 3,
            ..SimConfig::default()
        }
    }

    #[test]
    fn the_clip_centres_the_key_moment_after_the_lead_in() {
        let sim = Sim::new(small(Scene::FigureSkating));
        assert_eq!(sim.frames(), 53);
        assert_eq!(sim.truth(2).phase, Phase::Absent);
        assert!(sim.truth(2).athlete.is_none() && sim.athlete(2).is_none());
        let t = sim.truth(3);
        let (takeoff, landing) = (t.takeoff_time.unwrap(), t.landing_time.unwrap());
        assert!((landing - takeoff - 0.7).abs() < 1e-9);
        // Lead-in 0.12 s, then 2 s centred on the 0.7 s jump.
        assert!((takeoff - (0.12 + 0.65)).abs() < 1e-9, "{takeoff}");
        let apex = (0..sim.frames())
            .filter(|i| sim.truth(*i).phase == Phase::Apex)
            .count();
        assert_eq!(apex, 1);
        let last = sim.truth(sim.frames() - 1);
        assert_eq!(last.phase, Phase::RunOut);
        assert!((last.rotations - 3.5).abs() < 1e-9);
    }

    #[test]
    fn shake_moves_the_principal_point_only() {
        let sim = Sim::new(small(Scene::Alpine));
        let nominal = &sim.cameras()[2];
        let shaken = sim.true_camera(2, 30);
        assert_eq!(nominal.r, shaken.r);
        assert_ne!(nominal.k, shaken.k);
        let shift = shaken.k.z_axis - nominal.k.z_axis;
        assert!(shift.length() < 3.0, "{shift}");
        let still = Sim::new(SimConfig {
            hazards: Hazards::none(),
            ..small(Scene::Alpine)
        });
        assert_eq!(&still.true_camera(2, 30), &still.cameras()[2]);
    }
}
