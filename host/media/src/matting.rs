//! Athlete matting against a learned background: per-pixel colour statistics from lead-in
//! frames (or one clean plate), with per-frame registration against camera shake, gain
//! compensation against exposure flicker, and a brightness/chromaticity test that tells
//! cast shadows (darker, same colour) from the athlete. Output: a soft alpha and a mask.

use crate::image::{Mask, RgbImage, luma};
use crate::silhouette;

/// Why a background could not be learned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MattingError {
    /// No lead-in frame was given.
    #[error(
        "no lead-in frames to learn the background from; a clip needs at least one frame before the athlete enters"
    )]
    NoLeadIn,
    /// Frames of different sizes.
    #[error("lead-in frame {index} is {got:?}, but the first is {want:?}")]
    SizeMismatch {
        /// The offending frame.
        index: usize,
        /// Its size.
        got: (u32, u32),
        /// The first frame's size.
        want: (u32, u32),
    },
}

/// Thresholds of the matting test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MattingConfig {
    /// Largest camera shake searched, in pixels.
    pub max_shift: i32,
    /// Colour change, in noise standard deviations, at which a pixel is surely the athlete.
    pub threshold: f32,
    /// Brightness ratio below which a darker pixel is the athlete, not a shadow.
    pub shadow_floor: f32,
    /// Chromaticity change (in noise deviations) a shadow may show.
    pub shadow_chroma: f32,
    /// Speckles smaller than this radius (pixels) are removed (spray, noise).
    pub open_radius: f64,
    /// Holes smaller than this radius are filled.
    pub close_radius: f64,
}

impl Default for MattingConfig {
    fn default() -> Self {
        MattingConfig {
            max_shift: 4,
            threshold: 6.0,
            shadow_floor: 0.35,
            shadow_chroma: 5.0,
            open_radius: 1.5,
            close_radius: 2.0,
        }
    }
}

/// A matte of one frame.
#[derive(Debug, Clone)]
pub struct Matte {
    /// Soft alpha, 0 (background) to 1 (athlete), row-major.
    pub alpha: Vec<f32>,
    /// `alpha >= 0.5`, cleaned of speckles and small holes.
    pub mask: Mask,
    /// The exposure gain found (frame brightness over background).
    pub gain: f32,
    /// The camera shake found, in pixels (frame content moved by this much).
    pub shift: (i32, i32),
}

/// Per-pixel colour statistics of a camera's empty scene.
#[derive(Debug, Clone)]
pub struct Background {
    width: u32,
    height: u32,
    mean: Vec<[f32; 3]>,
    sigma: Vec<f32>,
    luma: Vec<f32>,
}

/// The smallest noise deviation assumed, in 8-bit units (one lead-in frame measures none).
const SIGMA_FLOOR: f32 = 2.5;

impl Background {
    /// Learns the background from lead-in frames (one frame is a clean plate).
    pub fn learn(frames: &[&RgbImage]) -> Result<Background, MattingError> {
        let first = frames.first().ok_or(MattingError::NoLeadIn)?;
        let (w, h) = (first.width, first.height);
        for (index, f) in frames.iter().enumerate() {
            if (f.width, f.height) != (w, h) {
                return Err(MattingError::SizeMismatch {
                    index,
                    got: (f.width, f.height),
                    want: (w, h),
                });
            }
        }
        let n = frames.len() as f32;
        let pixels = w as usize * h as usize;
        let mut mean = vec![[0f32; 3]; pixels];
        let mut sq = vec![0f32; pixels];
        for f in frames {
            for (i, p) in f.data.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    let v = f32::from(p[c]);
                    mean[i][c] += v / n;
                    sq[i] += v * v / n;
                }
            }
        }
        let sigma = mean
            .iter()
            .zip(&sq)
            .map(|(m, s)| {
                let var = (s - (m[0] * m[0] + m[1] * m[1] + m[2] * m[2])) / 3.0;
                var.max(0.0).sqrt().max(SIGMA_FLOOR)
            })
            .collect();
        let luma = mean.iter().map(|m| luma(*m)).collect();
        Ok(Background {
            width: w,
            height: h,
            mean,
            sigma,
            luma,
        })
    }

    /// The learned background as an image (the clean plate).
    pub fn plate(&self) -> RgbImage {
        let data = self
            .mean
            .iter()
            .flat_map(|m| m.map(|v| v.round().clamp(0.0, 255.0) as u8))
            .collect();
        RgbImage::new(self.width, self.height, data).expect("plate of the background's size")
    }

    /// Mattes one frame.
    pub fn matte(&self, frame: &RgbImage, config: &MattingConfig) -> Matte {
        assert_eq!(
            (frame.width, frame.height),
            (self.width, self.height),
            "frame and background sizes differ"
        );
        // Flicker first (the median ratio barely feels a few pixels of shake), then the shake
        // on gain-corrected brightness, then the gain again on aligned pixels.
        let rough_gain = self.gain(frame, (0, 0));
        let shift = self.register(frame, config.max_shift, rough_gain);
        let gain = self.gain(frame, shift);
        let (w, h) = (self.width as i64, self.height as i64);
        let mut alpha = vec![0f32; self.mean.len()];
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) as usize;
                // The background that this pixel of the shaken frame shows.
                let (bx, by) = (
                    (x - i64::from(shift.0)).clamp(0, w - 1),
                    (y - i64::from(shift.1)).clamp(0, h - 1),
                );
                let b = (by * w + bx) as usize;
                let p = &frame.data[i * 3..i * 3 + 3];
                let pixel = [
                    f32::from(p[0]) / gain,
                    f32::from(p[1]) / gain,
                    f32::from(p[2]) / gain,
                ];
                alpha[i] = self.score(pixel, b, config);
            }
        }
        let raw = Mask {
            width: self.width,
            height: self.height,
            data: alpha.iter().map(|a| *a >= 0.5).collect(),
        };
        let mask = clean(&raw, config.open_radius, config.close_radius);
        for (a, m) in alpha.iter_mut().zip(&mask.data) {
            // The cleaned mask decides; the score keeps soft edges inside it.
            *a = if *m { a.max(0.5) } else { a.min(0.49) };
        }
        Matte {
            alpha,
            mask,
            gain,
            shift,
        }
    }

    /// How surely a (gain-corrected) pixel is the athlete, 0 to 1.
    fn score(&self, pixel: [f32; 3], b: usize, config: &MattingConfig) -> f32 {
        let bg = self.mean[b];
        let sigma = self.sigma[b];
        let bb = bg[0] * bg[0] + bg[1] * bg[1] + bg[2] * bg[2];
        // Brightness distortion: the scale of the background colour nearest the pixel.
        let a = if bb > 1.0 {
            (pixel[0] * bg[0] + pixel[1] * bg[1] + pixel[2] * bg[2]) / bb
        } else {
            1.0
        };
        let chroma = ((pixel[0] - a * bg[0]).powi(2)
            + (pixel[1] - a * bg[1]).powi(2)
            + (pixel[2] - a * bg[2]).powi(2))
        .sqrt()
            / sigma;
        let brightness = (a - 1.0) * self.luma[b] / sigma;
        // A shadow: darker, not too dark, same colour.
        if a < 1.0 && a >= config.shadow_floor && chroma < config.shadow_chroma {
            return 0.0;
        }
        let distance = if a < config.shadow_floor {
            f32::INFINITY
        } else {
            chroma.max(brightness.abs())
        };
        // Soft edge: 0 at half the threshold, 1 at the threshold.
        ((distance / config.threshold - 0.5) * 2.0).clamp(0.0, 1.0)
    }

    /// Finds the camera shake: the integer shift that best aligns the frame with the
    /// background, on a sparse grid of textured pixels.
    fn register(&self, frame: &RgbImage, max: i32, gain: f32) -> (i32, i32) {
        if max == 0 {
            return (0, 0);
        }
        let (w, h) = (self.width as i32, self.height as i32);
        let step = 6;
        let mut best = ((0, 0), f32::INFINITY);
        for dy in -max..=max {
            for dx in -max..=max {
                let mut cost = 0.0;
                let mut y = max;
                while y < h - max {
                    let mut x = max;
                    while x < w - max {
                        let f = frame_luma(frame, (y * w + x) as usize) / gain;
                        let b = self.luma[((y - dy) * w + (x - dx)) as usize];
                        // Truncated so the athlete's pixels do not dominate.
                        cost += (f - b).abs().min(25.0);
                        x += step;
                    }
                    y += step;
                }
                if cost < best.1 {
                    best = ((dx, dy), cost);
                }
            }
        }
        best.0
    }

    /// The exposure gain: the median ratio of frame to background brightness.
    fn gain(&self, frame: &RgbImage, shift: (i32, i32)) -> f32 {
        let (w, h) = (self.width as i64, self.height as i64);
        let mut ratios = Vec::with_capacity((w * h / 16) as usize);
        let mut y = 0;
        while y < h {
            let mut x = 0;
            while x < w {
                let (bx, by) = (
                    (x - i64::from(shift.0)).clamp(0, w - 1),
                    (y - i64::from(shift.1)).clamp(0, h - 1),
                );
                let b = self.luma[(by * w + bx) as usize];
                if b > 20.0 {
                    ratios.push(frame_luma(frame, (y * w + x) as usize) / b);
                }
                x += 4;
            }
            y += 4;
        }
        if ratios.is_empty() {
            return 1.0;
        }
        let mid = ratios.len() / 2;
        *ratios.select_nth_unstable_by(mid, f32::total_cmp).1
    }
}

/// Opening then closing, computed only in the box around the set pixels (the athlete is a
/// small part of a venue camera's image).
fn clean(raw: &Mask, open: f64, close: f64) -> Mask {
    let (w, h) = (raw.width as usize, raw.height as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, _) in raw.data.iter().enumerate().filter(|(_, v)| **v) {
        let (x, y) = (i % w, i / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if x0 == usize::MAX {
        return raw.clone();
    }
    let margin = (open + close).ceil() as usize + 2;
    let (x0, y0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (x1, y1) = ((x1 + margin + 1).min(w), (y1 + margin + 1).min(h));
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut crop = Mask::empty(cw as u32, ch as u32);
    for y in 0..ch {
        crop.data[y * cw..(y + 1) * cw]
            .copy_from_slice(&raw.data[(y0 + y) * w + x0..(y0 + y) * w + x1]);
    }
    let opened = silhouette::dilate(&silhouette::erode(&crop, open), open);
    let closed = silhouette::erode(&silhouette::dilate(&opened, close), close);
    let mut out = Mask::empty(raw.width, raw.height);
    for y in 0..ch {
        out.data[(y0 + y) * w + x0..(y0 + y) * w + x1]
            .copy_from_slice(&closed.data[y * cw..(y + 1) * cw]);
    }
    out
}

fn frame_luma(frame: &RgbImage, i: usize) -> f32 {
    let p = &frame.data[i * 3..i * 3 + 3];
    luma([f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::iou;

    /// Textured snow, deterministic.
    fn snow(w: u32, h: u32, seed: u32) -> RgbImage {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let n = (x.wrapping_mul(73_856_093)
                    ^ y.wrapping_mul(19_349_663)
                    ^ seed.wrapping_mul(83_492_791))
                    % 9;
                let base = 228 + n as u8;
                data.extend_from_slice(&[base - 6, base - 3, base]);
            }
        }
        RgbImage::new(w, h, data).unwrap()
    }

    fn paint(
        image: &mut RgbImage,
        x0: u32,
        y0: u32,
        x1: u32,
        y1: u32,
        f: impl Fn([u8; 3]) -> [u8; 3],
    ) {
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * image.width + x) * 3) as usize;
                let p = f([image.data[i], image.data[i + 1], image.data[i + 2]]);
                image.data[i..i + 3].copy_from_slice(&p);
            }
        }
    }

    fn truth(w: u32, h: u32) -> Mask {
        let mut m = Mask::empty(w, h);
        for y in 20..60 {
            for x in 40..60 {
                m.set(x, y, true);
            }
        }
        m
    }

    #[test]
    fn a_red_athlete_on_snow_with_a_shadow_flicker_and_shake() {
        let (w, h) = (120, 80);
        let plate = snow(w, h, 0);
        let background = Background::learn(&[&plate]).unwrap();
        // The scene shifted by (2, -1) px, 12 % brighter, with a shadow beside the athlete.
        let mut scene = snow(w, h, 0);
        paint(&mut scene, 60, 50, 95, 62, |p| {
            p.map(|v| (f32::from(v) * 0.55) as u8)
        });
        paint(&mut scene, 40, 20, 60, 60, |_| [180, 30, 40]);
        let mut frame = RgbImage::new(w, h, vec![0; (w * h * 3) as usize]).unwrap();
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (
                    (x as i32 - 2).clamp(0, w as i32 - 1) as u32,
                    (y as i32 + 1).clamp(0, h as i32 - 1) as u32,
                );
                let p = scene
                    .pixel(sx, sy)
                    .map(|v| (f32::from(v) * 1.12).min(255.0) as u8);
                let i = ((y * w + x) * 3) as usize;
                frame.data[i..i + 3].copy_from_slice(&p);
            }
        }
        let matte = background.matte(&frame, &MattingConfig::default());
        assert_eq!(matte.shift, (2, -1));
        assert!((matte.gain - 1.12).abs() < 0.02, "gain {}", matte.gain);
        // The truth, moved with the shake.
        let mut moved = Mask::empty(w, h);
        let t = truth(w, h);
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x as i32 - 2, y as i32 + 1);
                if sx >= 0
                    && sy >= 0
                    && (sx as u32) < w
                    && (sy as u32) < h
                    && t.get(sx as u32, sy as u32)
                {
                    moved.set(x, y, true);
                }
            }
        }
        let score = iou(&matte.mask, &moved);
        assert!(score > 0.95, "IoU {score}");
    }

    #[test]
    fn no_lead_in_is_an_error() {
        assert_eq!(Background::learn(&[]).unwrap_err(), MattingError::NoLeadIn);
        let a = snow(10, 10, 0);
        let b = snow(12, 10, 0);
        assert!(matches!(
            Background::learn(&[&a, &b]),
            Err(MattingError::SizeMismatch { index: 1, .. })
        ));
    }
}
