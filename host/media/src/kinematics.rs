//! The athlete's movement measured from per-frame hulls: trajectory, speed, height, air
//! time, takeoff and landing, and rotation estimates. These fill the moment that modules
//! receive.

use glam::{DMat3, DVec3};
use serde::Serialize;

use crate::hull::Hull;

/// What one frame's hull says about the athlete's body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shape {
    /// Time of the frame, in seconds from the clip's start.
    pub t: f64,
    /// Centre of the occupied voxels.
    pub centroid: DVec3,
    /// Lowest occupied point (z), in metres above the ground plane z = 0.
    pub lowest: f64,
    /// Highest occupied point (z).
    pub highest: f64,
    /// Occupied voxels.
    pub voxels: usize,
    /// Direction of the body's longest axis (unit, sign arbitrary).
    pub long_axis: DVec3,
    /// Direction of the body's longest horizontal extent (unit, sign arbitrary, z = 0).
    pub horizontal_axis: DVec3,
}

impl Shape {
    /// Measures a hull; `None` when it is empty.
    pub fn of(t: f64, hull: &Hull) -> Option<Shape> {
        let voxel = hull.voxel_size();
        let origin = hull.bounds.min + voxel * 0.5;
        let (mut sum, mut count) = (DVec3::ZERO, 0usize);
        let (mut lowest, mut highest) = (f64::INFINITY, f64::NEG_INFINITY);
        // The occupied voxels' centres in index order.
        let occupied = hull.occupied_indices();
        let points = || {
            occupied.iter().map(|&i| {
                let [x, y, z] = hull.cell(i);
                origin + voxel * DVec3::new(x as f64, y as f64, z as f64)
            })
        };
        for p in points() {
            sum += p;
            count += 1;
            lowest = lowest.min(p.z - voxel.z / 2.0);
            highest = highest.max(p.z + voxel.z / 2.0);
        }
        if count == 0 {
            return None;
        }
        let centroid = sum / count as f64;
        let mut cov = DMat3::ZERO;
        for p in points() {
            let d = p - centroid;
            cov += DMat3::from_cols(d * d.x, d * d.y, d * d.z);
        }
        let cov = cov * (1.0 / count as f64);
        let long_axis = principal_axis(cov);
        // The horizontal principal axis: the largest eigenvector of the xy block.
        let (a, b, c) = (cov.col(0).x, cov.col(1).x, cov.col(1).y);
        let angle = 0.5 * (2.0 * b).atan2(a - c);
        let horizontal_axis = DVec3::new(angle.cos(), angle.sin(), 0.0);
        Some(Shape {
            t,
            centroid,
            lowest,
            highest,
            voxels: count,
            long_axis,
            horizontal_axis,
        })
    }
}

/// The dominant eigenvector of a symmetric positive semi-definite matrix (power iteration,
/// started from its largest column, which is never orthogonal to that eigenvector).
fn principal_axis(m: DMat3) -> DVec3 {
    let mut v = [m.col(0), m.col(1), m.col(2)]
        .into_iter()
        .max_by(|a, b| a.length_squared().total_cmp(&b.length_squared()))
        .unwrap_or(DVec3::Z);
    for _ in 0..64 {
        let next = m * v;
        let len = next.length();
        if len < 1e-15 {
            return DVec3::Z;
        }
        v = next / len;
    }
    v
}

/// Kinematics of a movement, from a series of shapes in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kinematics {
    /// The centroid per frame: `(t, position)`.
    pub trajectory: Vec<(f64, DVec3)>,
    /// Takeoff time (first frame the lowest point leaves the ground), if the athlete flew.
    pub takeoff_s: Option<f64>,
    /// Landing time (first frame back on the ground after takeoff).
    pub landing_s: Option<f64>,
    /// Time of the highest centroid in flight.
    pub apex_s: Option<f64>,
    /// Landing minus takeoff.
    pub air_time_s: Option<f64>,
    /// Highest lowest-point above the ground during flight (the clearance), in metres.
    pub max_height_m: f64,
    /// Horizontal distance from the takeoff centroid to the landing centroid, in metres.
    pub distance_m: Option<f64>,
    /// Speed of the centroid at takeoff, in metres per second.
    pub takeoff_speed_ms: Option<f64>,
    /// Highest centroid speed in the clip, in metres per second.
    pub max_speed_ms: f64,
    /// Revolutions about the vertical axis during the flight (or the whole clip if no flight),
    /// from the turning of the body's horizontal principal axis.
    pub rotations: f64,
    /// Turns of the body's long axis in the vertical plane (flips), over the same span.
    pub flips: f64,
}

/// How kinematics are measured.
#[derive(Debug, Clone, Copy)]
pub struct KinematicsConfig {
    /// The lowest point must be this high (metres) for the athlete to count as airborne.
    pub airborne_above_m: f64,
}

impl Default for KinematicsConfig {
    fn default() -> Self {
        KinematicsConfig {
            airborne_above_m: 0.08,
        }
    }
}

/// Measures a movement. Rotations are unwrapped frame to frame with the axis's half-turn
/// ambiguity, so the frame rate must keep the body under a quarter turn per frame.
pub fn measure(shapes: &[Shape], config: KinematicsConfig) -> Kinematics {
    let trajectory: Vec<(f64, DVec3)> = shapes.iter().map(|s| (s.t, s.centroid)).collect();
    let speed = |i: usize| -> f64 {
        let (a, b) = (i.saturating_sub(1), (i + 1).min(shapes.len() - 1));
        if a == b {
            return 0.0;
        }
        (shapes[b].centroid - shapes[a].centroid).length() / (shapes[b].t - shapes[a].t)
    };
    let airborne: Vec<bool> = shapes
        .iter()
        .map(|s| s.lowest > config.airborne_above_m)
        .collect();
    // The longest airborne run is the flight: a frame whose hull lost its feet in one view
    // looks airborne for a moment.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in 1..shapes.len() {
        if airborne[i] && !airborne[i - 1] {
            let end = (i + 1..shapes.len())
                .find(|&k| !airborne[k])
                .unwrap_or(shapes.len());
            runs.push((i, end));
        }
    }
    let longest = runs.iter().max_by_key(|(a, b)| b - a).copied();
    let takeoff = longest.map(|(a, _)| a);
    let landing = longest.and_then(|(_, b)| (b < shapes.len()).then_some(b));
    let flight = match (takeoff, landing) {
        (Some(a), Some(b)) => a..b,
        (Some(a), None) => a..shapes.len(),
        _ => 0..shapes.len(),
    };
    let apex = takeoff.and_then(|_| {
        flight
            .clone()
            .max_by(|&a, &b| shapes[a].centroid.z.total_cmp(&shapes[b].centroid.z))
    });
    let max_height_m = if takeoff.is_some() {
        flight.clone().map(|i| shapes[i].lowest).fold(0.0, f64::max)
    } else {
        0.0
    };
    let span = (flight.start.saturating_sub(1))..(flight.end).min(shapes.len());
    let mut rotations = turns(
        span.clone()
            .map(|i| shapes[i].horizontal_axis.truncate().to_angle()),
    );
    let mut flips = turns(span.clone().map(|i| {
        let axis = shapes[i].long_axis;
        // The long axis's angle in the vertical plane that contains it.
        axis.z
            .atan2(axis.truncate().length() * if axis.x + axis.y < 0.0 { -1.0 } else { 1.0 })
    }));
    let mut takeoff_s = takeoff.map(|i| shapes[i].t);
    let mut landing_s = landing.map(|i| shapes[i].t);
    // The hull hangs below the feet just after takeoff and just before landing (cameras look
    // down on the gap), so the frames seen airborne are the core of the flight. The centroid's
    // parabola through them meets the standing height at the true takeoff and landing; the
    // turning measured over the core, at its rate, fills the whole flight.
    if let (Some(_), Some(_)) = (takeoff, landing)
        && let Some((up, down)) = ballistic(shapes, &flight, &airborne)
    {
        let measured = shapes[span.end - 1].t - shapes[span.start].t;
        if measured > 0.0 {
            let scale = (down - up) / measured;
            rotations *= scale;
            flips *= scale;
        }
        takeoff_s = Some(up);
        landing_s = Some(down);
    }
    Kinematics {
        takeoff_s,
        landing_s,
        apex_s: apex.map(|i| shapes[i].t),
        air_time_s: takeoff_s.zip(landing_s).map(|(a, b)| b - a),
        max_height_m,
        distance_m: takeoff.zip(landing).map(|(a, b)| {
            (shapes[b].centroid - shapes[a].centroid)
                .truncate()
                .length()
        }),
        takeoff_speed_ms: takeoff.map(speed),
        max_speed_ms: (0..shapes.len()).map(speed).fold(0.0, f64::max),
        rotations,
        flips,
        trajectory,
    }
}

/// Takeoff and landing times where the parabola fitted to the centroid's height over the
/// `flight` frames meets the standing height (the median of the frames not airborne); `None`
/// if there are too few frames or the fit is no fall.
fn ballistic(
    shapes: &[Shape],
    flight: &std::ops::Range<usize>,
    airborne: &[bool],
) -> Option<(f64, f64)> {
    if flight.len() < 4 {
        return None;
    }
    let mut standing: Vec<f64> = (0..shapes.len())
        .filter(|i| !airborne[*i])
        .map(|i| shapes[i].centroid.z)
        .collect();
    if standing.is_empty() {
        return None;
    }
    let mid = standing.len() / 2;
    let ground = *standing.select_nth_unstable_by(mid, f64::total_cmp).1;
    // Least squares z = a + b u + c u² with u = t - t0 (conditioning).
    let t0 = shapes[flight.start].t;
    let mut m = glam::DMat3::ZERO;
    let mut v = DVec3::ZERO;
    for s in &shapes[flight.clone()] {
        let u = s.t - t0;
        let row = DVec3::new(1.0, u, u * u);
        m += glam::DMat3::from_cols(row * row.x, row * row.y, row * row.z);
        v += row * s.centroid.z;
    }
    if m.determinant().abs() < 1e-12 {
        return None;
    }
    let [a, b, c] = (m.inverse() * v).to_array();
    if c >= 0.0 {
        return None;
    }
    // c u² + b u + (a - ground) = 0.
    let disc = b * b - 4.0 * c * (a - ground);
    if disc <= 0.0 {
        return None;
    }
    let root = disc.sqrt();
    let (u0, u1) = ((-b + root) / (2.0 * c), (-b - root) / (2.0 * c));
    let (first, last) = (t0, shapes[flight.end - 1].t);
    let (up, down) = (t0 + u0.min(u1), t0 + u0.max(u1));
    // A body in flight falls at g: a fit far from it saw no flight. The flight seen must lie
    // inside the one fitted, and that inside the clip.
    let fall = -2.0 * c;
    let clip = (shapes[0].t, shapes[shapes.len() - 1].t);
    ((0.6 * G..=1.6 * G).contains(&fall)
        && up <= first
        && down >= last
        && up >= clip.0 - (last - first)
        && down <= clip.1 + (last - first))
        .then_some((up, down))
}

/// Standard gravity, m/s².
const G: f64 = 9.81;

/// Total turning, in revolutions, of an axis given by its angles (mod π).
fn turns(angles: impl Iterator<Item = f64>) -> f64 {
    use std::f64::consts::PI;
    let mut total = 0.0;
    let mut previous: Option<f64> = None;
    for angle in angles {
        if let Some(p) = previous {
            let mut d = (angle - p).rem_euclid(PI);
            if d > PI / 2.0 {
                d -= PI;
            }
            total += d;
        }
        previous = Some(angle);
    }
    (total / (2.0 * PI)).abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hull::Bounds;

    /// A 1.8 m by 0.5 m by 0.3 m box "body", lying along `long` and turned by `yaw`, at `centre`.
    fn body(centre: DVec3, yaw: f64, pitch: f64) -> Hull {
        let n = 64usize;
        let bounds = Bounds {
            min: DVec3::new(-3.0, -3.0, 0.0),
            max: DVec3::new(3.0, 3.0, 6.0),
        };
        let voxel = (bounds.max - bounds.min) / n as f64;
        let rot = DMat3::from_rotation_z(yaw) * DMat3::from_rotation_y(pitch);
        let inv = rot.transpose();
        let mut occupied = vec![false; n * n * n];
        for (i, cell) in occupied.iter_mut().enumerate() {
            let p = bounds.min
                + voxel
                    * (DVec3::new((i % n) as f64, ((i / n) % n) as f64, (i / (n * n)) as f64)
                        + 0.5);
            let local = inv * (p - centre);
            *cell = local.x.abs() <= 0.25 && local.y.abs() <= 0.15 && local.z.abs() <= 0.9;
        }
        Hull {
            bounds,
            resolution: n as u32,
            occupied,
        }
    }

    #[test]
    fn a_jump_with_two_turns_is_measured() {
        // 50 fps: on the ground for 5 frames, airborne for 0.7 s (a 0.6 m parabola at g),
        // then down.
        let fps = 50.0;
        let shapes: Vec<Shape> = (0..50)
            .map(|i| {
                let t = i as f64 / fps;
                let flight = ((t - 0.1) / 0.7).clamp(0.0, 1.0);
                let z = 0.9 + 4.0 * 0.6 * flight * (1.0 - flight);
                let yaw = 2.0 * std::f64::consts::TAU * flight;
                Shape::of(t, &body(DVec3::new(-1.0 + 2.0 * t, 0.0, z), yaw, 0.0)).unwrap()
            })
            .collect();
        let k = measure(&shapes, KinematicsConfig::default());
        let air = k.air_time_s.unwrap();
        assert!((air - 0.7).abs() <= 0.05, "air time {air}");
        assert!(
            (k.rotations - 2.0).abs() < 0.15,
            "rotations {}",
            k.rotations
        );
        assert!(k.flips < 0.1, "flips {}", k.flips);
        assert!(
            (k.max_height_m - 0.6).abs() < 0.12,
            "height {}",
            k.max_height_m
        );
        let distance = k.distance_m.unwrap();
        assert!((distance - 1.4).abs() < 0.15, "distance {distance}");
        // Horizontal 2 m/s and, at takeoff, vertical 3.4 m/s (voxels blur it a little).
        assert!(
            k.max_speed_ms > 3.5 && k.max_speed_ms < 5.0,
            "speed {}",
            k.max_speed_ms
        );
    }

    #[test]
    fn a_back_flip_counts_as_a_flip() {
        let shapes: Vec<Shape> = (0..41)
            .map(|i| {
                let t = i as f64 / 40.0;
                let pitch = std::f64::consts::TAU * t;
                Shape::of(t, &body(DVec3::new(0.0, 0.0, 3.0), 0.0, pitch)).unwrap()
            })
            .collect();
        let k = measure(&shapes, KinematicsConfig::default());
        assert!((k.flips - 1.0).abs() < 0.1, "flips {}", k.flips);
        assert!(k.rotations < 0.1, "rotations {}", k.rotations);
    }
}
