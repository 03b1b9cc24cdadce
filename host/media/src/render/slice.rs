//! The spacetime slice: one image showing the phases of a movement, each matted athlete
//! composited over one camera's clean background, earlier phases optionally faded.

use crate::image::{RgbImage, Window};
use crate::kinematics::Kinematics;

/// One phase to draw: the athlete's pixels in the camera's frame and its matte (alpha 0..1
/// over a window).
pub struct Phase<'a> {
    /// The frame's pixels over (at least) the alpha's box.
    pub colour: &'a Window<[u8; 3]>,
    /// The athlete's alpha in that frame.
    pub alpha: &'a Window<f32>,
}

/// Composites phases in order over `background`. With `fade` > 0, phase `i` of `k` is drawn
/// at opacity `1 - fade * (k - 1 - i) / (k - 1)`, so the last phase is solid.
pub fn composite(background: &RgbImage, phases: &[Phase<'_>], fade: f32) -> RgbImage {
    let mut out = background.clone();
    let k = phases.len();
    for (index, phase) in phases.iter().enumerate() {
        let ([ax0, ay0, ax1, ay1], [cx0, cy0, cx1, cy1]) =
            (phase.alpha.bounds, phase.colour.bounds);
        assert!(
            ax0 >= ax1 || ay0 >= ay1 || (cx0 <= ax0 && cy0 <= ay0 && cx1 >= ax1 && cy1 >= ay1),
            "the phase's colour covers its alpha"
        );
        assert!(
            ax1 <= background.width as usize && ay1 <= background.height as usize,
            "the phase lies in the background"
        );
        let age = if k > 1 {
            (k - 1 - index) as f32 / (k - 1) as f32
        } else {
            0.0
        };
        let opacity = (1.0 - fade.clamp(0.0, 1.0) * age).clamp(0.0, 1.0);
        let w = background.width as usize;
        for ((x, y), a) in phase.alpha.pixels() {
            let (i, a) = (y * w + x, a * opacity);
            if a <= 0.0 {
                continue;
            }
            let colour = phase.colour.get(x, y);
            for (c, src) in colour.into_iter().enumerate() {
                let dst = &mut out.data[i * 3 + c];
                let src = f32::from(src);
                *dst = (f32::from(*dst) * (1.0 - a) + src * a).round() as u8;
            }
        }
    }
    out
}

/// Picks `k` frames for the slice: the trajectory events (takeoff, apex, landing) when the
/// movement has them, the rest spread along the trajectory's arc length.
pub fn select_phases(kinematics: &Kinematics, k: usize) -> Vec<usize> {
    let trajectory = &kinematics.trajectory;
    if trajectory.is_empty() || k == 0 {
        return Vec::new();
    }
    let index_at = |t: f64| {
        trajectory
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1.0 - t).abs().total_cmp(&(b.1.0 - t).abs()))
            .map(|(i, _)| i)
            .expect("non-empty")
    };
    let mut chosen: Vec<usize> = [
        kinematics.takeoff_s,
        kinematics.apex_s,
        kinematics.landing_s,
    ]
    .into_iter()
    .flatten()
    .map(index_at)
    .collect();
    // Arc length along the centroid path.
    let mut arc = vec![0.0];
    for w in trajectory.windows(2) {
        arc.push(arc.last().unwrap() + (w[1].1 - w[0].1).length());
    }
    if chosen.is_empty() {
        chosen.push(0);
    }
    // The rest by farthest-point sampling along the arc: each new phase is the frame
    // farthest (in arc length) from every phase already chosen.
    while chosen.len() < k.min(trajectory.len()) {
        let gap = |i: usize| {
            chosen
                .iter()
                .map(|c| (arc[i] - arc[*c]).abs())
                .fold(f64::INFINITY, f64::min)
        };
        let Some(next) =
            (0..trajectory.len()).max_by(|a, b| gap(*a).total_cmp(&gap(*b)).then(b.cmp(a)))
        else {
            break;
        };
        if gap(next) <= 0.0 {
            break;
        }
        chosen.push(next);
    }
    chosen.truncate(k);
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::DVec3;

    #[test]
    fn the_last_phase_is_solid_and_earlier_ones_fade() {
        let background = RgbImage::new(2, 1, vec![0; 6]).unwrap();
        let white = RgbImage::new(2, 1, vec![200; 6])
            .unwrap()
            .window([0, 0, 2, 1]);
        let first = Window {
            bounds: [0, 0, 2, 1],
            values: vec![1.0, 0.0],
        };
        let last = Window {
            bounds: [1, 0, 2, 1],
            values: vec![1.0],
        };
        let out = composite(
            &background,
            &[
                Phase {
                    colour: &white,
                    alpha: &first,
                },
                Phase {
                    colour: &white,
                    alpha: &last,
                },
            ],
            0.5,
        );
        assert_eq!(out.data, vec![100, 100, 100, 200, 200, 200]);
    }

    #[test]
    fn phases_include_the_events_and_spread_the_rest() {
        let trajectory: Vec<(f64, DVec3)> = (0..50)
            .map(|i| (i as f64 / 25.0, DVec3::new(i as f64, 0.0, 0.0)))
            .collect();
        let k = Kinematics {
            trajectory,
            takeoff_s: Some(0.4),
            landing_s: Some(1.6),
            apex_s: Some(1.0),
            air_time_s: Some(1.2),
            max_height_m: 1.0,
            distance_m: Some(30.0),
            takeoff_speed_ms: Some(25.0),
            max_speed_ms: 25.0,
            rotations: 0.0,
            flips: 0.0,
        };
        let phases = select_phases(&k, 5);
        assert_eq!(phases.len(), 5);
        for event in [10, 25, 40] {
            assert!(phases.contains(&event), "{phases:?}");
        }
        assert!(phases.contains(&0) && phases.contains(&49), "{phases:?}");
    }
}
