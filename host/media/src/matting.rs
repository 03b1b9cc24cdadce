//! Athlete matting against a learned background: per-pixel colour statistics from lead-in
//! frames (or one clean plate), with per-frame registration against camera shake, gain
//! compensation against exposure flicker, and a brightness/chromaticity test that tells
//! cast shadows (darker, same colour) from the athlete. Output: a soft alpha and a mask.

use glam::{DVec2, DVec3};

use crate::camera::{Camera, Projector};
use crate::hull::{self, Bounds, Carving, Hull, HullRays, View};
use crate::image::{Mask, RgbImage, Window, luma};
use rayon::prelude::*;

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
    /// How far (in noise deviations) a pixel may lie from the shaded background colour and
    /// still be a shadow.
    pub shadow_chroma: f32,
    /// How much shade darkens each channel, relative to the channel it darkens most. Out of
    /// doors a shadow is lit by the blue sky, so red loses most and blue least; a grey or
    /// brown object on snow goes the other way, which is what tells it from a shadow. Under
    /// white light (an indoor rink) it is `[1, 1, 1]`.
    pub shade: [f32; 3],
    /// Specks (spray, noise) of fewer pixels than this, at 1280 pixels of width (fewer in a
    /// narrower image), are dropped. By area, not by shape: a ski one pixel wide stays.
    pub speck_area: f64,
    /// Holes of fewer pixels than this (scaled likewise) are filled. Only enclosed ones: a
    /// gap between limbs open to the outside stays.
    pub hole_area: f64,
}

impl Default for MattingConfig {
    fn default() -> Self {
        MattingConfig {
            max_shift: 4,
            threshold: 6.0,
            shadow_floor: 0.35,
            shadow_chroma: 4.0,
            shade: [1.0, 0.92, 0.75],
            speck_area: 8.0,
            hole_area: 12.0,
        }
    }
}

/// A matte of one frame.
#[derive(Debug, Clone)]
pub struct Matte {
    /// Soft alpha, 0 (background) to 1 (athlete), over the box `within` (zero outside).
    pub alpha: Window<f32>,
    /// `alpha >= 0.5`, cleaned of speckles and small holes.
    pub mask: Mask,
    /// The exposure gain found (frame brightness over background).
    pub gain: f32,
    /// The camera shake found, in pixels (frame content moved by this much).
    pub shift: (f32, f32),
    /// Pixels near the athlete that only brightened toward white: glare, spray, or a white
    /// suit on white snow. Other views decide ([`Matte::confirm`]).
    pub unsure: Mask,
    /// Holes of fewer pixels than this (`MattingConfig::hole_area` at this image's size) are
    /// filled: in the mask matting gives, and again once [`Matte::confirm`] has settled.
    pub hole_area: usize,
    /// The box `[x0, y0, x1, y1)` outside which the mask, the unsure pixels and alpha are
    /// clear (the pixels matting tested).
    pub within: [usize; 4],
}

impl Matte {
    /// The mask with the unsure pixels and the edge pixels the athlete covers at least in
    /// part ([`EDGE`]): what the athlete may cover, for carving. (A voxel stays only where
    /// every view agrees, so carving errs on the side of the athlete.)
    /// Outside the box matting tested, `within`, nothing is set: the window covers it alone.
    pub fn permissive(&self) -> Window<bool> {
        let mut out = Window::zeros(self.within);
        let w = self.mask.width as usize;
        let [x0, y0, x1, y1] = self.within;
        for y in y0..y1 {
            let row = y * w + x0..y * w + x1;
            for (((o, m), u), a) in out
                .row_mut(y)
                .iter_mut()
                .zip(&self.mask.data[row.clone()])
                .zip(&self.unsure.data[row])
                .zip(self.alpha.row(y))
            {
                // Without short-circuits, so the loop vectorises.
                *o = *m | *u | (*a >= EDGE);
            }
        }
        out
    }

    /// Settles the unsure pixels with the other views: those whose ray meets the hull carved
    /// from every view's permissive mask join the mask, if where it meets the hull is the
    /// athlete for sure in [`ANCHORS`] of the other views (`anchors`: their cameras,
    /// prepared, and where they are sure, widened by [`ANCHOR_REACH`]; fewer if fewer are
    /// given). Glare differs from view to view, so the hull has carved it away. A white suit
    /// is where every view puts it, and some see its shaded side; spray thrown at a landing
    /// is where every view puts it too, but is only ever light, so no view is sure of it
    /// unless the athlete is behind it.
    pub fn confirm(
        &mut self,
        camera: &Camera,
        hull: &HullRays<'_>,
        anchors: &[(&Projector, &Window<bool>)],
    ) {
        let rays = camera.rays();
        let origin = camera.center();
        let w = self.mask.width as usize;
        let needed = ANCHORS.min(anchors.len());
        let sure_near = |sure: &Window<bool>, p: DVec2| {
            let (x, y) = (p.x.round(), p.y.round());
            x >= 0.0 && y >= 0.0 && sure.get(x as usize, y as usize)
        };
        let anchored = |point: DVec3| {
            anchors
                .iter()
                .filter(|(camera, mask)| camera.project(point).is_some_and(|p| sure_near(mask, p)))
                .take(needed)
                .count()
                >= needed
        };
        let mut settled = false;
        let [x0, y0, x1, y1] = self.within;
        for i in (y0..y1).flat_map(|y| y * w + x0..y * w + x1) {
            if self.unsure.data[i] {
                let pixel = DVec2::new((i % w) as f64, (i / w) as f64);
                if hull
                    .first_hit(origin, rays.cast(pixel))
                    .is_some_and(anchored)
                {
                    self.mask.data[i] = true;
                    if let Some(a) = self.alpha.get_mut(i % w, i / w) {
                        *a = 1.0;
                    }
                    self.unsure.data[i] = false;
                    settled = true;
                }
            }
        }
        // A few unsure pixels the views left out may now be enclosed: filled, as the mask's
        // own holes were.
        if settled {
            let (within, hole) = (self.within, self.hole_area);
            if let Some([x0, y0, x1, y1]) = in_box(&mut self.mask, within, 1, |crop| {
                silhouette::fill_holes(crop, hole)
            }) {
                // (Holes are filled only where set pixels enclose them: inside `within`.)
                for y in y0..y1 {
                    for x in x0..x1 {
                        if let (true, Some(a)) =
                            (self.mask.data[y * w + x], self.alpha.get_mut(x, y))
                        {
                            *a = a.max(0.5);
                        }
                    }
                }
            }
        }
    }
}

/// Per-pixel colour statistics of a camera's empty scene.
#[derive(Debug, Clone)]
pub struct Background {
    width: u32,
    height: u32,
    /// Per pixel, the mean colour and the noise deviation, side by side so that a tap reads
    /// both in one load ([`Fixed`]).
    colour: Vec<Fixed>,
    /// The same over each pixel's 3x3 neighbourhood, for the pooled test
    /// ([`Background::plain_over_nine`]).
    pooled: Vec<Fixed>,
    luma: Vec<f32>,
    /// Where registration samples the frame ([`textured`]).
    textured: Vec<(u32, u32)>,
}

/// A background table's entry: the mean colour and the noise deviation in fixed point, 64
/// steps to an 8-bit level (at most a 128th of a level off, far below any camera's noise).
/// Half the memory of four `f32`: twelve cameras' tables are memory the kernel must zero
/// first, and every test reads them.
type Fixed = [u16; 4];

/// Steps of a [`Fixed`] entry to an 8-bit level.
const FIXED_STEPS: f32 = 64.0;

/// A table value as a [`Fixed`] lane (saturating: deviations past 1000 levels mean "never
/// the athlete" either way).
fn fixed(v: f32) -> u16 {
    // Rounded half up (the values are never negative); the cast saturates.
    (v * FIXED_STEPS + 0.5) as u16
}

/// How much better than no shift a whole shift must align a frame to be taken: within this
/// factor of its cost, no shift is the likelier answer.
const STILL_MARGIN: f32 = 1.02;

/// The smallest noise deviation assumed, in 8-bit units (one lead-in frame measures none).
const SIGMA_FLOOR: f32 = 2.5;

/// Spacing of the first, sparse pass of [`Background::matte`]; the exact test then runs only
/// in tiles of this size near a sure athlete sample.
const TILE: usize = 4;

/// Tiles around a sure sample that the exact pass covers (the soft edge, thin limbs).
const TILE_REACH: usize = 2;

/// Other views that must be sure of the athlete where an unsure pixel's ray meets the hull
/// ([`Matte::confirm`]).
const ANCHORS: usize = 3;

/// How near (in pixels) to where such a point projects a view's sure pixel must be:
/// registration and the voxel's size are each worth a pixel or so. (A disk this wide holds
/// the 5x5 square.)
const ANCHOR_REACH: f64 = 2.0 * std::f64::consts::SQRT_2;

/// Steps, in tiles, that unsure tiles joined to the athlete are followed.
const UNSURE_REACH: usize = 8;

/// Tiles from the edge of the region searched first ([`Background::matte_near`]) within
/// which the athlete must not come: closer, it may go on past the edge.
const GUARD: usize = 4;

/// The grid of [`TILE`]-pixel tiles over an image.
#[derive(Debug, Clone, Copy)]
struct Tiles {
    width: usize,
    height: usize,
    columns: usize,
    rows: usize,
}

impl Tiles {
    fn of(width: usize, height: usize) -> Tiles {
        Tiles {
            width,
            height,
            columns: width.div_ceil(TILE),
            rows: height.div_ceil(TILE),
        }
    }

    /// The pixel at the centre of tile `k` (row-major), inside the image.
    fn centre(&self, k: usize) -> (usize, usize) {
        let (tx, ty) = (k % self.columns, k / self.columns);
        (
            (tx * TILE + TILE / 2).min(self.width - 1),
            (ty * TILE + TILE / 2).min(self.height - 1),
        )
    }
}

/// A shift by a fraction of a pixel, as whole pixels and the bilinear weights every pixel
/// shares.
#[derive(Debug, Clone, Copy)]
struct Offset {
    whole: (i64, i64),
    part: (f32, f32),
}

impl Offset {
    fn new(shift: (f32, f32)) -> Self {
        let whole = (shift.0.floor(), shift.1.floor());
        Offset {
            whole: (whole.0 as i64, whole.1 as i64),
            part: (shift.0 - whole.0, shift.1 - whole.1),
        }
    }

    /// The four pixels (row-major indices) around `(x, y)` moved by the offset in a `w` x `h`
    /// image, clamped to it, with their weights.
    fn taps(&self, x: usize, y: usize, w: usize, h: usize) -> [(usize, f32); 4] {
        let clamp = |v: i64, n: usize| v.clamp(0, n as i64 - 1) as usize;
        let (x0, y0) = (x as i64 + self.whole.0, y as i64 + self.whole.1);
        let (xa, xb) = (clamp(x0, w), clamp(x0 + 1, w));
        let (ya, yb) = (clamp(y0, h) * w, clamp(y0 + 1, h) * w);
        let k = self.weights();
        [
            (ya + xa, k[0]),
            (ya + xb, k[1]),
            (yb + xa, k[2]),
            (yb + xb, k[3]),
        ]
    }

    /// The bilinear weights of the four taps: above left, above right, below left, below
    /// right.
    fn weights(&self) -> [f32; 4] {
        let (fx, fy) = self.part;
        [
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        ]
    }
}

/// A frame's exposure gain and shake against the background.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Motion {
    gain: f32,
    shift: (f32, f32),
}

impl Motion {
    const STILL: Motion = Motion {
        gain: 1.0,
        shift: (0.0, 0.0),
    };
}

impl Background {
    /// Learns the background from lead-in frames (one frame is a clean plate). Each frame is
    /// first aligned to the others and its exposure evened out, so the per-pixel deviation
    /// measures sensor noise, not shake and flicker.
    pub fn learn(frames: &[&RgbImage], config: &MattingConfig) -> Result<Background, MattingError> {
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
        if frames.len() == 1 {
            return Ok(Background::average(
                frames,
                &[Motion::STILL],
                config.max_shift,
            ));
        }
        let rough = Background::brightness(frames, config.max_shift);
        let motions: Vec<Motion> = frames
            .iter()
            .map(|f| rough.motion(f, config.max_shift))
            .collect();
        Ok(Background::average(frames, &motions, config.max_shift))
    }

    /// The mean brightness of frames as they are: all that [`Background::motion`] reads, for
    /// registering the lead-in frames before their colours are averaged.
    fn brightness(frames: &[&RgbImage], max_shift: i32) -> Background {
        let (w, h) = (frames[0].width, frames[0].height);
        let n = frames.len() as f32;
        let mut brightness = vec![0f32; w as usize * h as usize];
        // Row by row, frame after frame (so each pixel's sum goes in frame order).
        brightness
            .par_chunks_mut(w as usize)
            .enumerate()
            .for_each(|(y, row)| {
                for f in frames {
                    let pixels = &f.data[y * row.len() * 3..(y + 1) * row.len() * 3];
                    for (v, p) in row.iter_mut().zip(pixels.chunks_exact(3)) {
                        *v += luma([f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]);
                    }
                }
                for v in row {
                    *v /= n;
                }
            });
        Background {
            width: w,
            height: h,
            colour: Vec::new(),
            pooled: Vec::new(),
            textured: textured(&brightness, w as usize, h as usize, max_shift),
            luma: brightness,
        }
    }

    /// The mean and deviation of frames, each sampled where its motion puts the background.
    fn average(frames: &[&RgbImage], motions: &[Motion], max_shift: i32) -> Background {
        let (w, h) = (frames[0].width as usize, frames[0].height as usize);
        let n = frames.len() as f32;
        let mut mean = vec![[0f32; 3]; w * h];
        let mut variance = vec![0f32; w * h];
        mean.par_chunks_mut(w)
            .zip(variance.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, (mean, variance))| {
                // Channel by channel along the row: `sample` holds one frame's resampled row.
                let mut sum = vec![0f32; 3 * w];
                let mut square = vec![0f32; w];
                let mut sample = vec![0f32; 3 * w];
                for (frame, motion) in frames.iter().zip(motions) {
                    let offset = Offset::new(motion.shift);
                    // The four bilinear weights, with the exposure evened out.
                    let inverse = 1.0 / motion.gain;
                    let (fx, fy) = offset.part;
                    let k = [
                        (1.0 - fx) * (1.0 - fy) * inverse,
                        fx * (1.0 - fy) * inverse,
                        (1.0 - fx) * fy * inverse,
                        fx * fy * inverse,
                    ];
                    let row = |yy: i64| {
                        let yy = yy.clamp(0, h as i64 - 1) as usize;
                        &frame.data[yy * w * 3..(yy + 1) * w * 3]
                    };
                    let y0 = y as i64 + offset.whole.1;
                    let (above, below) = (row(y0), row(y0 + 1));
                    let mix = |a: u8, b: u8, c: u8, d: u8| {
                        f32::from(a) * k[0]
                            + f32::from(b) * k[1]
                            + f32::from(c) * k[2]
                            + f32::from(d) * k[3]
                    };
                    // Columns whose taps x0 and x0 + 1 both lie in the row read straight
                    // along it; the few beside its ends are clamped.
                    let dx = offset.whole.0;
                    let lo = (-dx).clamp(0, w as i64) as usize;
                    let hi = (w as i64 - 1 - dx).clamp(lo as i64, w as i64) as usize;
                    if hi > lo {
                        let start = (lo as i64 + dx) as usize * 3;
                        let len = (hi - lo) * 3;
                        let (left, right) = (start..start + len, start + 3..start + 3 + len);
                        for ((((v, a), b), c), d) in sample[lo * 3..hi * 3]
                            .iter_mut()
                            .zip(&above[left.clone()])
                            .zip(&above[right.clone()])
                            .zip(&below[left])
                            .zip(&below[right])
                        {
                            *v = mix(*a, *b, *c, *d);
                        }
                    }
                    for x in (0..lo).chain(hi..w) {
                        let x0 = x as i64 + dx;
                        let xa = x0.clamp(0, w as i64 - 1) as usize * 3;
                        let xb = (x0 + 1).clamp(0, w as i64 - 1) as usize * 3;
                        for c in 0..3 {
                            sample[x * 3 + c] =
                                mix(above[xa + c], above[xb + c], below[xa + c], below[xb + c]);
                        }
                    }
                    for (s, v) in sum.iter_mut().zip(&sample) {
                        *s += v;
                    }
                    for (square, v) in square.iter_mut().zip(sample.chunks_exact(3)) {
                        for v in v {
                            *square += v * v;
                        }
                    }
                }
                for ((m, v), (s, square)) in mean
                    .iter_mut()
                    .zip(variance.iter_mut())
                    .zip(sum.chunks_exact(3).zip(&square))
                {
                    *m = [s[0] / n, s[1] / n, s[2] / n];
                    *v = ((square / n - (m[0] * m[0] + m[1] * m[1] + m[2] * m[2])) / 3.0).max(0.0);
                }
            });
        // The tables, row by row: each row reads the rows of `mean` and `variance` around it.
        let mut colour = vec![[0u16; 4]; w * h];
        let mut pooled = vec![[0u16; 4]; w * h];
        let mut brightness = vec![0f32; w * h];
        colour
            .par_chunks_mut(w)
            .zip(pooled.par_chunks_mut(w))
            .zip(brightness.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, ((colour, pooled), luma_row))| {
                // A few frames estimate a pixel's noise poorly; its 3x3 neighbourhood pools
                // nine times the samples.
                let mut pooled_variance = vec![0f32; w];
                box3_row(
                    |yy, out| out.copy_from_slice(&variance[yy * w..(yy + 1) * w]),
                    (w, h),
                    y,
                    &mut pooled_variance,
                );
                let mut channels = [0, 1, 2].map(|_| vec![0f32; w]);
                for (c, out) in channels.iter_mut().enumerate() {
                    box3_row(
                        |yy, row| {
                            for (v, m) in row.iter_mut().zip(&mean[yy * w..(yy + 1) * w]) {
                                *v = m[c];
                            }
                        },
                        (w, h),
                        y,
                        out,
                    );
                }
                // Where the background changes fast (an edge, a gate, texture), registration's
                // error of a fraction of a pixel changes its colour by as much as noise does.
                // Over nine pixels noise averages down by three; registration's error does not.
                let mut slopes = vec![0f32; w];
                slope_row(&mean, (w, h), y, &mut slopes);
                let deviation = |v: f32, g: f32, pixels: f32, floor: f32| {
                    (v / pixels + (ALIGN_ERROR * g).powi(2)).sqrt().max(floor)
                };
                let m = &mean[y * w..(y + 1) * w];
                for x in 0..w {
                    let (v, g) = (pooled_variance[x], slopes[x]);
                    colour[x] =
                        [m[x][0], m[x][1], m[x][2], deviation(v, g, 1.0, SIGMA_FLOOR)].map(fixed);
                    pooled[x] = [
                        channels[0][x],
                        channels[1][x],
                        channels[2][x],
                        deviation(v, g, 9.0, SIGMA_FLOOR / 3.0),
                    ]
                    .map(fixed);
                    luma_row[x] = luma(m[x]);
                }
            });
        Background {
            width: w as u32,
            height: h as u32,
            colour,
            pooled,
            textured: textured(&brightness, w, h, max_shift),
            luma: brightness,
        }
    }

    /// The learned background as an image (the clean plate).
    pub fn plate(&self) -> RgbImage {
        let data = self
            .colour
            .iter()
            .flat_map(|m| {
                [m[0], m[1], m[2]].map(|v| (f32::from(v) / FIXED_STEPS).round().min(255.0) as u8)
            })
            .collect();
        RgbImage::new(self.width, self.height, data).expect("plate of the background's size")
    }

    /// Mattes one frame: a sparse pass finds where the athlete surely is, and the exact test
    /// runs only in the tiles around it (the athlete is a small part of a venue camera's
    /// image).
    pub fn matte(&self, frame: &RgbImage, config: &MattingConfig) -> Matte {
        self.matte_near(frame, config, None)
    }

    /// Mattes one frame as [`Background::matte`] does, with the sparse pass first only over
    /// `search` (a pixel box `[x0, y0, x1, y1)`: where the camera's last frames put the
    /// athlete, [`Lead::search`]). If the athlete is not found there, or comes within
    /// [`GUARD`] tiles of its edge (it may go on past it), the whole frame is searched.
    /// What lies apart from the athlete by more than that is not looked at: spray, glare.
    pub fn matte_near(
        &self,
        frame: &RgbImage,
        config: &MattingConfig,
        search: Option<[usize; 4]>,
    ) -> Matte {
        assert_eq!(
            (frame.width, frame.height),
            (self.width, self.height),
            "frame and background sizes differ"
        );
        let motion = self.motion(frame, config.max_shift);
        // Gain-correction and where the background lies in the frame, shared by every pixel.
        let sampling = (
            1.0 / motion.gain,
            Offset::new((-motion.shift.0, -motion.shift.1)),
        );
        let (w, h) = (self.width as usize, self.height as usize);
        let grid = Tiles::of(w, h);
        let (tw, th) = (grid.columns, grid.rows);
        let whole = [0, 0, tw, th];
        let sure = search
            .map(|[x0, y0, x1, y1]| {
                [
                    x0 / TILE,
                    y0 / TILE,
                    x1.div_ceil(TILE).min(tw),
                    y1.div_ceil(TILE).min(th),
                ]
            })
            .filter(|region| *region != whole)
            .and_then(|region| self.athlete_tiles(frame, sampling, config, grid, region))
            .unwrap_or_else(|| {
                self.athlete_tiles(frame, sampling, config, grid, whole)
                    .expect("the whole frame has no edge to reach")
            });
        let mut unsure = Mask::empty(self.width, self.height);
        // The box of the tiles tested: outside it every pixel is plain background.
        let near = spread(&sure, tw, th, TILE_REACH);
        let near_box = crate::image::set_box(&near, tw, [0, 0, tw, th]).unwrap_or([0; 4]);
        let [bx0, by0, bx1, by1] = near_box;
        let tested = {
            let [x0, y0, x1, y1] = near_box.map(|v| v * TILE);
            [x0, y0, x1.min(w), y1.min(h)]
        };
        let mut strength_of = Window::zeros(tested);
        // The background where the frame's motion puts it, over the box tested.
        let back = self.shifted(&self.colour, sampling.1, tested);
        let back_at = |x: usize, y: usize| {
            let b = back.get(x, y);
            ([b[0], b[1], b[2]], b[3])
        };
        for ty in by0..by1 {
            for tx in bx0..bx1 {
                if !near[ty * tw + tx] {
                    continue;
                }
                for y in ty * TILE..((ty + 1) * TILE).min(h) {
                    for x in tx * TILE..((tx + 1) * TILE).min(w) {
                        match self.score_against(frame, x, y, sampling.0, back_at(x, y), config) {
                            Some(strength) => {
                                *strength_of.get_mut(x, y).expect("a tested pixel") = strength
                            }
                            None => unsure.data[y * w + x] = true,
                        }
                    }
                }
            }
        }
        // Pixels too faint for the test of one pixel are unsure if plain over their faint
        // neighbours (a sure neighbour's colour would carry the pool).
        let taken = |x: usize, y: usize| strength_of.get(x, y) >= SURE || unsure.data[y * w + x];
        // Only in and beside the tiles of the athlete (a faint limb's tiles are there: the
        // sparse pass pools too).
        let beside = spread(&sure, tw, th, 1);
        let mut pooled = Vec::new();
        // (Tiles beside the athlete's are near it too: in the box of those.)
        for ty in by0..by1 {
            for tx in bx0..bx1 {
                if !beside[ty * tw + tx] {
                    continue;
                }
                for y in ty * TILE..((ty + 1) * TILE).min(h) {
                    for x in tx * TILE..((tx + 1) * TILE).min(w) {
                        if taken(x, y) {
                            continue;
                        }
                        if self.plain_over_nine(frame, (x, y), taken, sampling, config) {
                            pooled.push(y * w + x);
                        }
                    }
                }
            }
        }
        for i in pooled {
            unsure.data[i] = true;
        }
        let change = |i: usize| {
            let (x, y) = (i % w, i / w);
            let p = &frame.data[i * 3..i * 3 + 3];
            let (bg, _) = back_at(x, y);
            [0, 1, 2].map(|c| f32::from(p[c]) * sampling.0 - bg[c])
        };
        let (mut alpha, raw) = coverage(&strength_of, &unsure, change);
        // The areas are for a 1280-pixel-wide image: a smaller image shows smaller specks.
        let scale = (f64::from(self.width) / 1280.0).min(1.0).powi(2);
        let area = |a: f64| (a * scale).round() as usize;
        let hole_area = area(config.hole_area);
        let mut mask = raw;
        clean(&mut mask, tested, area(config.speck_area), hole_area);
        // The cleaned mask decides; the score keeps soft edges inside it. (Cleaning sets
        // only pixels that set ones enclose, all inside the box tested.)
        let [x0, y0, x1, y1] = tested;
        for y in y0..y1 {
            let row = y * w + x0..y * w + x1;
            for ((a, m), u) in alpha
                .row_mut(y)
                .iter_mut()
                .zip(&mask.data[row.clone()])
                .zip(&mut unsure.data[row])
            {
                *a = if *m { a.max(0.5) } else { a.min(0.49) };
                *u &= !*m;
            }
        }
        Matte {
            alpha,
            mask,
            unsure,
            gain: motion.gain,
            shift: motion.shift,
            hole_area,
            within: tested,
        }
    }

    /// The sparse pass over the tiles of `region` (`[x0, y0, x1, y1)` in tiles): the tiles
    /// whose centre is surely the athlete, with the unsure tiles joined to them (a white
    /// boot, a white sleeve) followed a little way, so that every view's permissive mask
    /// holds them. `None` if `region` is not the whole frame and the athlete is not in it,
    /// or comes within [`GUARD`] tiles of an edge it does not share with the frame, or an
    /// unsure tile followed out of it is sure.
    fn athlete_tiles(
        &self,
        frame: &RgbImage,
        sampling: (f32, Offset),
        config: &MattingConfig,
        grid: Tiles,
        [rx0, ry0, rx1, ry1]: [usize; 4],
    ) -> Option<Vec<bool>> {
        let (tw, th) = (grid.columns, grid.rows);
        let whole = [rx0, ry0, rx1, ry1] == [0, 0, tw, th];
        // Per tile, its centre's verdict: sure athlete, unsure (brightened toward white).
        let verdict = |k: usize| {
            let (x, y) = grid.centre(k);
            self.score_at(frame, x, y, sampling, config)
        };
        let mut sure = vec![false; tw * th];
        let mut light = vec![false; tw * th];
        for ty in ry0..ry1 {
            for k in ty * tw + rx0..ty * tw + rx1 {
                match verdict(k) {
                    Some(strength) => sure[k] = strength >= SURE,
                    None => light[k] = true,
                }
            }
        }
        if !whole {
            // The athlete is in the region, clear of the edges it does not share with the
            // frame.
            let found = crate::image::set_box(&sure, tw, [rx0, ry0, rx1, ry1])?;
            let clear = (rx0 == 0 || found[0] >= rx0 + GUARD)
                && (ry0 == 0 || found[1] >= ry0 + GUARD)
                && (rx1 == tw || found[2] + GUARD <= rx1)
                && (ry1 == th || found[3] + GUARD <= ry1);
            if !clear {
                return None;
            }
        }
        let inside = |k: usize| {
            let (tx, ty) = (k % tw, k / tw);
            (rx0..rx1).contains(&tx) && (ry0..ry1).contains(&ty)
        };
        // Breadth-first: each step looks only around the tiles the last one added.
        let mut frontier: Vec<usize> = (0..tw * th).filter(|k| sure[*k]).collect();
        let mut asked = vec![false; tw * th];
        for _ in 0..UNSURE_REACH {
            let mut added = Vec::new();
            for &k in &frontier {
                let (tx, ty) = (k % tw, k / tw);
                for y in ty.saturating_sub(1)..=(ty + 1).min(th - 1) {
                    for x in tx.saturating_sub(1)..=(tx + 1).min(tw - 1) {
                        let j = y * tw + x;
                        if sure[j] || asked[j] {
                            continue;
                        }
                        asked[j] = true;
                        // A tile the sparse pass left out is asked now.
                        let light = if inside(j) {
                            light[j]
                        } else {
                            match verdict(j) {
                                Some(strength) if strength >= SURE => return None,
                                Some(_) => false,
                                None => true,
                            }
                        };
                        // Too faint for one pixel: unsure if plain over nine. (Asked only
                        // beside the athlete's tiles: most tiles are plain snow.)
                        let unsure = light
                            || self.plain_over_nine(
                                frame,
                                grid.centre(j),
                                |_, _| false,
                                sampling,
                                config,
                            );
                        if unsure {
                            sure[j] = true;
                            added.push(j);
                        }
                    }
                }
            }
            if added.is_empty() {
                break;
            }
            frontier = added;
        }
        Some(sure)
    }

    /// How surely frame pixel `(x, y)` is the athlete, 0 to 1, against the background
    /// where the frame's motion puts it.
    fn score_at(
        &self,
        frame: &RgbImage,
        x: usize,
        y: usize,
        (inverse, back): (f32, Offset),
        config: &MattingConfig,
    ) -> Option<f32> {
        let (bg, sigma) = self.at(&self.colour, x, y, back);
        self.score_against(frame, x, y, inverse, (bg, sigma), config)
    }

    /// [`Background::score_at`] against the background colour `bg` and deviation `sigma`
    /// found already (by [`Background::shifted`]).
    fn score_against(
        &self,
        frame: &RgbImage,
        x: usize,
        y: usize,
        inverse: f32,
        (bg, sigma): ([f32; 3], f32),
        config: &MattingConfig,
    ) -> Option<f32> {
        let i = (y * self.width as usize + x) * 3;
        let pixel = [
            f32::from(frame.data[i]) * inverse,
            f32::from(frame.data[i + 1]) * inverse,
            f32::from(frame.data[i + 2]) * inverse,
        ];
        score(
            pixel,
            bg,
            (sigma, CLIPPED * inverse),
            Brightness::Counts,
            config,
        )
    }

    /// Whether the mean colour of the 3x3 neighbourhood of `(x, y)` (less the pixels
    /// `taken`, and at least five left) is the athlete or light against the background's
    /// 3x3 mean, where noise is a third as strong: [`Background::score_at`] over nine pixels.
    /// A colour change too faint for one pixel (a white suit a shade greyer than snow, or a
    /// shade less blue, which one pixel cannot tell from a faint shadow) is plain over nine.
    fn plain_over_nine(
        &self,
        frame: &RgbImage,
        (x, y): (usize, usize),
        taken: impl Fn(usize, usize) -> bool,
        (inverse, back): (f32, Offset),
        config: &MattingConfig,
    ) -> bool {
        let (w, h) = (self.width as usize, self.height as usize);
        let (mut sum, mut count) = ([0f32; 3], 0);
        for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
            for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                let i = yy * w + xx;
                if !taken(xx, yy) {
                    count += 1;
                    for (s, v) in sum.iter_mut().zip(&frame.data[i * 3..i * 3 + 3]) {
                        *s += f32::from(*v);
                    }
                }
            }
        }
        if count < 5 {
            return false;
        }
        let pixel = sum.map(|v| v / count as f32 * inverse);
        let (bg, sigma) = self.at(&self.pooled, x, y, back);
        // A brightness change this faint is as likely the exposure gain's error.
        let brightness = Brightness::OnlyIfDark;
        let top = CLIPPED * inverse;
        match score(pixel, bg, (sigma, top), brightness, config) {
            Some(strength) => strength >= SURE,
            // Light is told from a colour by the channels that did not clip; with one
            // clipped, a change no larger than one pixel's noise tells nothing (an
            // exposure gain's error looks the same).
            None => {
                !(0..3).any(|c| pixel[c] >= top || bg[c] >= CLIPPED)
                    || dot(sub(pixel, bg), sub(pixel, bg))
                        >= (3.0 * config.shadow_chroma * sigma).powi(2)
            }
        }
    }

    /// [`Background::at`] for every pixel of `bounds` (`[x0, y0, x1, y1)`), as colour and
    /// deviation, the same to the bit: row by row, where the taps run along the table's rows
    /// (so the blend vectorises), pixel by pixel only beside the image's edges.
    fn shifted(&self, table: &[Fixed], offset: Offset, bounds: [usize; 4]) -> Window<[f32; 4]> {
        let (w, h) = (self.width as usize, self.height as usize);
        let [x0, y0, x1, y1] = bounds;
        let mut out: Window<[f32; 4]> = Window::zeros(bounds);
        let k = offset.weights().map(|k| k * (1.0 / FIXED_STEPS));
        let (fx, fy) = offset.part;
        let (right, below) = (usize::from(fx >= 0.5), usize::from(fy >= 0.5));
        // Columns whose two taps lie inside the row: 0 <= x + dx and x + dx + 1 < w.
        let dx = offset.whole.0;
        let lo = ((-dx).max(0) as usize).clamp(x0, x1);
        let hi = ((w as i64 - 1 - dx).max(0) as usize).clamp(lo, x1);
        let clamp = |v: i64| v.clamp(0, h as i64 - 1) as usize;
        for y in y0..y1 {
            let (ya, yb) = (
                clamp(y as i64 + offset.whole.1),
                clamp(y as i64 + 1 + offset.whole.1),
            );
            let row = out.row_mut(y);
            if hi > lo {
                let start = (lo as i64 + dx) as usize;
                let n = hi - lo;
                // Lane by lane over the flattened rows, as `at` sums: tap by tap, from zero.
                let (a, b) = (
                    table[ya * w + start..=ya * w + start + n].as_flattened(),
                    table[yb * w + start..=yb * w + start + n].as_flattened(),
                );
                let lanes = row[lo - x0..hi - x0].as_flattened_mut();
                for ((((o, a0), a1), b0), b1) in lanes
                    .iter_mut()
                    .zip(&a[..4 * n])
                    .zip(&a[4..])
                    .zip(&b[..4 * n])
                    .zip(&b[4..])
                {
                    let mut v = 0f32;
                    v += f32::from(*a0) * k[0];
                    v += f32::from(*a1) * k[1];
                    v += f32::from(*b0) * k[2];
                    v += f32::from(*b1) * k[3];
                    *o = v;
                }
                // The deviation is the nearest tap's.
                let nearest = &[a, b][below][4 * right..];
                for (o, d) in row[lo - x0..hi - x0]
                    .iter_mut()
                    .zip(nearest.chunks_exact(4))
                {
                    o[3] = f32::from(d[3]) * (1.0 / FIXED_STEPS);
                }
            }
            for x in (x0..lo).chain(hi..x1) {
                let (bg, sigma) = self.at(table, x, y, offset);
                row[x - x0] = [bg[0], bg[1], bg[2], sigma];
            }
        }
        out
    }

    /// The mean colour of `table` (bilinearly) at pixel `(x, y)` moved by `offset`, and the
    /// deviation of the nearest pixel; positions outside the image take the nearest edge.
    fn at(&self, table: &[Fixed], x: usize, y: usize, offset: Offset) -> ([f32; 3], f32) {
        let taps = offset.taps(x, y, self.width as usize, self.height as usize);
        // All four lanes, so the taps blend as one vector (the fourth is not used); the
        // weights take the fixed point's scale with them.
        let mut out = [0f32; 4];
        for (i, k) in taps {
            let k = k * (1.0 / FIXED_STEPS);
            for (o, v) in out.iter_mut().zip(table[i]) {
                *o += f32::from(v) * k;
            }
        }
        // The tap of the largest weight.
        let nearest = usize::from(offset.part.0 >= 0.5) + 2 * usize::from(offset.part.1 >= 0.5);
        let sigma = f32::from(table[taps[nearest].0][3]) * (1.0 / FIXED_STEPS);
        ([out[0], out[1], out[2]], sigma)
    }

    /// The frame's exposure gain and shake: the gain first (a median ratio barely feels a few
    /// pixels of shake), then the shake on gain-corrected brightness, then the gain again on
    /// aligned pixels.
    fn motion(&self, frame: &RgbImage, max_shift: i32) -> Motion {
        let rough = self.gain(frame, (0, 0));
        let shift = self.register(frame, max_shift, rough);
        let whole = (shift.0.round() as i32, shift.1.round() as i32);
        // (Less than half a pixel of shake: the aligned pixels are the ones measured.)
        let gain = if whole == (0, 0) {
            rough
        } else {
            self.gain(frame, whole)
        };
        Motion { gain, shift }
    }

    /// Finds the camera shake: the shift `d` with `frame(p) ≈ gain · background(p − d)`. The
    /// whole shift is searched on a sparse grid of pixels; where it does not beat no shift
    /// clearly (a background with little texture), no shift is the start. From there
    /// Lucas–Kanade finds the shift to a fraction of a pixel.
    fn register(&self, frame: &RgbImage, max: i32, gain: f32) -> (f32, f32) {
        if max == 0 {
            return (0.0, 0.0);
        }
        let (w, h) = (self.width as i32, self.height as i32);
        // Every 12th pixel of every 12th row, far enough from the edges for every shift:
        // its index and gain-corrected brightness, computed once for all the shifts.
        let samples: Vec<(i32, f32)> = (max + 1..h - max - 1)
            .step_by(12)
            .flat_map(|y| (max + 1..w - max - 1).step_by(12).map(move |x| y * w + x))
            .map(|i| (i, frame_luma(frame, i as usize) / gain))
            .collect();
        // The cost of every whole shift, sample by sample: a sample's shifts read one small
        // neighbourhood of the background, which stays in cache for all of them. Entry
        // `(j, k)` is the shift `(max - j, max - k)`: the one that reads the background `j`
        // pixels right of the sample's leftmost, in step with the row (so the loop
        // vectorises).
        let side = (2 * max + 1) as usize;
        let mut costs = vec![0f32; side * side];
        for &(i, f) in &samples {
            for (row, dy) in costs.chunks_exact_mut(side).zip((-max..=max).rev()) {
                let centre = (i - dy * w) as usize;
                let back = &self.luma[centre - max as usize..=centre + max as usize];
                for (cost, b) in row.iter_mut().zip(back) {
                    // Truncated so the athlete's pixels do not dominate.
                    *cost += (f - b).powi(2).min(ALIGN_OUTLIER * ALIGN_OUTLIER);
                }
            }
        }
        let (mut best, mut still) = (((0, 0), f32::INFINITY), f32::INFINITY);
        // From the last entry (shift (-max, -max)) to the first, so ties go as before.
        for (k, &c) in costs.iter().enumerate().rev() {
            let (dx, dy) = (max - (k % side) as i32, max - (k / side) as i32);
            if (dx, dy) == (0, 0) {
                still = c;
            }
            if c < best.1 {
                best = ((dx, dy), c);
            }
        }
        let start = if still <= best.1 * STILL_MARGIN {
            (0.0, 0.0)
        } else {
            (best.0.0 as f32, best.0.1 as f32)
        };
        let (w, h) = (w as usize, h as usize);
        let scale = 1.0 / gain;
        let d = lucas_kanade(
            &self.luma,
            (w, h),
            |(x, y)| frame_luma(frame, y * w + x) * scale,
            &self.textured,
            start,
            4,
        );
        let limit = max as f32 + 1.0;
        (d.0.clamp(-limit, limit), d.1.clamp(-limit, limit))
    }

    /// The exposure gain: the median ratio of frame to background brightness.
    fn gain(&self, frame: &RgbImage, shift: (i32, i32)) -> f32 {
        let (w, h) = (self.width as i64, self.height as i64);
        let mut ratios = Vec::with_capacity((w * h / 64) as usize);
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
                x += 8;
            }
            y += 8;
        }
        if ratios.is_empty() {
            return 1.0;
        }
        let mid = ratios.len() / 2;
        *ratios.select_nth_unstable_by(mid, f32::total_cmp).1
    }
}

/// How far a (gain-corrected) pixel is from background colour `bg` with noise deviation
/// `sigma` (`top`: the level where the frame clipped), in units of the threshold: 0 for a
/// shadow, [`SURE`] and above for the athlete; `None` for the background brightened toward
/// white (glare, spray), which colour alone cannot tell from a white suit.
fn score(
    pixel: [f32; 3],
    bg: [f32; 3],
    (sigma, top): (f32, f32),
    brightness: Brightness,
    config: &MattingConfig,
) -> Option<f32> {
    // Most pixels are the background within noise. Chroma and brightness distortion below
    // are each at most the pixel's distance from the background, so a pixel within half a
    // threshold of it scores under one half, which [`coverage`] treats as 0.
    let near = sub(pixel, bg);
    if dot(near, near) < (0.5 * config.threshold * sigma).powi(2) {
        return Some(0.0);
    }
    let bb = dot(bg, bg);
    // Brightness distortion: the scale of the background colour nearest the pixel.
    let a = if bb > 1.0 { dot(pixel, bg) / bb } else { 1.0 };
    // Darker than any shadow: the athlete, however the colour compares.
    let dark = a < config.shadow_floor;
    if !dark && a < 1.0 {
        // A shadow: the background darkened by shade of some depth s, channel by channel.
        let shaded = [0, 1, 2].map(|c| bg[c] * config.shade[c]);
        let ss = dot(shaded, shaded);
        if ss > 1.0 {
            let lost = sub(bg, pixel);
            let s = dot(lost, shaded) / ss;
            let off = [0, 1, 2].map(|c| pixel[c] - bg[c] + s * shaded[c]);
            if dot(off, off) < (config.shadow_chroma * sigma).powi(2) {
                return Some(0.0);
            }
        }
    }
    if !dark && is_light(pixel, bg, top, config.shadow_chroma * sigma) {
        return None;
    }
    let off = [0, 1, 2].map(|c| pixel[c] - a * bg[c]);
    let chroma = dot(off, off).sqrt();
    let brightness = match brightness {
        Brightness::OnlyIfDark if !dark => 0.0,
        _ => ((a - 1.0) * luma(bg)).abs(),
    };
    let distance = chroma.max(brightness) / sigma;
    Some(distance / config.threshold)
}

/// The dot product of two colours.
fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The difference of two colours, channel by channel.
fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Whether a change of brightness alone (no change of colour) tells the athlete in [`score`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Brightness {
    /// It does.
    Counts,
    /// Only darker than any shadow.
    OnlyIfDark,
}

/// Whether a pixel is the background with light added or taken away alike in every channel
/// (glare, which drifts either way) or mixed with white (spray), within `tolerance`, and
/// changed by more than noise.
fn is_light(pixel: [f32; 3], bg: [f32; 3], top: f32, tolerance: f32) -> bool {
    let d = sub(pixel, bg);
    if d.iter().map(|v| v * v).sum::<f32>() < tolerance * tolerance {
        return false;
    }
    // A channel at the top of the range (in the frame or the background) says nothing
    // about how much light came or went.
    let weight = [0, 1, 2].map(|c| f32::from(u8::from(pixel[c] < top && bg[c] < CLIPPED)));
    let dot = |a: [f32; 3], b: [f32; 3]| (0..3).map(|c| weight[c] * a[c] * b[c]).sum::<f32>();
    let grey = [1.0f32; 3];
    let white = bg.map(|v| (255.0 - v).max(0.0));
    let (gg, gw, ww) = (dot(grey, grey), dot(grey, white), dot(white, white));
    if gg == 0.0 {
        return true;
    }
    // Least squares d = g grey + m white, over what light can do: add glare and spray
    // (g, m >= 0), or take glare away (g < 0, m = 0; spray never darkens). The best fit lies
    // inside the quadrant or on one of its two edges. Glare is a part of what a pixel
    // shows, and it changes by a part of itself: taking it away darkens by at most a third
    // (a grey limb in the shade on snow is no glare).
    let most = (bg[0] + bg[1] + bg[2]) / 9.0;
    let residual = |(g, m): (f32, f32)| {
        let off = [0, 1, 2].map(|c| d[c] - g * grey[c] - m * white[c]);
        dot(off, off)
    };
    let (gd, wd) = (dot(grey, d), dot(white, d));
    let mut best = residual(((gd / gg).max(-most), 0.0));
    if ww > 0.0 {
        best = best.min(residual((0.0, (wd / ww).max(0.0))));
    }
    let det = gg * ww - gw * gw;
    if det > 1e-3 * gg * ww {
        let (g, m) = ((ww * gd - gw * wd) / det, (gg * wd - gw * gd) / det);
        if g >= 0.0 && m >= 0.0 {
            best = best.min(residual((g, m)));
        }
    }
    best < tolerance * tolerance
}

/// The alpha from which an edge pixel counts for carving.
const EDGE: f32 = 0.25;

/// How far (in levels) a pixel's colour may lie from a mix of the background and a
/// neighbour's colour and that neighbour still explain it as well as the best one does.
const MIX_NOISE: f32 = 10.0;

/// The strength (distance over the threshold) from which a pixel is the athlete.
const SURE: f32 = 0.75;

/// Alpha and the raw mask from each pixel's strength. Inside the athlete a pixel is
/// covered; on its edge a pixel the athlete only partly covers differs from the background
/// by that part of what its most covered neighbour differs, and counts if half covered.
/// Below [`SURE`], a soft alpha under one half. Only the box `[x0, y0, x1, y1)` is looked at:
/// outside it the strength is 0, and so are alpha and the mask.
fn coverage(
    strength: &Window<f32>,
    unsure: &Mask,
    change: impl Fn(usize) -> [f32; 3],
) -> (Window<f32>, Mask) {
    let (w, h) = (unsure.width as usize, unsure.height as usize);
    let [x0, y0, x1, y1] = strength.bounds;
    let mut alpha = Window::zeros(strength.bounds);
    let mut raw = Mask::empty(w as u32, h as u32);
    for y in y0..y1 {
        let alpha = alpha.row_mut(y);
        for x in x0..x1 {
            let i = y * w + x;
            let s = strength.get(x, y);
            if s < SURE {
                alpha[x - x0] = ((s - 0.5) * 2.0).clamp(0.0, 0.49);
                continue;
            }
            // A neighbour the athlete may cover (a faint part of a white suit) is not the
            // background.
            let rows = y.saturating_sub(1)..=(y + 1).min(h - 1);
            let columns = x.saturating_sub(1)..=(x + 1).min(w - 1);
            let edge = rows.clone().any(|yy| {
                columns
                    .clone()
                    .any(|xx| strength.get(xx, yy) < 0.5 && !unsure.data[yy * w + xx])
            });
            // The part of a sure neighbour's change (from the background) that the pixel
            // shows, of the neighbour whose colour mixed with the background explains the
            // pixel best (a red sleeve, not the dark glove beside it); of those that
            // explain it within noise, the most changed (the others may be partly covered).
            let cover = if edge {
                let d = change(i);
                let mut fits = [(0f32, 0f32, 0f32); 8];
                let mut count = 0;
                for yy in rows {
                    for xx in columns.clone() {
                        let j = yy * w + xx;
                        if j != i && strength.get(xx, yy) >= SURE {
                            let n = change(j);
                            let nn = dot(n, n).max(f32::MIN_POSITIVE);
                            let part = dot(d, n) / nn;
                            let off = [0, 1, 2].map(|c| d[c] - part * n[c]);
                            fits[count] = (dot(off, off), nn, part);
                            count += 1;
                        }
                    }
                }
                let fits = &fits[..count];
                let least = fits.iter().map(|f| f.0).fold(f32::INFINITY, f32::min);
                fits.iter()
                    .filter(|f| f.0 <= least + MIX_NOISE * MIX_NOISE)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(1.0, |f| f.2.max(0.0))
            } else {
                1.0
            };
            alpha[x - x0] = cover.min(1.0);
            raw.data[i] = cover >= 0.5;
        }
    }
    (alpha, raw)
}

/// The cells of a `w` x `h` grid within `reach` cells (along each axis) of a set one: a
/// square dilation, by rows then by columns, in the box around the set cells.
fn spread(set: &[bool], w: usize, h: usize, reach: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    let Some([x0, y0, x1, y1]) = crate::image::set_box(set, w, [0, 0, w, h]) else {
        return out;
    };
    // The last set cells are at x1 - 1 and y1 - 1.
    let (x0, x1) = (x0.saturating_sub(reach), (x1 - 1 + reach).min(w - 1));
    let (y0, y1) = (y0.saturating_sub(reach), (y1 - 1 + reach).min(h - 1));
    let mut rows = vec![false; w * h];
    for y in y0..=y1 {
        for x in x0..=x1 {
            let span = y * w + x.saturating_sub(reach)..=y * w + (x + reach).min(w - 1);
            rows[y * w + x] = set[span].contains(&true);
        }
    }
    for y in y0..=y1 {
        for x in x0..=x1 {
            out[y * w + x] =
                (y.saturating_sub(reach)..=(y + reach).min(h - 1)).any(|yy| rows[yy * w + x]);
        }
    }
    out
}

/// A level at which a channel of a frame may have clipped.
const CLIPPED: f32 = 250.0;

/// How far registration may err, in pixels: the background's colour that far from where
/// registration put it counts as noise.
const ALIGN_ERROR: f32 = 0.15;

/// Row `y` of the background's change per pixel: the largest of its colour channels' central
/// differences along either axis (one-sided at the image's edges).
fn slope_row(mean: &[[f32; 3]], (w, h): (usize, usize), y: usize, row: &mut [f32]) {
    let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
    // Steps of one or two pixels: their reciprocals are exact, so multiplying by them
    // divides exactly (and costs a fraction of a division).
    let per_dy = 1.0 / (down - up).max(1) as f32;
    for (x, out) in row.iter_mut().enumerate() {
        let (left, right) = (x.saturating_sub(1), (x + 1).min(w - 1));
        let per_dx = 1.0 / (right - left).max(1) as f32;
        let (a, b) = (mean[y * w + left], mean[y * w + right]);
        let (c, d) = (mean[up * w + x], mean[down * w + x]);
        *out = (0..3)
            .map(|k| {
                ((b[k] - a[k]) * per_dx)
                    .abs()
                    .max(((d[k] - c[k]) * per_dy).abs())
            })
            .fold(0.0, f32::max);
    }
}

/// Row `y` of the mean of each value's 3x3 neighbourhood (edges use the neighbours that
/// exist) in a `w`x`h` image whose row `yy` `values(yy, row)` writes into `row`.
fn box3_row(values: impl Fn(usize, &mut [f32]), (w, h): (usize, usize), y: usize, out: &mut [f32]) {
    // The mean of up to three neighbours, summed in their order (so the inner runs, read as
    // three shifted slices, vectorise and give the same sums as the ends).
    let mean = |a: &[f32]| a.iter().sum::<f32>() / a.len() as f32;
    let (a, b) = (y.saturating_sub(1), (y + 1).min(h - 1));
    // The rows around y, each first averaged along itself.
    let mut row = vec![0f32; w];
    let mut across = vec![vec![0f32; w]; b - a + 1];
    for (yy, across) in (a..=b).zip(&mut across) {
        values(yy, &mut row);
        if w < 3 {
            for (x, o) in across.iter_mut().enumerate() {
                *o = mean(&row[x.saturating_sub(1)..=(x + 1).min(w - 1)]);
            }
            continue;
        }
        across[0] = mean(&row[..2]);
        across[w - 1] = mean(&row[w - 2..]);
        for (((o, p), q), r) in across[1..w - 1]
            .iter_mut()
            .zip(&row[..w - 2])
            .zip(&row[1..w - 1])
            .zip(&row[2..])
        {
            *o = (p + q + r) / 3.0;
        }
    }
    match across.as_slice() {
        [p, q, r] => {
            for (((o, p), q), r) in out.iter_mut().zip(p).zip(q).zip(r) {
                *o = (p + q + r) / 3.0;
            }
        }
        [p, q] => {
            for ((o, p), q) in out.iter_mut().zip(p).zip(q) {
                *o = (p + q) / 2.0;
            }
        }
        [p] => out.copy_from_slice(p),
        _ => unreachable!("one to three rows"),
    }
}

/// Views of the cameras in use (`live`), each with its silhouette.
pub fn live_views<'a>(
    cameras: &'a [Camera],
    silhouettes: &'a [Window<bool>],
    live: &[bool],
) -> Vec<View<'a>> {
    cameras
        .par_iter()
        .zip(silhouettes)
        .zip(live)
        .filter(|(_, live)| **live)
        .map(|((c, s), _)| View::windowed(c, s))
        .collect()
}

/// Carves a frame's hull from every live camera's permissive mask (sure and unsure pixels),
/// then settles each matte's unsure pixels against it ([`Matte::confirm`]). Returns the hull
/// and the silhouettes it was carved from.
pub fn settle(
    cameras: &[Camera],
    mattes: &mut [Matte],
    live: &[bool],
    bounds: Bounds,
    carving: Carving,
) -> (Hull, Vec<Window<bool>>) {
    let permissive: Vec<Window<bool>> = mattes.par_iter().map(Matte::permissive).collect();
    let views = live_views(cameras, &permissive, live);
    let carving = Carving {
        min_views: carving.min_views.min(views.len() as u32).max(2),
        ..carving
    };
    let hull = hull::carve_tracked(&views, bounds, carving);
    drop(views);
    // What each live view is sure of, before any is settled.
    let sure: Vec<Window<bool>> = mattes
        .par_iter()
        .map(|m| {
            let margin = ANCHOR_REACH.ceil() as usize;
            grown_box(&m.mask, m.within, margin).map_or(Window::zeros([0; 4]), |b| Window {
                bounds: b,
                values: silhouette::dilate(&m.mask.crop(b), ANCHOR_REACH).data,
            })
        })
        .collect();
    let projectors: Vec<Projector> = cameras.iter().map(Camera::projector).collect();
    let rays = hull.rays();
    mattes
        .par_iter_mut()
        .zip(cameras)
        .enumerate()
        .for_each(|(k, (matte, camera))| {
            let anchors: Vec<(&Projector, &Window<bool>)> = (0..cameras.len())
                .filter(|j| *j != k && live[*j])
                .map(|j| (&projectors[j], &sure[j]))
                .collect();
            matte.confirm(camera, &rays, &anchors)
        });
    (hull, permissive)
}

/// Where a camera's next frame is likely to show the athlete, for
/// [`Background::matte_near`]: the box its last frame's matte tested, grown toward where
/// it moved since the frame before (by twice that move) and by [`LEAD_MARGIN`] all round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lead {
    last: Option<[usize; 4]>,
    before: Option<[usize; 4]>,
}

/// Pixels the box searched first reaches past where the athlete was, besides its move.
const LEAD_MARGIN: usize = 48;

impl Lead {
    /// Counts the camera's latest matte (one that found nothing leaves no lead).
    pub fn follow(&mut self, matte: &Matte) {
        let [x0, y0, x1, y1] = matte.within;
        self.before = self.last;
        self.last = (x1 > x0 && y1 > y0).then_some(matte.within);
    }

    /// The box to search first in a `width` x `height` frame; `None` (the whole frame) if
    /// the last frame did not find the athlete.
    pub fn search(&self, (width, height): (usize, usize)) -> Option<[usize; 4]> {
        let last = self.last?;
        let before = self.before.unwrap_or(last);
        // Twice the move of the box's centre, along each axis.
        let step =
            |lo: usize| (last[lo] + last[lo + 2]) as i64 - (before[lo] + before[lo + 2]) as i64;
        let (sx, sy) = (step(0), step(1));
        let low =
            |v: usize, step: i64| (v as i64 + step.min(0) - LEAD_MARGIN as i64).max(0) as usize;
        let high = |v: usize, step: i64, size: usize| {
            ((v + LEAD_MARGIN) as i64 + step.max(0)).min(size as i64) as usize
        };
        Some([
            low(last[0], sx),
            low(last[1], sy),
            high(last[2], sx, width),
            high(last[3], sy, height),
        ])
    }
}

/// Where each camera pointed at each frame. Registration measures a frame's shake against
/// the background learned from the lead-in, which sits where the lead-in frames happened to
/// point; a camera shakes about its calibrated pose, so the mean over the frames so far
/// stands for the calibration, and a frame's camera is the calibration moved by its shake
/// less that mean.
pub struct Shake {
    cameras: Vec<Sway>,
}

/// One camera's shakes so far: how many, their sum and the sum of their squared lengths.
#[derive(Clone, Default)]
struct Sway {
    frames: f64,
    sum: DVec2,
    squares: f64,
}

impl Sway {
    fn mean(&self) -> DVec2 {
        if self.frames == 0.0 {
            DVec2::ZERO
        } else {
            self.sum / self.frames
        }
    }

    /// Whether a shake lies where this camera's shakes have been: one far off is
    /// registration locked on something else (a moving crowd, a repeating pattern).
    fn plausible(&self, shake: DVec2) -> bool {
        if self.frames < 3.0 {
            return true;
        }
        let mean = self.mean();
        let spread = (self.squares / self.frames - mean.length_squared())
            .max(0.0)
            .sqrt();
        shake.distance(mean) <= (3.0 * spread).max(1.5)
    }
}

impl Shake {
    /// No frames counted yet, for `cameras` cameras.
    pub fn new(cameras: usize) -> Shake {
        Shake {
            cameras: vec![Sway::default(); cameras],
        }
    }

    /// Counts a frame's shakes (not those far off the camera's usual ones), then returns its
    /// cameras.
    pub fn track(&mut self, nominal: &[Camera], mattes: &[Matte]) -> Vec<Camera> {
        for (sway, matte) in self.cameras.iter_mut().zip(mattes) {
            let shake = shake_of(matte);
            if sway.plausible(shake) {
                sway.frames += 1.0;
                sway.sum += shake;
                sway.squares += shake.length_squared();
            }
        }
        self.cameras(nominal, mattes)
    }

    /// A frame's cameras, from the shakes counted so far; a camera whose shake is far off
    /// its usual ones keeps its calibration.
    pub fn cameras(&self, nominal: &[Camera], mattes: &[Matte]) -> Vec<Camera> {
        nominal
            .iter()
            .zip(mattes)
            .zip(&self.cameras)
            .map(|((camera, matte), sway)| {
                let shake = shake_of(matte);
                let moved = if sway.plausible(shake) {
                    shake - sway.mean()
                } else {
                    DVec2::ZERO
                };
                camera.moved_by(moved.x, moved.y)
            })
            .collect()
    }
}

fn shake_of(matte: &Matte) -> DVec2 {
    DVec2::new(f64::from(matte.shift.0), f64::from(matte.shift.1))
}

/// Drops specks smaller than `speck` pixels and fills holes smaller than `hole`, computed
/// only in the box around the set pixels (the athlete is a small part of a venue camera's
/// image), all of which lie in the box `within`.
fn clean(mask: &mut Mask, within: [usize; 4], speck: usize, hole: usize) {
    // A clear margin of one pixel, so that what the crop's border touches is outside.
    in_box(mask, within, 1, |crop| {
        silhouette::fill_holes(&silhouette::drop_specks(crop, speck), hole)
    });
}

/// Replaces the box around the set pixels of `mask` (all of which lie in the box `within`),
/// grown by `margin`, with `f` of it, and returns that box (`None`: no pixel is set). `f`
/// must set no pixel farther than `margin` from those it was given.
fn in_box(
    mask: &mut Mask,
    within: [usize; 4],
    margin: usize,
    f: impl FnOnce(&Mask) -> Mask,
) -> Option<[usize; 4]> {
    let w = mask.width as usize;
    let [x0, y0, x1, y1] = grown_box(mask, within, margin)?;
    let (cw, ch) = (x1 - x0, y1 - y0);
    let done = f(&mask.crop([x0, y0, x1, y1]));
    for y in 0..ch {
        mask.data[(y0 + y) * w + x0..(y0 + y) * w + x1]
            .copy_from_slice(&done.data[y * cw..(y + 1) * cw]);
    }
    Some([x0, y0, x1, y1])
}

/// The box around the set pixels of `mask` inside the box `within`, grown by `margin`
/// (clipped to the mask); `None` if no pixel is set.
fn grown_box(mask: &Mask, within: [usize; 4], margin: usize) -> Option<[usize; 4]> {
    let [x0, y0, x1, y1] = mask.set_box(within)?;
    Some([
        x0.saturating_sub(margin),
        y0.saturating_sub(margin),
        (x1 + margin).min(mask.width as usize),
        (y1 + margin).min(mask.height as usize),
    ])
}

/// Lucas–Kanade: the shift `d` that makes `frame(p) ≈ back(p − d)` over the pixels `points`,
/// from `start`, in at most `iterations` Gauss–Newton steps on `back`'s gradients. Pixels
/// that differ by more than [`ALIGN_OUTLIER`] (the athlete, glare) are left out of a step; a
/// little damping keeps a textureless axis where it was.
fn lucas_kanade(
    back: &[f32],
    (w, h): (usize, usize),
    frame: impl Fn((usize, usize)) -> f32,
    points: &[(u32, u32)],
    start: (f32, f32),
    iterations: usize,
) -> (f32, f32) {
    let mut d = start;
    let margin = 2 + d.0.abs().max(d.1.abs()).ceil() as usize + 2;
    if w <= 2 * margin || h <= 2 * margin {
        return start;
    }
    let b = |x: usize, y: usize| back[y * w + x];
    // The frame's samples, read once for every iteration.
    let samples: Vec<(usize, usize, f32)> = points
        .iter()
        .map(|&(x, y)| (x as usize, y as usize))
        .filter(|&(x, y)| (margin..w - margin).contains(&x) && (margin..h - margin).contains(&y))
        .map(|(x, y)| (x, y, frame((x, y))))
        .collect();
    for _ in 0..iterations {
        let (mut hxx, mut hxy, mut hyy, mut ex, mut ey, mut n) =
            (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
        for &(x, y, f) in &samples {
            // The background at p − d, bilinear, and its gradient at the nearest pixel (the
            // margin keeps p − d positive, so truncation floors and adding a half rounds).
            let (sx, sy) = (x as f32 - d.0, y as f32 - d.1);
            let (x0, y0) = (sx as usize, sy as usize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let value = (b(x0, y0) * (1.0 - fx) + b(x0 + 1, y0) * fx) * (1.0 - fy)
                + (b(x0, y0 + 1) * (1.0 - fx) + b(x0 + 1, y0 + 1) * fx) * fy;
            let (nx, ny) = ((sx + 0.5) as usize, (sy + 0.5) as usize);
            let gx = f64::from(b(nx + 1, ny) - b(nx - 1, ny)) * 0.5;
            let gy = f64::from(b(nx, ny + 1) - b(nx, ny - 1)) * 0.5;
            let r = f - value;
            if r.abs() > ALIGN_OUTLIER {
                continue;
            }
            let r = f64::from(r);
            hxx += gx * gx;
            hxy += gx * gy;
            hyy += gy * gy;
            ex += gx * r;
            ey += gy * r;
            n += 1.0;
        }
        if n == 0.0 {
            break;
        }
        // frame ≈ back(p − d − δ) ≈ back(p − d) − ∇back · δ, so H δ = −Σ ∇back r.
        let damping = 0.05 * n;
        let (hxx, hyy) = (hxx + damping, hyy + damping);
        let det = hxx * hyy - hxy * hxy;
        let dx = -(hyy * ex - hxy * ey) / det;
        let dy = -(hxx * ey - hxy * ex) / det;
        let limit = (margin - 2) as f32;
        d = (
            (d.0 + dx as f32).clamp(-limit, limit),
            (d.1 + dy as f32).clamp(-limit, limit),
        );
        if dx.abs().max(dy.abs()) < 0.01 {
            break;
        }
    }
    d
}

/// Spacing of the grid of pixels that registration's Lucas–Kanade steps may sample.
const LK_STEP: usize = 6;

/// The least range of background brightness (8-bit luma) around a grid pixel for it to say
/// anything about a shift: over flat snow or ice the gradient is the noise's.
const FLAT_RANGE: f32 = 6.0;

/// The pixels of a grid of every [`LK_STEP`]-th pixel where the background's brightness
/// varies within the reach of a shift of `max_shift` (and a pixel more): the only ones whose
/// gradient, wherever the shift puts it, tells registration anything. On a venue's snow and
/// ice that is a small part of the grid (boards, lines, gates, the stands).
fn textured(luma: &[f32], w: usize, h: usize, max_shift: i32) -> Vec<(u32, u32)> {
    let reach = max_shift.max(0) as usize + 2;
    (0..h)
        .into_par_iter()
        .step_by(LK_STEP)
        .flat_map_iter(|y| {
            // Per column, the least and the greatest brightness of the rows within reach.
            let (mut least, mut most) = (vec![f32::INFINITY; w], vec![f32::NEG_INFINITY; w]);
            for yy in y.saturating_sub(reach)..(y + reach + 1).min(h) {
                let row = &luma[yy * w..(yy + 1) * w];
                for ((lo, hi), v) in least.iter_mut().zip(&mut most).zip(row) {
                    (*lo, *hi) = (lo.min(*v), hi.max(*v));
                }
            }
            (0..w).step_by(LK_STEP).filter_map(move |x| {
                let columns = x.saturating_sub(reach)..(x + reach + 1).min(w);
                let lo = least[columns.clone()]
                    .iter()
                    .fold(f32::INFINITY, |a, v| a.min(*v));
                let hi = most[columns]
                    .iter()
                    .fold(f32::NEG_INFINITY, |a, v| a.max(*v));
                (hi - lo >= FLAT_RANGE).then_some((x as u32, y as u32))
            })
        })
        .collect()
}

/// A pixel's difference from the background, in 8-bit luma, past which registration leaves
/// it out (the athlete, glare, spray).
const ALIGN_OUTLIER: f32 = 20.0;

fn frame_luma(frame: &RgbImage, i: usize) -> f32 {
    let p = &frame.data[i * 3..i * 3 + 3];
    luma([f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::iou;

    #[test]
    fn spray_and_glare_are_light_and_a_colour_is_not() {
        let mix =
            |bg: [f32; 3], to: [f32; 3], k: f32| [0, 1, 2].map(|c| bg[c] + (to[c] - bg[c]) * k);
        let (ice, red_line) = ([203.0, 220.0, 236.0], [205.0, 164.0, 178.0]);
        let spray = [250.0, 251.0, 255.0];
        for bg in [ice, red_line] {
            for k in [0.2, 0.4, 0.7] {
                // Spray over the background, alone and with glare added or taken away.
                let over = mix(bg, spray, k);
                assert!(is_light(over, bg, 250.0, 10.0), "{bg:?} {k}");
                assert!(is_light(over.map(|v| v + 12.0), bg, 250.0, 10.0));
            }
            assert!(
                is_light(bg.map(|v| v - 20.0), bg, 250.0, 10.0),
                "glare taken away"
            );
            assert!(!is_light(
                mix(bg, [40.0, 60.0, 200.0], 0.5),
                bg,
                250.0,
                10.0
            ));
        }
        // Spray never darkens: a darker, whiter pixel is not light.
        assert!(!is_light(
            mix(ice, spray, 0.6).map(|v| v - 40.0),
            ice,
            250.0,
            10.0
        ));
    }

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
        let background = Background::learn(&[&plate], &MattingConfig::default()).unwrap();
        // The scene shifted by (2, -1) px, 12 % brighter, with a sky-lit (bluish) shadow
        // beside the athlete.
        let mut scene = snow(w, h, 0);
        paint(&mut scene, 60, 50, 95, 62, |p| {
            [0.55f32, 0.59, 0.66]
                .iter()
                .zip(p)
                .map(|(k, v)| (f32::from(v) * k) as u8)
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
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
        assert!(
            (matte.shift.0 - 2.0).abs() < 0.25 && (matte.shift.1 + 1.0).abs() < 0.25,
            "shift {:?}",
            matte.shift
        );
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
    fn a_search_box_finds_what_the_whole_frame_does_and_a_wrong_one_falls_back() {
        let (w, h) = (240, 160);
        let config = MattingConfig::default();
        let background = Background::learn(&[&snow(w, h, 0)], &config).unwrap();
        // A red athlete and, far from it, a dark speck of debris.
        let mut frame = snow(w, h, 1);
        paint(&mut frame, 100, 40, 120, 100, |_| [180, 30, 40]);
        paint(&mut frame, 200, 130, 212, 142, |_| [40, 40, 50]);
        let whole = background.matte(&frame, &config);
        assert!(whole.mask.get(205, 135), "the whole frame holds the debris");
        // Around the athlete: the athlete's pixels, and nothing of the debris.
        let near = background.matte_near(&frame, &config, Some([60, 0, 160, 140]));
        for y in 0..h {
            for x in 0..w {
                let athlete = x < 160 && y < 130;
                if athlete {
                    assert_eq!(near.mask.get(x, y), whole.mask.get(x, y), "({x}, {y})");
                } else {
                    assert!(!near.mask.get(x, y), "({x}, {y})");
                }
            }
        }
        // A box the athlete reaches the edge of, and a box away from it, search the whole
        // frame.
        for wrong in [[60, 0, 112, 140], [0, 100, 60, 160]] {
            let matte = background.matte_near(&frame, &config, Some(wrong));
            assert_eq!(matte.mask.data, whole.mask.data, "{wrong:?}");
        }
    }

    #[test]
    fn the_background_row_by_row_is_the_background_pixel_by_pixel() {
        let (w, h) = (40, 30);
        let config = MattingConfig::default();
        let frames = [snow(w, h, 0), snow(w, h, 1), snow(w, h, 2)];
        let background = Background::learn(&frames.iter().collect::<Vec<_>>(), &config).unwrap();
        // Shifts left and right, up and down, by less and more than half a pixel, and so far
        // that every tap of a box is clamped.
        for shift in [
            (0.0, 0.0),
            (0.3, -0.7),
            (-2.6, 1.2),
            (3.5, 0.5),
            (-45.2, 33.9),
        ] {
            let offset = Offset::new(shift);
            for (table, name) in [
                (&background.colour, "colour"),
                (&background.pooled, "pooled"),
            ] {
                for bounds in [
                    [0, 0, w as usize, h as usize],
                    [5, 3, 17, 9],
                    [36, 20, 40, 30],
                ] {
                    let rows = background.shifted(table, offset, bounds);
                    for ((x, y), got) in rows.pixels() {
                        let (bg, sigma) = background.at(table, x, y, offset);
                        let want = [bg[0], bg[1], bg[2], sigma];
                        assert_eq!(
                            got.map(f32::to_bits),
                            want.map(f32::to_bits),
                            "{name} at ({x}, {y}) shifted by {shift:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_lead_grows_toward_where_the_athlete_moved() {
        let matte_at = |within: [usize; 4]| {
            let mut matte = Background::learn(&[&snow(16, 16, 0)], &MattingConfig::default())
                .unwrap()
                .matte(&snow(16, 16, 0), &MattingConfig::default());
            matte.within = within;
            matte
        };
        let mut lead = Lead::default();
        assert_eq!(lead.search((1280, 720)), None);
        lead.follow(&matte_at([600, 300, 700, 500]));
        let m = LEAD_MARGIN;
        assert_eq!(
            lead.search((1280, 720)),
            Some([600 - m, 300 - m, 700 + m, 500 + m])
        );
        // Moved 20 px right and 10 px up: the box reaches 40 px further right, 20 further up.
        lead.follow(&matte_at([620, 290, 720, 490]));
        assert_eq!(
            lead.search((1280, 720)),
            Some([620 - m, 290 - 20 - m, 720 + 40 + m, 490 + m])
        );
        // Clamped to the frame; a frame with nothing found leaves no lead.
        lead.follow(&matte_at([1200, 0, 1280, 100]));
        assert_eq!(lead.search((1280, 720)).unwrap()[2], 1280);
        lead.follow(&matte_at([0; 4]));
        assert_eq!(lead.search((1280, 720)), None);
    }

    #[test]
    fn a_white_sleeve_too_faint_for_one_pixel_is_unsure_over_nine() {
        let (w, h) = (120, 80);
        // Bluish snow with sensor noise, channel by channel.
        let snow = |w: u32, h: u32, seed: u32| {
            let mut image = snow(w, h, 0);
            for (i, v) in image.data.iter_mut().enumerate() {
                let n = (i as u32 ^ seed.wrapping_mul(0x9E37_79B9)).wrapping_mul(0x85EB_CA6B) >> 29;
                *v = *v - 14 + n as u8;
            }
            image
        };
        let lead: Vec<RgbImage> = (0..6).map(|seed| snow(w, h, seed)).collect();
        let config = MattingConfig::default();
        let background = Background::learn(&lead.iter().collect::<Vec<_>>(), &config).unwrap();
        // A red body, and beside it a sleeve a shade greyer and less blue than the snow,
        // under an exposure 2 % brighter (which must not read as light).
        let mut frame = snow(w, h, 6);
        paint(&mut frame, 40, 20, 60, 60, |_| [180, 30, 40]);
        paint(&mut frame, 60, 30, 76, 40, |p| {
            [p[0] - 2, p[1] - 5, p[2] - 12]
        });
        paint(&mut frame, 0, 0, w, h, |p| {
            p.map(|v| (f32::from(v) * 1.02) as u8)
        });
        let matte = background.matte(&frame, &config);
        let count = |x0: u32, x1: u32, y0: u32, y1: u32| {
            let mut n = 0;
            for y in y0..y1 {
                for x in x0..x1 {
                    n += usize::from(matte.unsure.get(x, y) || matte.mask.get(x, y));
                }
            }
            n
        };
        let sleeve = count(61, 75, 31, 39);
        assert!(
            sleeve >= 14 * 8 * 9 / 10,
            "{sleeve} of the sleeve's 112 inner pixels"
        );
        // Neither the one-pixel test nor the snow around the sleeve says so.
        let single = (31..39)
            .flat_map(|y| (61..75).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let sampling = (
                    1.0 / matte.gain,
                    Offset::new((-matte.shift.0, -matte.shift.1)),
                );
                background
                    .score_at(&frame, x, y, sampling, &config)
                    .is_none_or(|s| s >= SURE)
            })
            .count();
        assert!(single < 112 / 4, "{single} sure by one pixel");
        let around = count(60, 100, 42, 70) + count(78, 100, 20, 42);
        assert_eq!(around, 0, "unsure or set snow");
    }

    #[test]
    fn an_edge_pixel_is_covered_by_the_neighbour_of_its_colour() {
        // 3x3 on snow: background on the left, a red sleeve in the middle column's top and
        // bottom, a dark glove on the right; the centre is 60 % covered by the sleeve.
        let (sleeve, glove) = ([-10.0, -150.0, -160.0], [-180.0, -190.0, -200.0]);
        let change = |i: usize| match i % 3 {
            0 => [0.0; 3],
            1 if i == 4 => sleeve.map(|v| v * 0.6),
            1 => sleeve,
            _ => glove,
        };
        let strength = Window {
            bounds: [0, 0, 3, 3],
            values: vec![0.0, 1.2, 9.0, 0.0, 0.8, 9.0, 0.0, 1.2, 9.0],
        };
        let unsure = Mask::empty(3, 3);
        let (alpha, raw) = coverage(&strength, &unsure, change);
        let alpha = alpha.values;
        assert!((alpha[4] - 0.6).abs() < 1e-4, "{}", alpha[4]);
        assert!(raw.data[4]);
        // Less than half covered, it is left out; a pixel with no background beside it
        // is covered whole.
        let less = |i: usize| {
            if i == 4 {
                sleeve.map(|v| v * 0.4)
            } else {
                change(i)
            }
        };
        let (alpha, raw) = coverage(&strength, &unsure, less);
        let alpha = alpha.values;
        assert!((alpha[4] - 0.4).abs() < 1e-4 && !raw.data[4]);
        assert_eq!(alpha[5], 1.0);
    }

    #[test]
    fn the_box_mean_averages_the_neighbours_that_exist() {
        for (w, h) in [(1, 1), (2, 1), (1, 3), (3, 2), (5, 4), (7, 7)] {
            let values: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32 * 1.5).collect();
            let mut out = vec![0f32; w * h];
            for (y, row) in out.chunks_exact_mut(w).enumerate() {
                box3_row(
                    |yy, row| row.copy_from_slice(&values[yy * w..(yy + 1) * w]),
                    (w, h),
                    y,
                    row,
                );
            }
            for y in 0..h {
                for x in 0..w {
                    let (mut sum, mut count) = (0.0, 0);
                    for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                        for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                            sum += values[yy * w + xx];
                            count += 1;
                        }
                    }
                    let want = sum / count as f32;
                    let got = out[y * w + x];
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{w}x{h} ({x}, {y}): {got} {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn spread_sets_the_square_around_each_set_cell() {
        let (w, h) = (9, 6);
        let mut set = vec![false; w * h];
        set[w + 1] = true; // (1, 1)
        let near = spread(&set, w, h, 2);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(near[y * w + x], x <= 3 && y <= 3, "({x}, {y})");
            }
        }
    }

    #[test]
    fn an_empty_scene_and_a_speck_give_an_empty_matte() {
        // As wide as the image the speck area is given for.
        let (w, h) = (1280, 24);
        let config = MattingConfig::default();
        let background = Background::learn(&[&snow(w, h, 0)], &config).unwrap();
        let empty = background.matte(&snow(w, h, 0), &config);
        assert_eq!(empty.mask.count() + empty.unsure.count(), 0);
        assert!(empty.alpha.values.iter().all(|a| *a == 0.0));
        // A dark speck of two pixels (where the sparse pass looks) is noise, not an athlete;
        // one of three on the image's border too. Nine pixels are not a speck.
        let mut frame = snow(w, h, 0);
        paint(&mut frame, 30, 18, 32, 19, |_| [20, 20, 20]);
        paint(&mut frame, 0, 0, 3, 3, |_| [20, 20, 20]);
        let matte = background.matte(&frame, &config);
        assert_eq!(matte.mask.count(), 9, "only the corner's nine pixels stay");
        let mut frame = snow(w, h, 0);
        paint(&mut frame, 2, 0, 3, 3, |_| [20, 20, 20]);
        let keep = MattingConfig {
            speck_area: 0.0,
            ..config
        };
        assert_eq!(background.matte(&frame, &keep).mask.count(), 3);
        assert_eq!(background.matte(&frame, &config).mask.count(), 0);
    }

    /// Four cameras around a box standing on the ground, and each one's mask of it (pixels
    /// whose ray meets the box).
    fn box_rig() -> (Vec<Camera>, Vec<Mask>, Bounds) {
        let (size, lo, hi) = (
            96u32,
            DVec3::new(-0.3, -0.3, 0.0),
            DVec3::new(0.3, 0.3, 1.2),
        );
        let k = glam::DMat3::from_cols(
            DVec3::new(160.0, 0.0, 0.0),
            DVec3::new(0.0, 160.0, 0.0),
            DVec3::new(48.0, 48.0, 1.0),
        );
        let cameras: Vec<Camera> = (0..4)
            .map(|i| {
                let a = std::f64::consts::FRAC_PI_2 * f64::from(i);
                let eye = DVec3::new(5.0 * a.cos(), 5.0 * a.sin(), 0.6);
                Camera::look_at(
                    format!("c{i}"),
                    eye,
                    DVec3::new(0.0, 0.0, 0.6),
                    DVec3::Z,
                    k,
                    size,
                    size,
                )
            })
            .collect();
        let masks = cameras
            .iter()
            .map(|c| {
                let (rays, o) = (c.rays(), c.center());
                let mut mask = Mask::empty(size, size);
                for (i, m) in mask.data.iter_mut().enumerate() {
                    let n = size as usize;
                    let d = rays.cast(DVec2::new((i % n) as f64, (i / n) as f64));
                    let (mut enter, mut leave) = (0.0f64, f64::INFINITY);
                    for a in 0..3 {
                        let (t0, t1) = ((lo[a] - o[a]) / d[a], (hi[a] - o[a]) / d[a]);
                        enter = enter.max(t0.min(t1));
                        leave = leave.min(t0.max(t1));
                    }
                    *m = enter <= leave;
                }
                mask
            })
            .collect();
        let bounds = Bounds {
            min: DVec3::new(-1.0, -1.0, 0.0),
            max: DVec3::new(1.0, 1.0, 2.0),
        };
        (cameras, masks, bounds)
    }

    #[test]
    fn views_settle_what_three_others_are_sure_of_and_not_what_none_is() {
        let (cameras, masks, bounds) = box_rig();
        let carving = Carving {
            resolution: 64,
            tolerance: 0,
            min_views: 2,
        };
        // The first view is unsure of the whole box (a white suit in the sun); `sure` of
        // the others are sure of it too (its shaded side), the rest unsure (spray).
        let settled = |sure: usize| {
            let mut mattes: Vec<Matte> = masks
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let certain = i >= 1 && i <= sure;
                    let empty = Mask::empty(m.width, m.height);
                    Matte {
                        alpha: Window::zeros([0, 0, m.width as usize, m.height as usize]),
                        mask: if certain { m.clone() } else { empty.clone() },
                        unsure: if certain { empty } else { m.clone() },
                        gain: 1.0,
                        shift: (0.0, 0.0),
                        hole_area: 4,
                        within: [0, 0, m.width as usize, m.height as usize],
                    }
                })
                .collect();
            settle(&cameras, &mut mattes, &[true; 4], bounds, carving);
            iou(&mattes[0].mask, &masks[0])
        };
        assert!(settled(3) > 0.9, "{}", settled(3));
        assert_eq!(settled(0), 0.0);
        assert_eq!(settled(2), 0.0, "two sure views are not enough");
    }

    #[test]
    fn no_lead_in_is_an_error() {
        assert_eq!(
            Background::learn(&[], &MattingConfig::default()).unwrap_err(),
            MattingError::NoLeadIn
        );
        let a = snow(10, 10, 0);
        let b = snow(12, 10, 0);
        assert!(matches!(
            Background::learn(&[&a, &b], &MattingConfig::default()),
            Err(MattingError::SizeMismatch { index: 1, .. })
        ));
    }
}
