//! The four simulated disciplines: for each, the field, the light, the camera rig, and the
//! athlete's motion as a function of time (root position, orientation, joint angles), with
//! the events (takeoff, apex, landing) and rotations that the ground truth reports.

use glam::{DMat3, DVec2, DVec3};

use super::athlete::{Athlete, Equipment, Limb, Outfit, PartKind, Pose, Side};
use super::random::{Draw, hash, signed, stream};
use super::rig::{Rig, Sensor};

const G: f64 = 9.81;

/// Which discipline the simulator stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scene {
    /// A ski jump seen from a ring around the landing zone: the flight enters from outside
    /// the ring, so the athlete is out of some cameras' view early on.
    SkiJump,
    /// A triple axel (3.5 turns in 0.7 s of air) on an ice rink.
    FigureSkating,
    /// A freestyle aerial: one back flip with a full twist.
    Aerials,
    /// An alpine giant-slalom turn, carving and leaning, seen from an arc on one side.
    Alpine,
}

impl Scene {
    /// Every scene.
    pub const ALL: [Scene; 4] = [
        Scene::SkiJump,
        Scene::FigureSkating,
        Scene::Aerials,
        Scene::Alpine,
    ];

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scene::SkiJump => "ski-jump",
            Scene::FigureSkating => "figure-skating",
            Scene::Aerials => "aerials",
            Scene::Alpine => "alpine",
        }
    }

    /// The surface of the field.
    pub fn surface(self) -> Surface {
        match self {
            Scene::FigureSkating => Surface::Ice,
            _ => Surface::Snow,
        }
    }

    /// Unit vector towards the sun (or the arena's main light).
    pub fn sun(self) -> DVec3 {
        let (elevation, azimuth) = match self {
            Scene::SkiJump => (30.0f64, 235.0f64),
            Scene::FigureSkating => (20.0, 150.0),
            Scene::Aerials => (35.0, 110.0),
            Scene::Alpine => (25.0, 60.0),
        };
        let (e, a) = (elevation.to_radians(), azimuth.to_radians());
        DVec3::new(e.cos() * a.cos(), e.cos() * a.sin(), e.sin())
    }

    /// The scene's camera rig of `n` cameras: a ring, or for alpine an arc on one side of
    /// the course.
    pub fn rig(self, n: usize, width: u32, height: u32) -> Rig {
        let sensor = |fov| Sensor {
            width,
            height,
            horizontal_fov_deg: fov,
        };
        match self {
            Scene::SkiJump => Rig::ring(n, 22.0, 6.0, DVec3::new(4.0, 0.0, 1.6), sensor(70.0)),
            Scene::FigureSkating => {
                Rig::ring(n, 11.0, 3.2, DVec3::new(1.25, 0.0, 0.9), sensor(55.0))
            }
            Scene::Aerials => Rig::ring(n, 14.0, 3.5, DVec3::new(0.0, 0.0, 2.3), sensor(64.0)),
            Scene::Alpine => Rig::arc(
                n,
                16.0,
                -165.0,
                150.0,
                4.0,
                DVec3::new(0.0, 0.0, 0.8),
                sensor(62.0),
            ),
        }
    }

    /// Painted or dyed lines on the field, and the field's extent.
    pub(crate) fn field(self) -> Field {
        let blue = [40, 90, 200];
        let line = |a: (f64, f64), b: (f64, f64), half_width, colour, opacity| Marking {
            a: DVec2::new(a.0, a.1),
            b: DVec2::new(b.0, b.1),
            half_width,
            colour,
            opacity,
        };
        match self {
            Scene::SkiJump => {
                let mut m: Vec<Marking> = [-20.0, -10.0, 0.0, 10.0, 20.0]
                    .iter()
                    .map(|x| line((*x, -12.0), (*x, 12.0), 0.08, blue, 0.6))
                    .collect();
                for y in [-12.0, 12.0] {
                    m.push(line((-60.0, y), (60.0, y), 0.25, [50, 110, 60], 0.8));
                }
                Field {
                    markings: m,
                    rink: None,
                }
            }
            Scene::FigureSkating => Field {
                markings: vec![
                    line((0.0, -15.0), (0.0, 15.0), 0.15, [200, 50, 60], 0.35),
                    line((-7.6, -15.0), (-7.6, 15.0), 0.15, [50, 80, 200], 0.35),
                    line((7.6, -15.0), (7.6, 15.0), 0.15, [50, 80, 200], 0.35),
                ],
                rink: Some(DVec2::new(30.0, 15.0)),
            },
            Scene::Aerials => Field {
                markings: vec![
                    line((-30.0, -6.0), (30.0, -6.0), 0.1, blue, 0.6),
                    line((-30.0, 6.0), (30.0, 6.0), 0.1, blue, 0.6),
                    line((7.0, -6.0), (7.0, 6.0), 0.1, blue, 0.6),
                ],
                rink: None,
            },
            Scene::Alpine => Field {
                markings: vec![
                    line((-60.0, -7.0), (60.0, -7.0), 0.1, blue, 0.7),
                    line((-60.0, 7.0), (60.0, 7.0), 0.1, blue, 0.7),
                ],
                rink: None,
            },
        }
    }
}

/// What the field is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Bright, white-blue, finely textured.
    Snow,
    /// Smoother and bluer, with specular glare.
    Ice,
}

/// A line on the ground.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marking {
    pub a: DVec2,
    pub b: DVec2,
    pub half_width: f64,
    pub colour: [u8; 3],
    pub opacity: f64,
}

/// The field's markings, and for a rink its half size (beyond it: boards and stands).
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub markings: Vec<Marking>,
    pub rink: Option<DVec2>,
}

/// The phase of the movement a frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before the athlete enters (the lead-in, for learning the background).
    Absent,
    /// Skating or skiing towards the takeoff or the turn.
    Approach,
    /// The last moments on the ground before leaving it.
    Takeoff,
    /// In the air.
    Flight,
    /// The frame nearest the highest point of the flight.
    Apex,
    /// The first moments back on the ground.
    Landing,
    /// Carving the turn (alpine).
    Turn,
    /// After the landing or the turn.
    RunOut,
}

/// One moment of the motion, in scene time (takeoff or turn apex at 0).
pub(crate) struct Moment {
    xy: DVec2,
    orientation: DMat3,
    pose: Pose,
    /// Fraction of the flight done, when airborne.
    flight: Option<f64>,
    /// Height of the surface the athlete stands on (the ski jump's table before takeoff).
    platform: f64,
    /// Turns about the vertical (body) axis since takeoff.
    pub rotations: f64,
    /// Somersault turns since takeoff.
    pub flips: f64,
}

/// A spray source: particles thrown from a foot over a time window.
struct Emitter {
    from: f64,
    to: f64,
    count: usize,
    side: Side,
    /// Base velocity (world), before random spread.
    velocity: DVec3,
    spread: f64,
}

/// A particle of snow or ice spray at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Particle {
    pub position: DVec3,
    pub radius: f64,
    pub opacity: f64,
}

/// The scene's motion, fitted once: ground heights at takeoff and landing, seed variation.
pub(crate) struct Script {
    pub scene: Scene,
    outfit: Outfit,
    equipment: Equipment,
    /// Air time in seconds (0 for alpine).
    air: f64,
    /// Extra height of the flight parabola over the straight line from takeoff to landing.
    lift: f64,
    /// Root height at takeoff and at landing.
    z0: f64,
    z1: f64,
    lateral: f64,
    seed: u64,
}

impl Script {
    /// Sets up the scene's motion for an athlete in `suit`.
    pub fn new(scene: Scene, suit: [u8; 3], seed: u64) -> Script {
        let (head, gear, equipment) = match scene {
            Scene::SkiJump => (
                [240, 200, 20],
                [200, 40, 40],
                Equipment::Skis { length: 2.4 },
            ),
            Scene::FigureSkating => ([225, 180, 150], [245, 245, 245], Equipment::Skates),
            Scene::Aerials => (
                [30, 30, 30],
                [240, 120, 20],
                Equipment::Skis { length: 1.7 },
            ),
            Scene::Alpine => ([20, 20, 25], [220, 30, 40], Equipment::Skis { length: 1.9 }),
        };
        let (air, lift) = match scene {
            Scene::SkiJump => (1.3, 2.0),
            Scene::FigureSkating => (0.7, G * 0.7 * 0.7 / 8.0),
            Scene::Aerials => (1.73, G * 1.73 * 1.73 / 8.0),
            Scene::Alpine => (0.0, 0.0),
        };
        let mut script = Script {
            scene,
            outfit: Outfit { suit, head, gear },
            equipment,
            air,
            lift,
            z0: 0.0,
            z1: 0.0,
            lateral: 0.4 * signed(hash(seed, &[stream::VARIATION])),
            seed,
        };
        if air > 0.0 {
            script.z0 = script.root_on_ground(-1e-9);
            script.z1 = script.root_on_ground(air + 1e-9);
        }
        script
    }

    /// The root height that puts the lowest point of the body on the surface at `s`.
    fn root_on_ground(&self, s: f64) -> f64 {
        let m = self.moment(s);
        let a = Athlete::new(
            &m.pose,
            self.equipment,
            &self.outfit,
            DVec3::ZERO,
            m.orientation,
        );
        m.platform - a.lowest()
    }

    fn grounded(&self, m: &Moment) -> Athlete {
        let a = Athlete::new(
            &m.pose,
            self.equipment,
            &self.outfit,
            m.xy.extend(0.0),
            m.orientation,
        );
        a.translated(DVec3::Z * (m.platform - a.lowest()))
    }

    /// The key window in scene time: the stretch a clip is centred on.
    pub fn key_window(&self) -> (f64, f64) {
        match self.scene {
            Scene::SkiJump => (0.0, 1.7),
            Scene::FigureSkating => (0.0, 0.7),
            Scene::Aerials => (0.0, 1.73),
            Scene::Alpine => (-0.9, 0.9),
        }
    }

    /// Takeoff, apex and landing in scene time (the alpine turn has only an apex).
    pub fn events(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        if self.air == 0.0 {
            return (None, Some(0.0), None);
        }
        let u = (0.5 + (self.z1 - self.z0) / (8.0 * self.lift)).clamp(0.0, 1.0);
        (Some(0.0), Some(u * self.air), Some(self.air))
    }

    /// The phase at scene time `s`; `half_frame` is half a frame interval, for the apex.
    pub fn phase(&self, s: f64, half_frame: f64) -> Phase {
        if self.air == 0.0 {
            return if s < -0.6 {
                Phase::Approach
            } else if s <= 0.6 {
                Phase::Turn
            } else {
                Phase::RunOut
            };
        }
        let (_, apex, _) = self.events();
        let apex = apex.unwrap_or(0.0);
        if s < -0.15 {
            Phase::Approach
        } else if s < 0.0 {
            Phase::Takeoff
        } else if s < self.air {
            if (s - apex).abs() <= half_frame {
                Phase::Apex
            } else {
                Phase::Flight
            }
        } else if s < self.air + 0.3 {
            Phase::Landing
        } else {
            Phase::RunOut
        }
    }

    /// The posed athlete at scene time `s`, and the moment it was posed from.
    pub fn athlete(&self, s: f64) -> (Athlete, Moment) {
        let m = self.moment(s);
        let athlete = match m.flight {
            None => self.grounded(&m),
            Some(u) => {
                let z = self.z0 + (self.z1 - self.z0) * u + 4.0 * self.lift * u * (1.0 - u);
                Athlete::new(
                    &m.pose,
                    self.equipment,
                    &self.outfit,
                    m.xy.extend(z),
                    m.orientation,
                )
            }
        };
        (athlete, m)
    }

    /// The root (pelvis centre) at scene time `s`.
    pub fn root(&self, s: f64) -> DVec3 {
        let (athlete, _) = self.athlete(s);
        // The pelvis capsule's axis is centred on the root.
        let pelvis = athlete.parts.iter().find(|p| p.kind == PartKind::Pelvis);
        pelvis.map_or(DVec3::ZERO, |p| (p.capsule.a + p.capsule.b) * 0.5)
    }

    fn moment(&self, s: f64) -> Moment {
        let mut m = match self.scene {
            Scene::SkiJump => ski_jump(s, self.air),
            Scene::FigureSkating => figure_skating(s, self.air),
            Scene::Aerials => aerials(s, self.air),
            Scene::Alpine => alpine(s),
        };
        m.xy.y += self.lateral;
        m
    }

    /// Spray particles alive at scene time `s`, `amount` scaling how many are thrown.
    pub fn spray(&self, s: f64, amount: f64) -> Vec<Particle> {
        let mut out = Vec::new();
        if amount <= 0.0 {
            return out;
        }
        const PUFFS: usize = 24;
        const LIFE: f64 = 0.8;
        for (e, emitter) in self.emitters().iter().enumerate() {
            if s < emitter.from || s > emitter.to + LIFE {
                continue;
            }
            let per_puff = ((emitter.count as f64 * amount) / PUFFS as f64).ceil() as usize;
            for puff in 0..PUFFS {
                let mut draw = Draw::new(hash(self.seed, &[stream::SPRAY, e as u64, puff as u64]));
                let born = emitter.from
                    + (emitter.to - emitter.from) * (puff as f64 + draw.unit()) / PUFFS as f64;
                if born > s || born + LIFE < s {
                    continue;
                }
                let (athlete, _) = self.athlete(born);
                let Some(foot) = athlete.parts.iter().find(|p| {
                    matches!(p.kind, PartKind::Ski(side) | PartKind::Skate(side) if side == emitter.side)
                }) else {
                    continue;
                };
                let c = foot.capsule;
                for _ in 0..per_puff {
                    let along = draw.range(0.0, 0.6);
                    let start = c.a + (c.b - c.a) * along - DVec3::Z * c.radius * 0.5;
                    let v = emitter.velocity
                        + DVec3::new(draw.gaussian(), draw.gaussian(), draw.gaussian().abs())
                            * emitter.spread;
                    let life = draw.range(0.35, LIFE);
                    let age = s - born;
                    if age > life {
                        continue;
                    }
                    // Spray slows quickly in the air and falls back.
                    let drag = 3.0;
                    let travelled = (1.0 - (-drag * age).exp()) / drag;
                    let mut position =
                        start + v * travelled - DVec3::Z * (0.5 * 0.6 * G * age * age);
                    position.z = position.z.max(0.005);
                    out.push(Particle {
                        position,
                        radius: draw.range(0.012, 0.035),
                        opacity: draw.range(0.35, 0.75) * (1.0 - age / life),
                    });
                }
            }
        }
        out
    }

    fn emitters(&self) -> Vec<Emitter> {
        let t = self.air;
        match self.scene {
            Scene::SkiJump => vec![
                Emitter {
                    from: t,
                    to: t + 0.35,
                    count: 160,
                    side: Side::Left,
                    velocity: DVec3::new(6.0, 1.5, 2.0),
                    spread: 1.5,
                },
                Emitter {
                    from: t,
                    to: t + 0.35,
                    count: 160,
                    side: Side::Right,
                    velocity: DVec3::new(6.0, -1.5, 2.0),
                    spread: 1.5,
                },
            ],
            Scene::FigureSkating => vec![
                Emitter {
                    from: -0.06,
                    to: 0.0,
                    count: 40,
                    side: Side::Left,
                    velocity: DVec3::new(1.0, 0.5, 1.0),
                    spread: 0.6,
                },
                Emitter {
                    from: t,
                    to: t + 0.25,
                    count: 140,
                    side: Side::Right,
                    velocity: DVec3::new(2.0, -1.5, 1.2),
                    spread: 0.8,
                },
            ],
            Scene::Aerials => vec![
                Emitter {
                    from: t,
                    to: t + 0.3,
                    count: 130,
                    side: Side::Left,
                    velocity: DVec3::new(2.5, 1.5, 2.5),
                    spread: 1.2,
                },
                Emitter {
                    from: t,
                    to: t + 0.3,
                    count: 130,
                    side: Side::Right,
                    velocity: DVec3::new(2.5, -1.5, 2.5),
                    spread: 1.2,
                },
            ],
            Scene::Alpine => {
                // Thrown outwards from the turn off the outside ski: at the apex the turn
                // curves to the right (-y), so the spray flies to the left (+y).
                vec![Emitter {
                    from: -0.6,
                    to: 0.6,
                    count: 300,
                    side: Side::Left,
                    velocity: DVec3::new(3.0, 4.5, 1.5),
                    spread: 1.0,
                }]
            }
        }
    }
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Interpolates keyframed poses with a smoothstep between neighbours; holds the ends.
fn keyed(keys: &[(f64, Pose)], s: f64) -> Pose {
    if s <= keys[0].0 {
        return keys[0].1;
    }
    for pair in keys.windows(2) {
        let ((s0, p0), (s1, p1)) = (pair[0], pair[1]);
        if s <= s1 {
            return Pose::lerp(&p0, &p1, smoothstep(s0, s1, s));
        }
    }
    keys[keys.len() - 1].1
}

/// A pose with both arms and both legs alike.
fn pose(trunk: f64, neck: f64, arm: Limb, leg: Limb, level: f64) -> Pose {
    Pose {
        trunk_pitch: trunk,
        neck_pitch: neck,
        arms: [arm; 2],
        legs: [leg; 2],
        level_feet: level,
        ..Pose::default()
    }
}

fn flight_fraction(s: f64, air: f64) -> Option<f64> {
    (s >= 0.0 && s < air).then(|| s / air)
}

fn ski_jump(s: f64, t: f64) -> Moment {
    let (x0, x1) = (-26.0, 4.0);
    let x = if s < 0.0 {
        x0 + 25.0 * s
    } else if s < t {
        x0 + (x1 - x0) * s / t
    } else {
        let d = s - t;
        x1 + 22.0 * d - 1.5 * d * d
    };
    let inrun = pose(
        1.25,
        -0.9,
        Limb::new(-0.35, 0.15, 0.1),
        Limb::new(1.45, 0.05, 2.0),
        1.0,
    );
    let takeoff = pose(
        0.5,
        -0.6,
        Limb::new(-0.3, 0.2, 0.1),
        Limb::new(0.7, 0.05, 0.7),
        1.0,
    );
    let flight = Pose {
        ankle_pitch: [1.2; 2],
        toe_out: [0.3; 2],
        ..pose(
            0.15,
            -0.5,
            Limb::new(-0.3, 0.25, 0.05),
            Limb::new(0.15, 0.12, 0.05),
            0.0,
        )
    };
    let land = Pose {
        legs: [Limb::new(0.55, 0.05, 0.75), Limb::new(-0.05, 0.05, 1.1)],
        ..pose(0.25, -0.2, Limb::new(0.4, 1.1, 0.3), Limb::default(), 1.0)
    };
    let runout = pose(
        0.35,
        -0.3,
        Limb::new(0.3, 0.9, 0.4),
        Limb::new(0.6, 0.05, 0.9),
        1.0,
    );
    let p = keyed(
        &[
            (-0.1, inrun),
            (0.05, takeoff),
            (0.3, flight),
            (t - 0.35, flight),
            (t, land),
            (t + 0.5, runout),
        ],
        s,
    );
    // The jumper lies forward over the skis in flight and straightens for the landing.
    let pitch = if s < 0.0 {
        0.0
    } else {
        1.05 * smoothstep(0.0, 0.3, s)
            - 0.85 * smoothstep(t - 0.35, t, s)
            - 0.1 * smoothstep(t, t + 0.5, s)
    };
    Moment {
        xy: DVec2::new(x, 0.0),
        orientation: DMat3::from_rotation_y(pitch),
        pose: p,
        flight: flight_fraction(s, t),
        platform: if s < 0.0 { 4.0 } else { 0.0 },
        rotations: 0.0,
        flips: 0.0,
    }
}

fn figure_skating(s: f64, t: f64) -> Moment {
    const TURNS: f64 = 3.5;
    let x = if s < 0.0 {
        5.0 * s
    } else if s < t {
        4.5 * s
    } else {
        4.5 * t + 4.0 * (s - t)
    };
    let glide = Pose {
        legs: [Limb::new(0.25, 0.0, 0.35), Limb::new(-0.45, 0.1, 0.1)],
        ..pose(0.15, 0.0, Limb::new(0.3, 1.2, 0.2), Limb::default(), 1.0)
    };
    let crouch = Pose {
        legs: [Limb::new(0.7, 0.0, 1.1), Limb::new(0.2, 0.1, 0.6)],
        ..pose(0.35, 0.0, Limb::new(-0.6, 0.3, 0.3), Limb::default(), 1.0)
    };
    let takeoff = Pose {
        legs: [Limb::new(0.1, 0.0, 0.1), Limb::new(1.1, 0.1, 1.4)],
        ..pose(0.1, 0.0, Limb::new(1.2, 0.3, 0.6), Limb::default(), 1.0)
    };
    let tuck = Pose {
        legs: [Limb::new(0.05, 0.0, 0.05), Limb::new(0.12, -0.08, 0.15)],
        ankle_pitch: [-0.4; 2],
        ..pose(0.0, 0.1, Limb::new(0.5, 0.45, 2.3), Limb::default(), 0.0)
    };
    let land = Pose {
        legs: [Limb::new(-0.5, 0.25, 0.1), Limb::new(0.35, 0.0, 0.55)],
        ..pose(0.2, 0.0, Limb::new(0.3, 1.3, 0.2), Limb::default(), 1.0)
    };
    let runout = Pose {
        legs: [Limb::new(-0.7, 0.3, 0.05), Limb::new(0.25, 0.0, 0.35)],
        ..pose(0.15, 0.0, Limb::new(0.2, 1.45, 0.1), Limb::default(), 1.0)
    };
    let p = keyed(
        &[
            (-0.35, glide),
            (-0.12, crouch),
            (0.0, takeoff),
            (0.14, tuck),
            (t - 0.12, tuck),
            (t, land),
            (t + 0.35, runout),
        ],
        s,
    );
    let turns = TURNS * (s / t).clamp(0.0, 1.0);
    Moment {
        xy: DVec2::new(x, 0.0),
        orientation: DMat3::from_rotation_z(std::f64::consts::TAU * turns),
        pose: p,
        flight: flight_fraction(s, t),
        platform: 0.0,
        rotations: turns,
        flips: 0.0,
    }
}

fn aerials(s: f64, t: f64) -> Moment {
    let (x0, x1) = (-4.3, 4.35);
    let x = if s < 0.0 {
        x0 + 8.0 * s
    } else if s < t {
        x0 + (x1 - x0) * s / t
    } else {
        let d = s - t;
        x1 + 6.0 * d - 2.0 * d * d
    };
    let approach = pose(
        0.45,
        -0.3,
        Limb::new(0.6, 0.3, 0.7),
        Limb::new(0.75, 0.05, 1.0),
        1.0,
    );
    let takeoff = pose(
        0.05,
        0.0,
        Limb::new(2.8, 0.25, 0.1),
        Limb::new(0.1, 0.05, 0.15),
        1.0,
    );
    let layout = Pose {
        ankle_pitch: [0.1; 2],
        ..pose(
            0.0,
            0.0,
            Limb::new(2.8, 0.25, 0.1),
            Limb::new(0.0, 0.04, 0.0),
            0.0,
        )
    };
    let twist = Pose {
        ankle_pitch: [0.1; 2],
        ..pose(
            0.0,
            0.0,
            Limb::new(0.3, 0.2, 2.2),
            Limb::new(0.0, 0.03, 0.0),
            0.0,
        )
    };
    let open = Pose {
        ankle_pitch: [0.1; 2],
        ..pose(
            0.05,
            0.0,
            Limb::new(0.3, 1.4, 0.1),
            Limb::new(0.1, 0.05, 0.1),
            0.0,
        )
    };
    let land = pose(
        0.5,
        -0.3,
        Limb::new(1.0, 0.3, 0.4),
        Limb::new(0.9, 0.06, 1.3),
        1.0,
    );
    let runout = pose(
        0.35,
        -0.3,
        Limb::new(0.7, 0.3, 0.6),
        Limb::new(0.55, 0.06, 0.8),
        1.0,
    );
    let p = keyed(
        &[
            (-0.3, approach),
            (0.0, takeoff),
            (0.25 * t, layout),
            (0.4 * t, twist),
            (0.6 * t, twist),
            (0.8 * t, open),
            (t, land),
            (t + 0.4, runout),
        ],
        s,
    );
    let u = (s / t).clamp(0.0, 1.0);
    let flips = u;
    let twists = smoothstep(0.25, 0.75, u);
    let tau = std::f64::consts::TAU;
    Moment {
        xy: DVec2::new(x, 0.0),
        // Backwards about the body's left-right axis, then the twist about its length.
        orientation: DMat3::from_rotation_y(-tau * flips) * DMat3::from_rotation_z(tau * twists),
        pose: p,
        flight: flight_fraction(s, t),
        platform: 0.0,
        rotations: twists,
        flips,
    }
}

fn alpine(s: f64) -> Moment {
    // A sine-shaped course at 10 m/s; the turn's apex (most curvature) is at x = 0.
    let (v, a, k) = (10.0, 3.0, std::f64::consts::PI / 18.0);
    let x = v * s;
    let y = a * (k * x).cos() - 0.5 * a;
    let slope = -a * k * (k * x).sin();
    let bend = -a * k * k * (k * x).cos();
    let curvature = bend / (1.0 + slope * slope).powf(1.5);
    let speed2 = v * v * (1.0 + slope * slope);
    let lean_left = (speed2 * curvature / G).atan();
    let heading = slope.atan();
    let carve = lean_left.abs() / 0.7;
    let outside = Limb::new(0.75, 0.02, 0.95);
    let inside = Limb::new(0.75 + 0.35 * carve, 0.08, 0.95 + 0.5 * carve);
    let legs = if lean_left > 0.0 {
        [inside, outside]
    } else {
        [outside, inside]
    };
    Moment {
        xy: DVec2::new(x, y),
        orientation: DMat3::from_rotation_z(heading) * DMat3::from_rotation_x(-lean_left),
        pose: Pose {
            legs,
            ..pose(
                0.45,
                -0.35,
                Limb::new(0.75, 0.35, 0.9),
                Limb::default(),
                1.0,
            )
        },
        flight: None,
        platform: 0.0,
        rotations: 0.0,
        flips: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_leave_and_meet_the_ground_continuously() {
        for scene in [Scene::SkiJump, Scene::FigureSkating, Scene::Aerials] {
            let script = Script::new(scene, [200, 0, 0], 1);
            let (takeoff, apex, landing) = script.events();
            let (takeoff, apex, landing) = (takeoff.unwrap(), apex.unwrap(), landing.unwrap());
            assert!(takeoff < apex && apex < landing, "{scene:?}");
            let platform = if scene == Scene::SkiJump { 4.0 } else { 0.0 };
            for (s, floor) in [
                (takeoff - 1e-6, platform),
                (takeoff + 1e-6, platform),
                (landing - 1e-6, 0.0),
                (landing + 1e-6, 0.0),
            ] {
                let low = script.athlete(s).0.lowest();
                assert!((low - floor).abs() < 0.02, "{scene:?} at {s}: lowest {low}");
            }
            let mid = script.athlete(apex).0.lowest();
            assert!(mid > 0.3, "{scene:?} is airborne at the apex: {mid}");
            // The apex is the root's highest point.
            let z = |s| script.root(s).z;
            assert!(
                z(apex) >= z(apex - 0.05) && z(apex) >= z(apex + 0.05),
                "{scene:?}"
            );
        }
    }

    #[test]
    fn the_skater_turns_three_and_a_half_times() {
        let script = Script::new(Scene::FigureSkating, [200, 0, 0], 1);
        assert_eq!(script.athlete(-0.5).1.rotations, 0.0);
        assert!((script.athlete(0.35).1.rotations - 1.75).abs() < 1e-9);
        assert!((script.athlete(2.0).1.rotations - 3.5).abs() < 1e-9);
    }

    #[test]
    fn the_alpine_skier_leans_into_the_turn_with_skis_on_the_snow() {
        let script = Script::new(Scene::Alpine, [200, 0, 0], 1);
        let (athlete, _) = script.athlete(0.0);
        assert!(athlete.lowest().abs() < 1e-9);
        let head = athlete.parts[0].capsule.a;
        let root = script.root(0.0);
        // Turning right at the apex: the body leans to -y.
        assert!(head.y < root.y - 0.3, "head {head} root {root}");
    }

    #[test]
    fn spray_flies_only_around_landings() {
        let script = Script::new(Scene::Aerials, [200, 0, 0], 3);
        assert!(script.spray(0.5, 1.0).is_empty());
        let landing = script.events().2.unwrap();
        let spray = script.spray(landing + 0.2, 1.0);
        assert!(spray.len() > 50, "{}", spray.len());
        assert!(spray.iter().all(|p| p.position.z > 0.0 && p.opacity > 0.0));
        assert_eq!(spray.len(), script.spray(landing + 0.2, 1.0).len());
    }
}
