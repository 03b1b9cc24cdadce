//! Novel views: the hull textured view-dependently from the real cameras that see each
//! surface point (visibility by depth test), over the ground and background seen by the
//! nearest cameras. Orbits, bullet-time sweeps and held-out-camera checks all render here.

use glam::{DVec2, DVec3};
use rayon::prelude::*;

use crate::camera::{Camera, Projector};
use crate::hull::{DepthMap, Faces, Hull, Surface};
use crate::image::{Mask, RgbImage, Tiled};

/// One real camera's view of the moment.
pub struct Source<'a> {
    /// The camera.
    pub camera: &'a Camera,
    /// Its frame at the instant rendered.
    pub frame: &'a RgbImage,
    /// Its clean background plate (the scene without the athlete).
    pub background: &'a RgbImage,
    /// The athlete's mask in its frame, if known: surface colour is taken only inside it.
    pub mask: Option<&'a Mask>,
}

/// A hull and the cameras that texture it.
pub struct Synthesis<'a> {
    hull: &'a Hull,
    /// The hull's surface voxels, found once for every view.
    surface: Surface,
    sources: Vec<Prepared<'a>>,
    /// How far behind the visible surface a point may lie and still count as seen.
    tolerance: f32,
    /// The rig's centre and horizontal radius: the ground is modelled as a plane only
    /// inside the rig; beyond it lie stands and sky.
    rig: (DVec3, f64),
}

/// A source with what every pixel asks of it computed once.
struct Prepared<'a> {
    source: Source<'a>,
    /// The hull as the source's camera sees it.
    depth: DepthMap,
    projector: Projector,
    centre: DVec3,
    /// The background plate, tiled for sampling along lines across its rows.
    plate: Tiled,
}

/// Spacing, in pixels, of the grid the background is computed on (and interpolated between).
const GRID: usize = 2;

/// How far apart (in 8-bit levels, in any channel) the corners of a coarse block of the
/// background may lie for the block to count as flat and be interpolated, not computed.
const BUSY: u8 = 16;

/// How many cameras blend into one pixel.
const BLEND: usize = 2;

/// Spacing, in pixels, of the lattice on which the background's [`Lookup`] is computed
/// exactly; inside a block it is interpolated from the block's corners where that holds.
const LOOKUP_BLOCK: usize = 16;

/// How far (in source pixels) the lookup interpolated at a block's centre may lie from the
/// exact one for the block to be interpolated; past it (the horizon, the rig's rim, a
/// change of cameras) every pixel of the block is computed exactly.
const LOOKUP_ERROR: f64 = 0.25;

impl<'a> Synthesis<'a> {
    /// Prepares the sources (one depth map each).
    pub fn new(hull: &'a Hull, sources: Vec<Source<'a>>) -> Self {
        let tolerance = (hull.voxel_size().length() * 2.0) as f32;
        let centre =
            sources.iter().map(|s| s.camera.center()).sum::<DVec3>() / sources.len().max(1) as f64;
        let radius = sources
            .iter()
            .map(|s| (s.camera.center() - centre).truncate().length())
            .fold(0.0, f64::max);
        let surface = hull.surface();
        let sources = sources
            .into_par_iter()
            .map(|source| Prepared {
                depth: hull.render_depth_of(&surface, source.camera, Faces::Front),
                projector: source.camera.projector(),
                centre: source.camera.center(),
                plate: Tiled::of(source.background),
                source,
            })
            .collect();
        Synthesis {
            hull,
            surface,
            sources,
            tolerance,
            rig: (centre, radius),
        }
    }

    /// Renders the moment from `target`. With `ground_z`, background pixels come from the
    /// ground plane at that height as the nearest cameras see it; otherwise from the
    /// nearest camera's background in the same direction. The background is computed on
    /// every other pixel of every other row, or every fourth where it is flat, and
    /// interpolated between (the athlete is rendered at every pixel).
    pub fn render(&self, target: &Camera, ground_z: Option<f64>) -> RgbImage {
        let depth = self
            .hull
            .render_depth_of(&self.surface, target, Faces::Front);
        let (w, h) = (target.width as usize, target.height as usize);
        let origin = target.center();
        let rays = target.rays();
        let mut order: Vec<usize> = (0..self.sources.len()).collect();
        order.sort_by(|a, b| {
            let d = |k: usize| (self.sources[k].centre - origin).length();
            d(*a).total_cmp(&d(*b))
        });
        let exact = |x: f64, y: f64| -> Lookup {
            let pixel = DVec2::new(x, y);
            self.lookup(origin, rays.cast(pixel), pixel, ground_z, &order)
        };
        let lattice = Lattice::new(w, h, &exact);
        let background = |x: usize, y: usize| -> [u8; 3] {
            let lookup = lattice.at(x, y, &exact);
            blend(
                lookup
                    .samples()
                    .map(|(weight, k, p)| (weight, self.sources[k].plate.bilinear(p.x, p.y))),
            )
        };
        // The background on a coarse grid of twice the spacing, then on the grid: computed
        // where the coarse block around a point is busy (texture, an edge), interpolated
        // where it is flat.
        let (cw, ch) = (w.div_ceil(2 * GRID) + 1, h.div_ceil(2 * GRID) + 1);
        let coarse: Vec<[u8; 3]> = (0..ch)
            .into_par_iter()
            .flat_map_iter(|cy| (0..cw).map(move |cx| (cx, cy)))
            .map(|(cx, cy)| background((2 * GRID * cx).min(w - 1), (2 * GRID * cy).min(h - 1)))
            .collect();
        let busy: Vec<bool> = (0..(cw - 1) * (ch - 1))
            .map(|b| {
                let (bx, by) = (b % (cw - 1), b / (cw - 1));
                let corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .map(|(dx, dy)| coarse[(by + dy) * cw + bx + dx]);
                (0..3).any(|k| {
                    let (lo, hi) = corners
                        .iter()
                        .fold((u8::MAX, 0), |(lo, hi), c| (lo.min(c[k]), hi.max(c[k])));
                    hi - lo > BUSY
                })
            })
            .collect();
        let (gw, gh) = (w.div_ceil(GRID) + 1, h.div_ceil(GRID) + 1);
        // The coarse blocks a grid line `v` touches (one, or the two it lies between), of `n`
        // coarse lines.
        let touches = |v: usize, n: usize| (v.div_ceil(2).max(1) - 1)..(v / 2 + 1).min(n - 1);
        let mut grid = vec![[0u8; 3]; gw * gh];
        grid.par_chunks_mut(gw).enumerate().for_each(|(gy, row)| {
            // Per coarse column of blocks, whether a block this row touches is busy.
            let busy_here: Vec<bool> = (0..cw - 1)
                .map(|bx| touches(gy, ch).any(|by| busy[by * (cw - 1) + bx]))
                .collect();
            // The coarse rows around this one (itself, or the two it lies between).
            let ys = [gy / 2, gy.div_ceil(2)];
            for (gx, out) in row.iter_mut().enumerate() {
                let flat = !touches(gx, cw).any(|bx| busy_here[bx]);
                *out = if flat {
                    let mut sum = [0u32; 3];
                    for y in ys {
                        for x in [gx / 2, gx.div_ceil(2)] {
                            for (s, v) in sum.iter_mut().zip(coarse[y * cw + x]) {
                                *s += u32::from(v);
                            }
                        }
                    }
                    sum.map(|v| ((v + 2) / 4) as u8)
                } else if gx % 2 == 0 && gy % 2 == 0 {
                    // A coarse point was computed already.
                    coarse[gy / 2 * cw + gx / 2]
                } else {
                    background((GRID * gx).min(w - 1), (GRID * gy).min(h - 1))
                };
            }
        });
        let mut data = vec![0u8; w * h * 3];
        data.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
            const G: u32 = GRID as u32;
            // The background: the two grid rows around this row blended, then between the
            // grid columns around each pixel.
            let (gy, fy) = (y / GRID, (y % GRID) as u32);
            let line: Vec<[u32; 3]> = grid[gy * gw..(gy + 1) * gw]
                .iter()
                .zip(&grid[(gy + 1) * gw..(gy + 2) * gw])
                .map(|(a, b)| [0, 1, 2].map(|k| u32::from(a[k]) * (G - fy) + u32::from(b[k]) * fy))
                .collect();
            // GRID pixels per pair of grid columns (the last group may be short).
            for (pixels, pair) in row.chunks_mut(3 * GRID).zip(line.windows(2)) {
                let (a, b) = (pair[0], pair[1]);
                for (fx, out) in (0..G).zip(pixels.chunks_exact_mut(3)) {
                    for k in 0..3 {
                        out[k] = ((a[k] * (G - fx) + b[k] * fx + G * G / 2) / (G * G)) as u8;
                    }
                }
            }
            // The athlete, at every pixel.
            let seen = depth.nearest.row_at(y).unwrap_or_default();
            for (x, &(_, voxel)) in (depth.nearest.bounds[0]..).zip(seen) {
                if voxel != u32::MAX {
                    row[x * 3..x * 3 + 3]
                        .copy_from_slice(&self.surface(self.hull.voxel_center(voxel), origin));
                }
            }
        });
        RgbImage::new(target.width, target.height, data).expect("an image of the target's size")
    }

    /// The colour of a surface point seen from `eye`: the cameras whose viewing direction is
    /// closest to the eye's and that see the point, blended by angle.
    fn surface(&self, point: DVec3, eye: DVec3) -> [u8; 3] {
        let to_eye = (eye - point).normalize();
        // The cameras that see the point, best (smallest angle to the eye's view) first.
        let mut best = Best::default();
        for (k, s) in self.sources.iter().enumerate() {
            let cos = to_eye.dot((s.centre - point).normalize());
            if !best.would_take(cos) {
                continue;
            }
            let Some(p) = s.projector.project(point) else {
                continue;
            };
            if !s.source.camera.in_image(p) {
                continue;
            }
            let z = s.projector.depth(point) as f32;
            if z > s.depth.depth_at(p.x, p.y) + self.tolerance {
                continue; // hidden behind another part of the body in that camera
            }
            best.offer(cos, k, p);
        }
        blend(
            best.samples()
                .map(|(weight, k, p)| (weight, self.sources[k].source.frame.bilinear(p.x, p.y))),
        )
    }

    /// Where the background seen along `ray` from `eye` (through `pixel`) is read: the
    /// ground plane at `ground_z` as the nearest cameras see it, else what lies in that
    /// direction in the camera that looks most that way, else the nearest camera's plate at
    /// the same pixel (a backdrop, not geometry).
    fn lookup(
        &self,
        eye: DVec3,
        ray: DVec3,
        pixel: DVec2,
        ground_z: Option<f64>,
        order: &[usize],
    ) -> Lookup {
        let on_ground = match ground_z {
            Some(g) if ray.z.abs() > 1e-9 && (g - eye.z) / ray.z > 0.0 => {
                Some(eye + ray * ((g - eye.z) / ray.z))
            }
            _ => None,
        }
        .filter(|p| (*p - self.rig.0).truncate().length() <= self.rig.1 * 1.1);
        if let Some(lookup) = on_ground.and_then(|p| self.ground_at(eye, p, order)) {
            return lookup;
        }
        // The sky, the stands, ground no camera sees.
        let far = eye + ray * 1e4;
        let mut toward = Best::default();
        for (k, s) in self.sources.iter().enumerate() {
            let cos = ray.dot(s.source.camera.r.row(2));
            if !toward.would_take_first(cos) {
                continue;
            }
            if let Some(p) = s
                .projector
                .project(far)
                .filter(|p| s.source.camera.in_image(*p))
            {
                toward.offer(cos, k, p);
            }
        }
        if toward.count > 0 {
            return Lookup::of(&toward, 1);
        }
        // (`order` is nearest to the eye first.)
        let mut lookup = Lookup::default();
        if let Some(&k) = order.first() {
            lookup.count = 1;
            lookup.source[0] = k;
            lookup.at[0] = pixel;
            lookup.weight[0] = weight_of(0.0);
        }
        lookup
    }

    /// Where a ground point is read: the cameras whose view of it is closest to the eye's.
    /// Sources are tried nearest-to-the-eye first and the first two that see the point blend:
    /// a per-pixel search of every camera costs more than the ground is worth.
    fn ground_at(&self, eye: DVec3, point: DVec3, order: &[usize]) -> Option<Lookup> {
        let to_eye = (eye - point).normalize();
        let mut best = Best::default();
        for (k, s) in order.iter().map(|k| (*k, &self.sources[*k])) {
            if let Some(p) = s
                .projector
                .project(point)
                .filter(|p| s.source.camera.in_image(*p))
            {
                best.offer(to_eye.dot((s.centre - point).normalize()), k, p);
                if best.count == BLEND {
                    break;
                }
            }
        }
        (best.count > 0).then(|| Lookup::of(&best, BLEND))
    }
}

/// Where a background pixel is read: up to [`BLEND`] sources' plates, a position in each,
/// and the weight of each.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Lookup {
    count: usize,
    source: [usize; BLEND],
    at: [DVec2; BLEND],
    weight: [f64; BLEND],
}

impl Lookup {
    /// The first `take` samples a search kept.
    fn of(best: &Best, take: usize) -> Lookup {
        let mut lookup = Lookup::default();
        for (weight, k, p) in best.samples().take(take) {
            lookup.source[lookup.count] = k;
            lookup.at[lookup.count] = p;
            lookup.weight[lookup.count] = weight;
            lookup.count += 1;
        }
        lookup
    }

    /// The samples as (weight, source, position).
    fn samples(&self) -> impl Iterator<Item = (f64, usize, DVec2)> + '_ {
        (0..self.count).map(|i| (self.weight[i], self.source[i], self.at[i]))
    }

    /// Whether lookups read the same sources in the same order, so that they interpolate.
    fn same_sources(&self, other: &Lookup) -> bool {
        self.count == other.count && self.source[..self.count] == other.source[..other.count]
    }

    /// The bilinear blend of four lookups of the same sources (corners `[00, 10, 01, 11]`)
    /// at `(u, v)` in the unit square.
    fn interpolate(corners: [&Lookup; 4], u: f64, v: f64) -> Lookup {
        let k = [(1.0 - u) * (1.0 - v), u * (1.0 - v), (1.0 - u) * v, u * v];
        let mut out = *corners[0];
        for i in 0..out.count {
            out.at[i] = corners
                .iter()
                .zip(k)
                .map(|(c, k)| c.at[i] * k)
                .sum::<DVec2>();
            out.weight[i] = corners.iter().zip(k).map(|(c, k)| c.weight[i] * k).sum();
        }
        out
    }
}

/// A render's background lookups, exact on a lattice of [`LOOKUP_BLOCK`] pixels, and per
/// block whether interpolating between its corners stays exact enough.
struct Lattice {
    /// Blocks per row.
    blocks: usize,
    points: Vec<Lookup>,
    smooth: Vec<bool>,
}

impl Lattice {
    fn new(w: usize, h: usize, exact: &(impl Fn(f64, f64) -> Lookup + Sync)) -> Lattice {
        const B: usize = LOOKUP_BLOCK;
        let (bw, bh) = (w.div_ceil(B), h.div_ceil(B));
        let points: Vec<Lookup> = (0..=bh)
            .into_par_iter()
            .flat_map_iter(|j| (0..=bw).map(move |i| (i, j)))
            .map(|(i, j)| exact((i * B) as f64, (j * B) as f64))
            .collect();
        let smooth = (0..bw * bh)
            .into_par_iter()
            .map(|b| {
                let (i, j) = (b % bw, b / bw);
                let corners = block_corners(&points, bw, i, j);
                if !corners.iter().all(|c| c.same_sources(corners[0])) {
                    return false;
                }
                let centre = exact((i * B + B / 2) as f64, (j * B + B / 2) as f64);
                let guess = Lookup::interpolate(corners, 0.5, 0.5);
                centre.same_sources(&guess)
                    && (0..guess.count)
                        .all(|k| centre.at[k].distance_squared(guess.at[k]) <= LOOKUP_ERROR.powi(2))
            })
            .collect();
        Lattice {
            blocks: bw,
            points,
            smooth,
        }
    }

    /// The lookup of pixel `(x, y)`: interpolated in a smooth block, exact elsewhere.
    fn at(&self, x: usize, y: usize, exact: &impl Fn(f64, f64) -> Lookup) -> Lookup {
        const B: usize = LOOKUP_BLOCK;
        let (i, j) = (x / B, y / B);
        if !self.smooth[j * self.blocks + i] {
            return exact(x as f64, y as f64);
        }
        Lookup::interpolate(
            block_corners(&self.points, self.blocks, i, j),
            (x - i * B) as f64 / B as f64,
            (y - j * B) as f64 / B as f64,
        )
    }
}

/// The lattice points at the corners `[00, 10, 01, 11]` of block `(i, j)`, for `blocks`
/// blocks per row.
fn block_corners(points: &[Lookup], blocks: usize, i: usize, j: usize) -> [&Lookup; 4] {
    [(0, 0), (1, 0), (0, 1), (1, 1)].map(|(di, dj)| &points[(j + dj) * (blocks + 1) + i + di])
}

/// The [`BLEND`] best samples offered (a source's index and a position in its image), by
/// the cosine of their viewing angle (largest first).
#[derive(Default)]
struct Best {
    samples: [Option<(f64, usize, DVec2)>; BLEND],
    count: usize,
}

impl Best {
    /// Whether a sample at `cos` would be kept (so its projection is worth computing).
    fn would_take(&self, cos: f64) -> bool {
        self.count < BLEND || self.samples[BLEND - 1].is_some_and(|(c, _, _)| cos > c)
    }

    /// Whether a sample at `cos` would be the best so far.
    fn would_take_first(&self, cos: f64) -> bool {
        self.samples[0].is_none_or(|(c, _, _)| cos > c)
    }

    fn offer(&mut self, cos: f64, source: usize, p: DVec2) {
        let mut item = Some((cos, source, p));
        for slot in &mut self.samples {
            match (*slot, item) {
                (None, _) => {
                    *slot = item;
                    self.count += 1;
                    return;
                }
                (Some(held), Some(new)) if new.0 > held.0 => {
                    *slot = Some(new);
                    item = Some(held);
                }
                _ => {}
            }
        }
    }

    /// The kept samples as (blending weight, source, position), best first.
    fn samples(&self) -> impl Iterator<Item = (f64, usize, DVec2)> + '_ {
        self.samples
            .iter()
            .flatten()
            .map(|&(cos, source, p)| (weight_of(chord(cos)), source, p))
    }
}

/// The chord between two unit vectors whose angle has cosine `cos`: the angle itself for
/// the small angles that matter, without an arc cosine per pixel.
fn chord(cos: f64) -> f64 {
    (2.0 * (1.0 - cos.clamp(-1.0, 1.0))).sqrt()
}

/// A sample's blending weight: the inverse of its viewing angle.
fn weight_of(angle: f64) -> f64 {
    1.0 / (angle + 1e-3)
}

/// Blends colours sampled (weight, colour).
fn blend(samples: impl Iterator<Item = (f64, [f64; 3])>) -> [u8; 3] {
    let (mut sum, mut weight) = ([0.0f64; 3], 0.0);
    for (w, c) in samples {
        for k in 0..3 {
            sum[k] += c[k] * w;
        }
        weight += w;
    }
    if weight == 0.0 {
        return [0, 0, 0];
    }
    // Rounded (the cast saturates at 0 and 255).
    sum.map(|v| (v / weight + 0.5) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup of one source at `at`.
    fn one(source: usize, at: DVec2) -> Lookup {
        Lookup {
            count: 1,
            source: [source, 0],
            at: [at, DVec2::ZERO],
            weight: [1.0, 0.0],
        }
    }

    #[test]
    fn smooth_blocks_are_interpolated_and_seams_and_curves_computed_exactly() {
        // An affine map, read from source 0 left of x = 40 and from source 1 right of it.
        let seam = |x: f64, y: f64| one(usize::from(x >= 40.0), DVec2::new(2.0 * x + 1.0, 0.5 * y));
        let lattice = Lattice::new(80, 48, &seam);
        // Blocks of 16 pixels: the seam lies in the third column of blocks.
        for (b, smooth) in lattice.smooth.iter().enumerate() {
            assert_eq!(*smooth, b % 5 != 2, "block {b}");
        }
        for y in 0..48 {
            for x in 0..80 {
                let (got, want) = (lattice.at(x, y, &seam), seam(x as f64, y as f64));
                assert_eq!(got.source, want.source, "({x}, {y})");
                assert!(got.at[0].distance(want.at[0]) < 1e-9, "({x}, {y})");
            }
        }
        // A map that bends by more than a quarter pixel across a block is computed exactly.
        let curve = |x: f64, y: f64| one(0, DVec2::new(x * x / 20.0, y));
        let lattice = Lattice::new(64, 16, &curve);
        assert!(lattice.smooth.iter().all(|smooth| !smooth));
        assert_eq!(lattice.at(37, 5, &curve), curve(37.0, 5.0));
    }
}
