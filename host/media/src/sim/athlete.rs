//! The articulated athlete: capsules (a segment and a radius) for head, torso, pelvis,
//! arms, legs and skis or skates, posed from joint angles, with exact point containment
//! for occupancy ground truth and ray intersection for rendering.

use glam::{DMat3, DVec3};
use rayon::prelude::*;

use crate::hull::Bounds;

/// A capsule: every point within `radius` of the segment from `a` to `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capsule {
    /// One end of the axis.
    pub a: DVec3,
    /// The other end of the axis.
    pub b: DVec3,
    /// Radius in metres.
    pub radius: f64,
}

impl Capsule {
    /// The point of the axis nearest to `p`.
    pub fn closest_on_axis(&self, p: DVec3) -> DVec3 {
        let ab = self.b - self.a;
        let len2 = ab.length_squared();
        let t = if len2 > 0.0 {
            ((p - self.a).dot(ab) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.a + ab * t
    }

    /// Whether `p` lies inside (or on) the capsule.
    pub fn contains(&self, p: DVec3) -> bool {
        (p - self.closest_on_axis(p)).length_squared() <= self.radius * self.radius
    }

    /// The distance along a ray (`dir` unit length) to where it first enters the capsule,
    /// if it does in front of `origin`.
    pub fn intersect(&self, origin: DVec3, dir: DVec3) -> Option<f64> {
        // Inigo Quilez's capsule intersection: the cylinder's side, then the end spheres.
        let ba = self.b - self.a;
        let oa = origin - self.a;
        let r2 = self.radius * self.radius;
        let baba = ba.dot(ba);
        let bard = ba.dot(dir);
        let baoa = ba.dot(oa);
        let rdoa = dir.dot(oa);
        let oaoa = oa.dot(oa);
        let a = baba - bard * bard;
        let b = baba * rdoa - baoa * bard;
        let c = baba * oaoa - baoa * baoa - r2 * baba;
        let h = b * b - a * c;
        if h < 0.0 {
            return None;
        }
        let mut end = oa;
        if a > 1e-12 * baba.max(1e-12) {
            let t = (-b - h.sqrt()) / a;
            let y = baoa + t * bard;
            if y > 0.0 && y < baba {
                return (t > 0.0).then_some(t);
            }
            if y >= baba {
                end = origin - self.b;
            }
        } else if bard < 0.0 {
            // Parallel to the axis: the ray meets the end it points towards first.
            end = origin - self.b;
        }
        let b = dir.dot(end);
        let c = end.dot(end) - r2;
        let h = b * b - c;
        if h < 0.0 {
            return None;
        }
        let t = -b - h.sqrt();
        (t > 0.0).then_some(t)
    }

    /// The outward unit normal at a point on the surface.
    pub fn normal(&self, p: DVec3) -> DVec3 {
        (p - self.closest_on_axis(p)).normalize_or_zero()
    }

    /// The axis-aligned box around the capsule.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            min: self.a.min(self.b) - DVec3::splat(self.radius),
            max: self.a.max(self.b) + DVec3::splat(self.radius),
        }
    }

    /// Volume in cubic metres.
    pub fn volume(&self) -> f64 {
        let r = self.radius;
        std::f64::consts::PI * r * r * ((self.b - self.a).length() + 4.0 / 3.0 * r)
    }

    /// The capsule moved by `offset`.
    pub fn translated(&self, offset: DVec3) -> Capsule {
        Capsule {
            a: self.a + offset,
            b: self.b + offset,
            radius: self.radius,
        }
    }
}

/// Left or right, from the athlete's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The athlete's left (+y in the body frame).
    Left,
    /// The athlete's right (-y in the body frame).
    Right,
}

impl Side {
    /// Both sides, left first (the index order of [`Pose`]'s pairs).
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    fn sign(self) -> f64 {
        match self {
            Side::Left => 1.0,
            Side::Right => -1.0,
        }
    }
}

/// What a body part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    /// The head, with helmet or hair.
    Head,
    /// Chest and abdomen.
    Torso,
    /// The hips.
    Pelvis,
    /// Shoulder to elbow.
    UpperArm(Side),
    /// Elbow to fingertips.
    Forearm(Side),
    /// Hip to knee.
    Thigh(Side),
    /// Knee to ankle, with the boot.
    Shin(Side),
    /// A ski, under the boot.
    Ski(Side),
    /// A skating boot and blade.
    Skate(Side),
}

/// One posed body part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    /// What it is.
    pub kind: PartKind,
    /// Where it is, in world coordinates.
    pub capsule: Capsule,
    /// Its colour (albedo), 8-bit sRGB-ish.
    pub colour: [u8; 3],
}

/// What the athlete wears on the feet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Equipment {
    /// A pair of skis of this length in metres.
    Skis {
        /// Ski length in metres.
        length: f64,
    },
    /// Figure skates.
    Skates,
}

/// Colours of the athlete's clothes and gear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outfit {
    /// Suit (torso, arms, legs).
    pub suit: [u8; 3],
    /// Helmet, or skin and hair.
    pub head: [u8; 3],
    /// Skis or skating boots.
    pub gear: [u8; 3],
}

/// Angles of one limb, in radians.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limb {
    /// Forward swing at the shoulder or hip (0 hanging down, π/2 pointing forward).
    pub flex: f64,
    /// Sideways swing away from the body (0 alongside, π/2 pointing out).
    pub abduct: f64,
    /// Elbow (forearm forward) or knee (shin backward) bend; 0 straight.
    pub bend: f64,
}

impl Limb {
    /// A limb with these angles.
    pub const fn new(flex: f64, abduct: f64, bend: f64) -> Limb {
        Limb { flex, abduct, bend }
    }
}

/// Joint angles of the whole body, in radians; pairs are `[left, right]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    /// Forward bend of the trunk at the hips.
    pub trunk_pitch: f64,
    /// Twist of the trunk about the spine (positive turns the chest to the left).
    pub trunk_twist: f64,
    /// Forward bend of the head.
    pub neck_pitch: f64,
    /// Shoulders and elbows.
    pub arms: [Limb; 2],
    /// Hips and knees.
    pub legs: [Limb; 2],
    /// Foot (ski, skate) pitch at the ankle, toes up positive, 0 square to the shin.
    pub ankle_pitch: [f64; 2],
    /// Foot yaw about the shin, toes out positive (a V of skis).
    pub toe_out: [f64; 2],
    /// 0: feet follow `ankle_pitch`; 1: feet lie level (skis flat on the snow); between
    /// blends the two.
    pub level_feet: f64,
}

impl Pose {
    /// Blends two poses angle by angle, `w` = 0 gives `a`, 1 gives `b`.
    pub fn lerp(a: &Pose, b: &Pose, w: f64) -> Pose {
        let l = |x: f64, y: f64| x + (y - x) * w;
        let limb = |x: Limb, y: Limb| Limb {
            flex: l(x.flex, y.flex),
            abduct: l(x.abduct, y.abduct),
            bend: l(x.bend, y.bend),
        };
        Pose {
            trunk_pitch: l(a.trunk_pitch, b.trunk_pitch),
            trunk_twist: l(a.trunk_twist, b.trunk_twist),
            neck_pitch: l(a.neck_pitch, b.neck_pitch),
            arms: [limb(a.arms[0], b.arms[0]), limb(a.arms[1], b.arms[1])],
            legs: [limb(a.legs[0], b.legs[0]), limb(a.legs[1], b.legs[1])],
            ankle_pitch: [
                l(a.ankle_pitch[0], b.ankle_pitch[0]),
                l(a.ankle_pitch[1], b.ankle_pitch[1]),
            ],
            toe_out: [l(a.toe_out[0], b.toe_out[0]), l(a.toe_out[1], b.toe_out[1])],
            level_feet: l(a.level_feet, b.level_feet),
        }
    }
}

/// Body measurements of an adult of about 1.75 m, in metres (body frame: origin at the
/// pelvis centre, x forward, y left, z up).
mod build {
    pub const PELVIS_R: f64 = 0.12;
    pub const PELVIS_HALF: f64 = 0.07;
    pub const HIP_Y: f64 = 0.09;
    pub const HIP_Z: f64 = -0.04;
    pub const TORSO_FROM: f64 = 0.12;
    pub const TORSO_TO: f64 = 0.38;
    pub const TORSO_R: f64 = 0.15;
    pub const SHOULDER_Y: f64 = 0.2;
    pub const SHOULDER_Z: f64 = 0.45;
    pub const NECK_Z: f64 = 0.52;
    pub const HEAD_UP: f64 = 0.15;
    pub const HEAD_HALF: f64 = 0.03;
    pub const HEAD_R: f64 = 0.11;
    pub const UPPER_ARM: f64 = 0.29;
    pub const UPPER_ARM_R: f64 = 0.055;
    pub const FOREARM: f64 = 0.3;
    pub const FOREARM_R: f64 = 0.045;
    pub const THIGH: f64 = 0.43;
    pub const THIGH_R: f64 = 0.08;
    pub const SHIN: f64 = 0.41;
    pub const SHIN_R: f64 = 0.06;
    pub const SOLE: f64 = 0.06;
    pub const SKI_R: f64 = 0.035;
    pub const SKATE_R: f64 = 0.055;
}

/// A posed athlete: body parts in world coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Athlete {
    /// The parts, head first.
    pub parts: Vec<Part>,
}

/// Where a ray meets the athlete.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Distance along the (unit) ray.
    pub distance: f64,
    /// Index into [`Athlete::parts`].
    pub part: usize,
    /// Outward unit normal at the hit.
    pub normal: DVec3,
}

impl Athlete {
    /// Poses the body: joint angles, then the body frame (x forward, y left, z up, origin at
    /// the pelvis centre) placed at `root` with rotation `orientation` (body to world).
    pub fn new(
        pose: &Pose,
        equipment: Equipment,
        outfit: &Outfit,
        root: DVec3,
        orientation: DMat3,
    ) -> Athlete {
        use build::*;
        let world = |p: DVec3| root + orientation * p;
        let mut parts = Vec::with_capacity(13);
        let mut add = |kind, a: DVec3, b: DVec3, radius, colour| {
            parts.push(Part {
                kind,
                capsule: Capsule { a, b, radius },
                colour,
            })
        };
        let trunk =
            DMat3::from_rotation_z(pose.trunk_twist) * DMat3::from_rotation_y(pose.trunk_pitch);
        let head_frame = trunk * DMat3::from_rotation_y(pose.neck_pitch);
        let head =
            trunk * DVec3::new(0.0, 0.0, NECK_Z) + head_frame * DVec3::new(0.0, 0.0, HEAD_UP);
        let head_axis = head_frame * DVec3::new(0.0, 0.0, HEAD_HALF);
        add(
            PartKind::Head,
            world(head - head_axis),
            world(head + head_axis),
            HEAD_R,
            outfit.head,
        );
        add(
            PartKind::Torso,
            world(trunk * DVec3::new(0.0, 0.0, TORSO_FROM)),
            world(trunk * DVec3::new(0.0, 0.0, TORSO_TO)),
            TORSO_R,
            outfit.suit,
        );
        add(
            PartKind::Pelvis,
            world(DVec3::new(0.0, -PELVIS_HALF, 0.0)),
            world(DVec3::new(0.0, PELVIS_HALF, 0.0)),
            PELVIS_R,
            outfit.suit,
        );
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let s = side.sign();
            let arm = pose.arms[i];
            let shoulder = trunk * DVec3::new(0.0, s * SHOULDER_Y, SHOULDER_Z);
            let upper =
                trunk * DMat3::from_rotation_y(-arm.flex) * DMat3::from_rotation_x(s * arm.abduct);
            let elbow = shoulder + upper * DVec3::new(0.0, 0.0, -UPPER_ARM);
            let fore = upper * DMat3::from_rotation_y(-arm.bend);
            let hand = elbow + fore * DVec3::new(0.0, 0.0, -FOREARM);
            add(
                PartKind::UpperArm(side),
                world(shoulder),
                world(elbow),
                UPPER_ARM_R,
                outfit.suit,
            );
            add(
                PartKind::Forearm(side),
                world(elbow),
                world(hand),
                FOREARM_R,
                outfit.suit,
            );
        }
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let s = side.sign();
            let leg = pose.legs[i];
            let hip = DVec3::new(0.0, s * HIP_Y, HIP_Z);
            let thigh = DMat3::from_rotation_y(-leg.flex) * DMat3::from_rotation_x(s * leg.abduct);
            let knee = hip + thigh * DVec3::new(0.0, 0.0, -THIGH);
            let shin = thigh * DMat3::from_rotation_y(leg.bend);
            let ankle = knee + shin * DVec3::new(0.0, 0.0, -SHIN);
            add(
                PartKind::Thigh(side),
                world(hip),
                world(knee),
                THIGH_R,
                outfit.suit,
            );
            add(
                PartKind::Shin(side),
                world(knee),
                world(ankle),
                SHIN_R,
                outfit.suit,
            );
            // The foot frame: yaw about the shin, then pitch at the ankle. Level feet choose
            // the pitch that makes the foot's forward axis horizontal in the world.
            let yawed = shin * DMat3::from_rotation_z(s * pose.toe_out[i]);
            let u = orientation * (yawed * DVec3::X);
            let w = orientation * (yawed * DVec3::Z);
            let level = if w.z.abs() > 1e-9 {
                (-u.z / w.z).atan()
            } else {
                pose.ankle_pitch[i]
            };
            let pitch = pose.ankle_pitch[i] + (level - pose.ankle_pitch[i]) * pose.level_feet;
            let foot = yawed * DMat3::from_rotation_y(-pitch);
            let (forward, up) = (foot * DVec3::X, foot * DVec3::Z);
            match equipment {
                Equipment::Skis { length } => {
                    let centre = ankle - up * (SOLE + SKI_R);
                    add(
                        PartKind::Ski(side),
                        world(centre - forward * (0.45 * length - SKI_R)),
                        world(centre + forward * (0.55 * length - SKI_R)),
                        SKI_R,
                        outfit.gear,
                    );
                }
                Equipment::Skates => {
                    let sole = ankle - up * 0.06;
                    add(
                        PartKind::Skate(side),
                        world(sole - forward * 0.05),
                        world(sole + forward * 0.19),
                        SKATE_R,
                        outfit.gear,
                    );
                }
            }
        }
        Athlete { parts }
    }

    /// The athlete moved by `offset`.
    pub fn translated(&self, offset: DVec3) -> Athlete {
        Athlete {
            parts: self
                .parts
                .iter()
                .map(|p| Part {
                    capsule: p.capsule.translated(offset),
                    ..*p
                })
                .collect(),
        }
    }

    /// The lowest point of the body (z).
    pub fn lowest(&self) -> f64 {
        self.parts
            .iter()
            .map(|p| p.capsule.a.z.min(p.capsule.b.z) - p.capsule.radius)
            .fold(f64::INFINITY, f64::min)
    }

    /// The axis-aligned box around the body.
    pub fn bounds(&self) -> Bounds {
        self.parts.iter().fold(
            Bounds {
                min: DVec3::INFINITY,
                max: DVec3::NEG_INFINITY,
            },
            |b, p| {
                let c = p.capsule.bounds();
                Bounds {
                    min: b.min.min(c.min),
                    max: b.max.max(c.max),
                }
            },
        )
    }

    /// The volume-weighted centre of the parts (a centre of mass of uniform density,
    /// counting where parts overlap twice).
    pub fn center_of_mass(&self) -> DVec3 {
        let (mut sum, mut total) = (DVec3::ZERO, 0.0);
        for p in &self.parts {
            let v = p.capsule.volume();
            sum += (p.capsule.a + p.capsule.b) * 0.5 * v;
            total += v;
        }
        sum / total
    }

    /// Whether a world point lies inside the body (exact, for occupancy ground truth).
    pub fn contains(&self, point: DVec3) -> bool {
        self.parts.iter().any(|p| p.capsule.contains(point))
    }

    /// The nearest point where a ray (`dir` unit length) enters the body.
    pub fn intersect(&self, origin: DVec3, dir: DVec3) -> Option<Hit> {
        let mut best: Option<(f64, usize)> = None;
        for (i, p) in self.parts.iter().enumerate() {
            if let Some(t) = p.capsule.intersect(origin, dir)
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, i));
            }
        }
        best.map(|(distance, part)| Hit {
            distance,
            part,
            normal: self.parts[part].capsule.normal(origin + dir * distance),
        })
    }

    /// Which voxel centres of a `resolution³` grid over `bounds` lie inside the body, in
    /// the index order of [`crate::hull::Hull::occupied`] (`x + n (y + n z)`).
    pub fn occupancy(&self, bounds: Bounds, resolution: u32) -> Vec<bool> {
        let n = resolution as usize;
        let voxel = (bounds.max - bounds.min) / f64::from(resolution);
        let centre = |i: usize, axis: usize| bounds.min[axis] + voxel[axis] * (i as f64 + 0.5);
        // Each part only visits the voxels of its own bounding box.
        let range = |lo: f64, hi: f64, axis: usize| {
            let a = ((lo - bounds.min[axis]) / voxel[axis] - 0.5)
                .ceil()
                .max(0.0) as usize;
            let b = ((hi - bounds.min[axis]) / voxel[axis] - 0.5).floor() + 1.0;
            a..(b.max(0.0) as usize).min(n)
        };
        let mut occupied = vec![false; n * n * n];
        occupied
            .par_chunks_mut(n * n)
            .enumerate()
            .for_each(|(z, slab)| {
                let cz = centre(z, 2);
                for part in &self.parts {
                    let b = part.capsule.bounds();
                    if cz < b.min.z || cz > b.max.z {
                        continue;
                    }
                    for y in range(b.min.y, b.max.y, 1) {
                        let cy = centre(y, 1);
                        for x in range(b.min.x, b.max.x, 0) {
                            let cell = &mut slab[x + n * y];
                            if !*cell && part.capsule.contains(DVec3::new(centre(x, 0), cy, cz)) {
                                *cell = true;
                            }
                        }
                    }
                }
            });
        occupied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTFIT: Outfit = Outfit {
        suit: [200, 30, 30],
        head: [30, 30, 30],
        gear: [250, 250, 250],
    };

    fn standing(equipment: Equipment) -> Athlete {
        let pose = Pose {
            level_feet: 1.0,
            ..Pose::default()
        };
        Athlete::new(&pose, equipment, &OUTFIT, DVec3::ZERO, DMat3::IDENTITY)
    }

    #[test]
    fn a_standing_skier_has_thirteen_parts_and_human_size() {
        let a = standing(Equipment::Skis { length: 1.8 });
        assert_eq!(a.parts.len(), 13);
        let b = a.bounds();
        let height = b.max.z - b.min.z;
        assert!((1.6..1.9).contains(&height), "height {height}");
        // Skis lie flat along x, under the feet.
        let ski = a
            .parts
            .iter()
            .find(|p| p.kind == PartKind::Ski(Side::Left))
            .unwrap();
        assert!((ski.capsule.a.z - ski.capsule.b.z).abs() < 1e-9);
        assert!(((ski.capsule.b - ski.capsule.a).length() - 1.73).abs() < 1e-9);
        assert!((b.max.x - b.min.x - 1.8).abs() < 0.05);
    }

    #[test]
    fn level_feet_stay_level_when_the_body_leans() {
        let pose = Pose {
            legs: [Limb::new(0.8, 0.1, 1.2), Limb::new(0.5, 0.0, 0.9)],
            level_feet: 1.0,
            ..Pose::default()
        };
        let tilt = DMat3::from_rotation_z(0.7) * DMat3::from_rotation_x(-0.5);
        let a = Athlete::new(
            &pose,
            Equipment::Skis { length: 1.7 },
            &OUTFIT,
            DVec3::ZERO,
            tilt,
        );
        for p in &a.parts {
            if matches!(p.kind, PartKind::Ski(_)) {
                assert!((p.capsule.a.z - p.capsule.b.z).abs() < 1e-9, "{p:?}");
            }
        }
    }

    #[test]
    fn rays_enter_where_the_body_begins() {
        let a = standing(Equipment::Skates);
        let origin = DVec3::new(5.0, 0.3, 0.2);
        for i in 0..200 {
            let target = DVec3::new(0.0, -0.4 + 0.004 * i as f64, 0.45 - 0.006 * i as f64);
            let dir = (target - origin).normalize();
            match a.intersect(origin, dir) {
                Some(hit) => {
                    let p = origin + dir * hit.distance;
                    assert!(a.contains(p + dir * 1e-6) && !a.contains(p - dir * 1e-6));
                    let part = &a.parts[hit.part].capsule;
                    assert!(((p - part.closest_on_axis(p)).length() - part.radius).abs() < 1e-9);
                }
                None => {
                    for k in 0..100 {
                        assert!(!a.contains(origin + dir * (4.0 + 0.02 * k as f64)));
                    }
                }
            }
        }
    }

    #[test]
    fn rays_along_the_axis_hit_the_end_caps() {
        let c = Capsule {
            a: DVec3::ZERO,
            b: DVec3::Z,
            radius: 0.2,
        };
        let t = c.intersect(DVec3::new(0.0, 0.0, 5.0), -DVec3::Z).unwrap();
        assert!((t - 3.8).abs() < 1e-12);
        let t = c.intersect(DVec3::new(0.0, 0.0, -5.0), DVec3::Z).unwrap();
        assert!((t - 4.8).abs() < 1e-12);
        assert_eq!(c.intersect(DVec3::new(0.3, 0.0, 5.0), -DVec3::Z), None);
    }

    #[test]
    fn occupancy_tests_voxel_centres_in_hull_order() {
        let a = standing(Equipment::Skis { length: 1.6 });
        let bounds = Bounds {
            min: DVec3::new(-1.0, -0.6, -0.1),
            max: DVec3::new(1.0, 0.6, 1.9),
        };
        let n = 16u32;
        let grid = a.occupancy(bounds, n);
        let voxel = (bounds.max - bounds.min) / f64::from(n);
        let mut count = 0;
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let c = bounds.min
                        + voxel * (DVec3::new(f64::from(x), f64::from(y), f64::from(z)) + 0.5);
                    let i = (x + n * (y + n * z)) as usize;
                    assert_eq!(grid[i], a.contains(c), "voxel {x} {y} {z}");
                    count += usize::from(grid[i]);
                }
            }
        }
        assert!(count > 20, "{count}");
    }
}
