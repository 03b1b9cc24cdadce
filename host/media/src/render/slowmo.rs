//! Slow motion from one camera: frames between two real frames. The athlete's layer of each
//! frame (its matte) is moved along the athlete's track in the image and the two are blended
//! by time; the rest of the picture cross-fades between the frames, with the clean plate
//! where either frame's athlete hid it. At `tau = 0` the first frame comes back unchanged.

use glam::DVec2;
use rayon::prelude::*;

use crate::image::{RgbImage, Window};

/// One real frame: the picture, the athlete's alpha (0..1 over a window) and where the
/// athlete is in the image (its centroid projected).
pub struct Layer<'a> {
    /// The frame.
    pub frame: &'a RgbImage,
    /// The athlete's alpha.
    pub alpha: &'a Window<f32>,
    /// The athlete's position, in pixels.
    pub at: DVec2,
    /// The box (x0, y0, x1, y1) of the non-zero alpha; `None` if it is empty.
    extent: Option<[usize; 4]>,
}

impl<'a> Layer<'a> {
    /// A layer; finds where its alpha is non-zero once, for every frame it enters.
    pub fn new(frame: &'a RgbImage, alpha: &'a Window<f32>, at: DVec2) -> Self {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for ((x, y), _) in alpha.pixels().filter(|(_, a)| *a > 0.0) {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        Layer {
            frame,
            alpha,
            at,
            extent: (x0 != usize::MAX).then_some([x0, y0, x1, y1]),
        }
    }
}

/// The frame `tau` (0 to 1) of the way from `a` to `b`, over the clean `plate`.
pub fn between(plate: &RgbImage, a: &Layer<'_>, b: &Layer<'_>, tau: f32) -> RgbImage {
    let (w, h) = (plate.width as usize, plate.height as usize);
    for layer in [a, b] {
        assert_eq!(
            (layer.frame.width, layer.frame.height),
            (plate.width, plate.height),
            "frame and plate sizes differ"
        );
    }
    let tau = tau.clamp(0.0, 1.0);
    let here = a.at + (b.at - a.at) * f64::from(tau);
    // Each layer moves from where it was to where the athlete is at `tau`.
    let (da, db) = (here - a.at, here - b.at);
    // Where each moved layer can cover anything.
    let (reach_a, reach_b) = (reach(a, da), reach(b, db));
    let mut data = vec![0u8; w * h * 3];
    data.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = y * w + x;
            // The scene behind: the frames where their athlete does not hide it.
            let (ka, kb) = (
                (1.0 - tau) * (1.0 - a.alpha.get(x, y)),
                tau * (1.0 - b.alpha.get(x, y)),
            );
            const PLATE: f32 = 1e-3;
            let inverse = 1.0 / (ka + kb + PLATE);
            // The athlete: both layers moved into place, blended by time.
            let inside = |r: &Option<[f64; 4]>| {
                r.is_some_and(|[x0, y0, x1, y1]| {
                    let (x, y) = (x as f64, y as f64);
                    x0 <= x && x <= x1 && y0 <= y && y <= y1
                })
            };
            let (ca, aa) = if inside(&reach_a) {
                sample(a, x as f64 - da.x, y as f64 - da.y)
            } else {
                ([0.0; 3], 0.0)
            };
            let (cb, ab) = if inside(&reach_b) {
                sample(b, x as f64 - db.x, y as f64 - db.y)
            } else {
                ([0.0; 3], 0.0)
            };
            let (wa, wb) = ((1.0 - tau) * aa, tau * ab);
            let cover = wa + wb;
            for c in 0..3 {
                let behind = (ka * f32::from(a.frame.data[i * 3 + c])
                    + kb * f32::from(b.frame.data[i * 3 + c])
                    + PLATE * f32::from(plate.data[i * 3 + c]))
                    * inverse;
                let athlete = if cover > 0.0 {
                    (wa * ca[c] + wb * cb[c]) / cover
                } else {
                    0.0
                };
                // Rounded (the cast saturates at 255).
                row[x * 3 + c] = (behind * (1.0 - cover) + athlete * cover + 0.5) as u8;
            }
        }
    });
    RgbImage::new(plate.width, plate.height, data).expect("rows of the plate's size")
}

/// The box of a layer's non-zero alpha moved by `shift`, a pixel wider on every side for
/// the bilinear taps; `None` if the alpha is empty.
fn reach(layer: &Layer<'_>, shift: DVec2) -> Option<[f64; 4]> {
    layer.extent.map(|[x0, y0, x1, y1]| {
        [
            x0 as f64 + shift.x - 1.0,
            y0 as f64 + shift.y - 1.0,
            x1 as f64 + shift.x + 1.0,
            y1 as f64 + shift.y + 1.0,
        ]
    })
}

/// A layer's colour and alpha at a (fractional) position, bilinearly; nothing outside.
fn sample(layer: &Layer<'_>, x: f64, y: f64) -> ([f32; 3], f32) {
    let (w, h) = (layer.frame.width as i64, layer.frame.height as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let mut colour = [0f32; 3];
    let mut alpha = 0f32;
    for (xx, yy, k) in [
        (x0, y0, (1.0 - fx) * (1.0 - fy)),
        (x0 + 1, y0, fx * (1.0 - fy)),
        (x0, y0 + 1, (1.0 - fx) * fy),
        (x0 + 1, y0 + 1, fx * fy),
    ] {
        if xx < 0 || yy < 0 || xx >= w || yy >= h || k == 0.0 {
            continue;
        }
        let i = (yy * w + xx) as usize;
        let a = layer.alpha.get(xx as usize, yy as usize) * k;
        if a > 0.0 {
            alpha += a;
            for (sum, v) in colour.iter_mut().zip(&layer.frame.data[i * 3..i * 3 + 3]) {
                *sum += f32::from(*v) * a;
            }
        }
    }
    if alpha > 0.0 {
        colour = colour.map(|v| v / alpha);
    }
    (colour, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured plate with a red 10x10 athlete at `(x, 20)`, and its alpha.
    fn shot(x: usize) -> (RgbImage, Window<f32>) {
        let (w, h) = (80usize, 50usize);
        let mut data = Vec::with_capacity(w * h * 3);
        let mut alpha = vec![0f32; w * h];
        for yy in 0..h {
            for xx in 0..w {
                if (x..x + 10).contains(&xx) && (20..30).contains(&yy) {
                    data.extend_from_slice(&[200, 20, 30]);
                    alpha[yy * w + xx] = 1.0;
                } else {
                    let v = 150 + ((xx * 7 + yy * 13) % 40) as u8;
                    data.extend_from_slice(&[v, v, v + 10]);
                }
            }
        }
        let alpha = Window {
            bounds: [0, 0, w, h],
            values: alpha,
        };
        (RgbImage::new(w as u32, h as u32, data).unwrap(), alpha)
    }

    #[test]
    fn the_athlete_is_halfway_at_half_time_and_the_real_frames_come_back() {
        let (plate, _) = shot(1000);
        let (fa, aa) = shot(10);
        let (fb, ab) = shot(30);
        let a = Layer::new(&fa, &aa, DVec2::new(15.0, 25.0));
        let b = Layer::new(&fb, &ab, DVec2::new(35.0, 25.0));
        let start = between(&plate, &a, &b, 0.0);
        let differs = start
            .data
            .iter()
            .zip(&fa.data)
            .filter(|(x, y)| x.abs_diff(**y) > 1)
            .count();
        assert_eq!(differs, 0, "tau 0 is the first frame");
        let end = between(&plate, &a, &b, 1.0);
        assert!(
            end.data
                .iter()
                .zip(&fb.data)
                .all(|(x, y)| x.abs_diff(*y) <= 1)
        );
        let middle = between(&plate, &a, &b, 0.5);
        // The athlete spans x 20..30 now; where it stood in either frame is the plate again.
        assert_eq!(middle.pixel(25, 25), [200, 20, 30]);
        assert_eq!(middle.pixel(20, 22), [200, 20, 30]);
        assert_eq!(middle.pixel(29, 28), [200, 20, 30]);
        assert_eq!(middle.pixel(12, 25), plate.pixel(12, 25));
        assert_eq!(middle.pixel(36, 25), plate.pixel(36, 25));
    }
}
