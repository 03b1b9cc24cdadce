//! Rendering one simulated camera: the clean background plate (snow or ice, markings, sky,
//! glare), then per frame the athlete with soft supersampled edges, the athlete's cast
//! shadow, spray, exposure flicker, sensor noise and camera shake.
//!
//! Nothing here tests every pixel against every capsule: each capsule's bounding sphere is
//! projected to a screen rectangle and only pixels there are traced; the background is the
//! precomputed plate plus cheap per-pixel effects.

use glam::{DMat3, DVec2, DVec3};
use rayon::prelude::*;

use super::Frame;
use super::athlete::{Athlete, Capsule};
use super::random::{hash, mix, stream, unit, value_noise};
use super::scene::{Field, Particle, Surface};
use crate::camera::Camera;
use crate::image::{Mask, RgbImage};

/// A camera with what pixel rays need precomputed.
struct Optics<'a> {
    camera: &'a Camera,
    kinv: DMat3,
    rt: DMat3,
    center: DVec3,
    focal: f64,
}

impl<'a> Optics<'a> {
    fn new(camera: &'a Camera) -> Self {
        Optics {
            camera,
            kinv: camera.k.inverse(),
            rt: camera.r.transpose(),
            center: camera.center(),
            focal: 0.5 * (camera.k.x_axis.x + camera.k.y_axis.y),
        }
    }

    /// The unit world direction of the ray through a pixel position.
    fn ray(&self, x: f64, y: f64) -> DVec3 {
        let n = self.kinv * DVec3::new(x, y, 1.0);
        let u = self
            .camera
            .distortion
            .remove(DVec2::new(n.x / n.z, n.y / n.z));
        (self.rt * u.extend(1.0)).normalize()
    }
}

/// A half-open pixel rectangle inside the image.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Rect {
    fn clip(min: DVec2, max: DVec2, margin: f64, width: usize, height: usize) -> Option<Rect> {
        let x0 = (min.x - margin).floor().max(0.0);
        let y0 = (min.y - margin).floor().max(0.0);
        let x1 = (max.x + margin).ceil() + 1.0;
        let y1 = (max.y + margin).ceil() + 1.0;
        let (x1, y1) = (x1.min(width as f64), y1.min(height as f64));
        (x0 < x1 && y0 < y1).then_some(Rect {
            x0: x0 as usize,
            y0: y0 as usize,
            x1: x1 as usize,
            y1: y1 as usize,
        })
    }

    fn union(self, o: Rect) -> Rect {
        Rect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    fn contains(&self, x: usize, y: usize) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }

    fn width(&self) -> usize {
        self.x1 - self.x0
    }
}

/// The pixels a sphere can cover: its conservative normalised-image box, distorted along
/// the box's outline, with a margin for the distortion's curvature.
fn sphere_rect(optics: &Optics<'_>, centre: DVec3, radius: f64) -> Option<Rect> {
    let cam = optics.camera;
    let (w, h) = (cam.width as usize, cam.height as usize);
    let c = cam.to_camera(centre);
    if c.z + radius <= 1e-6 {
        return None;
    }
    if c.z - radius <= 1e-3 {
        // Straddles the camera plane: anything may be covered.
        return Some(Rect {
            x0: 0,
            y0: 0,
            x1: w,
            y1: h,
        });
    }
    let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for z in [c.z - radius, c.z + radius] {
        for s in [-radius, radius] {
            let p = DVec2::new((c.x + s) / z, (c.y + s) / z);
            lo = lo.min(p);
            hi = hi.max(p);
        }
    }
    let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for i in 0..=4 {
        for j in 0..=4 {
            if i % 4 != 0 && j % 4 != 0 {
                continue;
            }
            let n = lo + (hi - lo) * DVec2::new(f64::from(i) / 4.0, f64::from(j) / 4.0);
            let p = cam.k * cam.distortion.apply(n).extend(1.0);
            min = min.min(p.truncate());
            max = max.max(p.truncate());
        }
    }
    Rect::clip(min, max, 2.0, w, h)
}

/// A per-camera layer of values over a rectangle (nominal pixel coordinates).
pub(crate) struct Layer {
    rect: Rect,
    values: Vec<f32>,
}

impl Layer {
    fn get(&self, x: i64, y: i64) -> f32 {
        let r = self.rect;
        if x < r.x0 as i64 || y < r.y0 as i64 || x >= r.x1 as i64 || y >= r.y1 as i64 {
            return 0.0;
        }
        self.values[(y as usize - r.y0) * r.width() + (x as usize - r.x0)]
    }
}

/// What a camera sees with nobody on the field, and where the glare lies.
pub(crate) struct Plate {
    pub image: RgbImage,
    glare: Option<Layer>,
}

/// How the field looks.
pub(crate) struct Look<'a> {
    pub surface: Surface,
    pub field: &'a Field,
    pub sun: DVec3,
    /// Glare strength (peak added brightness as a fraction of full scale).
    pub glare: f64,
    pub seed: u64,
}

const HAZE: [f64; 3] = [214.0, 224.0, 240.0];

fn sky(d: DVec3) -> [f64; 3] {
    let up = d.z.clamp(0.0, 1.0).sqrt();
    let zenith = [120.0, 165.0, 225.0];
    [0, 1, 2].map(|i| HAZE[i] + (zenith[i] - HAZE[i]) * up)
}

/// The ground's colour at `p`; `footprint` gives a pixel's size on the ground (metres) in a
/// ground direction, for anti-aliased markings.
fn ground(look: &Look<'_>, p: DVec2, footprint: impl Fn(DVec2) -> f64) -> [f64; 3] {
    let seed = hash(look.seed, &[stream::TEXTURE]);
    let mut c = match look.surface {
        Surface::Snow => {
            let n = 0.5 * value_noise(seed, p.x / 2.0, p.y / 2.0)
                + 0.3 * value_noise(seed ^ 1, p.x / 0.4, p.y / 0.4)
                + 0.2 * value_noise(seed ^ 2, p.x / 0.06, p.y / 0.06);
            let cell = mix(seed
                ^ mix((p.x / 0.03).floor() as i64 as u64)
                ^ (p.y / 0.03).floor() as i64 as u64);
            let sparkle = if unit(cell) < 0.004 { 18.0 } else { 0.0 };
            let o = 9.0 * n + sparkle;
            [236.0 + o, 241.0 + o, 250.0 + 0.7 * o]
        }
        Surface::Ice => {
            let n = 0.6 * value_noise(seed, p.x / 3.0, p.y / 3.0)
                + 0.4 * value_noise(seed ^ 3, p.x / 0.3, p.y / 0.3);
            let o = 4.0 * n;
            [205.0 + o, 222.0 + o, 238.0 + 0.5 * o]
        }
    };
    if let Some(half) = look.field.rink
        && (p.x.abs() > half.x || p.y.abs() > half.y)
    {
        // Boards and stands beyond the rink.
        let n = value_noise(seed ^ 4, p.x / 0.5, p.y / 0.5);
        return [70.0 + 15.0 * n, 78.0 + 15.0 * n, 95.0 + 15.0 * n];
    }
    for m in &look.field.markings {
        let ab = m.b - m.a;
        let t = ((p - m.a).dot(ab) / ab.length_squared()).clamp(0.0, 1.0);
        let dist = (p - (m.a + ab * t)).length();
        // How much of the pixel's footprint across the line the line covers (a box filter).
        let size = footprint(ab.perp().normalize()).max(1e-6);
        let cover = ((dist + 0.5 * size).min(m.half_width)
            - (dist - 0.5 * size).max(-m.half_width))
        .max(0.0)
            / size;
        if cover > 0.0 {
            for (ch, v) in c.iter_mut().enumerate() {
                *v += (f64::from(m.colour[ch]) - *v) * m.opacity * cover.min(1.0);
            }
        }
    }
    c
}

/// The sun's reflection in ice: a sharp core and a broad sheen around the mirror direction.
fn glare_lobe(d: DVec3, sun: DVec3) -> f64 {
    let mirrored = DVec3::new(d.x, d.y, -d.z);
    let theta2 = 2.0 * (1.0 - mirrored.dot(sun)).max(0.0);
    0.8 * (-theta2 / (0.035f64 * 0.035)).exp() + 0.3 * (-theta2 / (0.14f64 * 0.14)).exp()
}

/// Renders a camera's background plate, glare included at its nominal strength.
pub(crate) fn plate(camera: &Camera, look: &Look<'_>) -> Plate {
    let optics = Optics::new(camera);
    let (w, h) = (camera.width as usize, camera.height as usize);
    let glare = look.surface == Surface::Ice && look.glare > 0.0;
    let mut data = vec![0u8; w * h * 3];
    let mut lobe = vec![0f32; if glare { w * h } else { 0 }];
    let rows = data.par_chunks_mut(w * 3).enumerate();
    let lobe_rows: Vec<&mut [f32]> = if glare {
        lobe.chunks_mut(w).collect()
    } else {
        (0..h).map(|_| &mut [][..]).collect()
    };
    rows.zip(lobe_rows).for_each(|((y, row), lobe_row)| {
        for x in 0..w {
            let d = optics.ray(x as f64, y as f64);
            let (colour, l) = if d.z >= -1e-4 {
                (sky(d), 0.0)
            } else {
                let t = -optics.center.z / d.z;
                let g = optics.center + d * t;
                // A pixel spans t / f across the ray, stretched by 1 / |d.z| along it.
                let across = t / optics.focal;
                let along = d.truncate().normalize_or_zero();
                let footprint = |n: DVec2| {
                    let (a, b) = (n.dot(along), n.perp_dot(along));
                    ((a * across / d.z.abs()).powi(2) + (b * across).powi(2)).sqrt()
                };
                let mut c = ground(look, g.truncate(), footprint);
                // Atmospheric haze far away.
                let fog = if t > 40.0 {
                    1.0 - (-(t - 40.0) / 80.0).exp()
                } else {
                    0.0
                };
                for (ch, v) in c.iter_mut().enumerate() {
                    *v += (HAZE[ch] - *v) * fog;
                }
                let l = if glare { glare_lobe(d, look.sun) } else { 0.0 };
                (c, l)
            };
            let add = l * look.glare * 255.0;
            for ch in 0..3 {
                row[x * 3 + ch] = (colour[ch] + add).round().clamp(0.0, 255.0) as u8;
            }
            if glare {
                lobe_row[x] = (l * look.glare * 255.0) as f32;
            }
        }
    });
    let glare = glare.then(|| crop(&lobe, w, h, 0.5)).flatten();
    Plate {
        image: RgbImage::new(camera.width, camera.height, data).expect("plate size"),
        glare,
    }
}

/// The smallest layer holding every value above `floor`.
fn crop(values: &[f32], w: usize, h: usize, floor: f32) -> Option<Layer> {
    let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for y in 0..h {
        for x in 0..w {
            if values[y * w + x] > floor {
                let p = DVec2::new(x as f64, y as f64);
                min = min.min(p);
                max = max.max(p);
            }
        }
    }
    let rect = Rect::clip(min, max, 0.0, w, h)?;
    let mut out = Vec::with_capacity(rect.width() * (rect.y1 - rect.y0));
    for y in rect.y0..rect.y1 {
        out.extend_from_slice(&values[y * w + rect.x0..y * w + rect.x1]);
    }
    Some(Layer { rect, values: out })
}

/// Everything that differs from frame to frame for one camera.
pub(crate) struct Shot<'a> {
    /// The camera as it really is this frame (the nominal one, shaken).
    pub camera: &'a Camera,
    pub plate: &'a Plate,
    /// How far the image moved: the true principal point minus the nominal one.
    pub shift: DVec2,
    pub athlete: Option<&'a Athlete>,
    pub particles: &'a [Particle],
    pub sun: DVec3,
    /// How much the shadow darkens the ground, 0 to 1.
    pub shadow: f64,
    /// Glare brightness this frame relative to the plate's (0: as in the plate).
    pub glare_delta: f32,
    /// Exposure gain.
    pub gain: f32,
    /// Standard deviation of the sensor noise in 8-bit levels.
    pub noise: f32,
    pub noise_key: u64,
    /// Standard normal numbers, 4096 of them.
    pub table: &'a [f32],
}

/// The athlete over a rectangle: coverage, colour and distance from the camera.
struct Sprite {
    rect: Rect,
    alpha: Vec<f32>,
    colour: Vec<[f32; 3]>,
    depth: Vec<f32>,
}

fn shade(colour: [u8; 3], normal: DVec3, sun: DVec3) -> [f32; 3] {
    let light = 0.5 + 0.15 * normal.z + 0.6 * normal.dot(sun).max(0.0);
    colour.map(|c| (f64::from(c) * light).min(255.0) as f32)
}

/// Where a ray passes closest to a capsule's axis: (distance along the ray, distance apart).
fn approach(c: &Capsule, o: DVec3, d: DVec3) -> (f64, f64) {
    let u = c.b - c.a;
    let w = c.a - o;
    let (bq, cc, dd, e) = (d.dot(u), u.dot(u), d.dot(w), u.dot(w));
    let denom = cc - bq * bq;
    let t = if denom > 1e-12 * cc.max(1e-12) {
        ((dd * bq - e) / denom).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let s = dd + t * bq;
    (s, (o + d * s - (c.a + u * t)).length())
}

fn sprite(optics: &Optics<'_>, athlete: &Athlete, sun: DVec3) -> Option<Sprite> {
    let rects: Vec<Option<Rect>> = athlete
        .parts
        .iter()
        .map(|p| {
            let c = p.capsule;
            sphere_rect(
                optics,
                (c.a + c.b) * 0.5,
                0.5 * (c.b - c.a).length() + c.radius,
            )
        })
        .collect();
    let rect = rects.iter().flatten().copied().reduce(Rect::union)?;
    let (w, h) = (rect.width(), rect.y1 - rect.y0);
    let mut alpha = vec![0f32; w * h];
    let mut colour = vec![[0f32; 3]; w * h];
    let mut depth = vec![f32::INFINITY; w * h];
    // Half the angular size of a pixel's diagonal, with some room for lens distortion.
    let footprint = 0.8 / optics.focal;
    let origin = optics.center;
    let parts = &athlete.parts;
    alpha
        .par_chunks_mut(w)
        .zip(colour.par_chunks_mut(w))
        .zip(depth.par_chunks_mut(w))
        .enumerate()
        .for_each(|(row, ((alpha, colour), depth))| {
            let y = rect.y0 + row;
            let on_row: Vec<usize> = (0..parts.len())
                .filter(|i| rects[*i].is_some_and(|r| y >= r.y0 && y < r.y1))
                .collect();
            let mut candidates = Vec::with_capacity(on_row.len());
            for x in rect.x0..rect.x1 {
                candidates.clear();
                candidates.extend(
                    on_row
                        .iter()
                        .copied()
                        .filter(|i| rects[*i].is_some_and(|r| r.contains(x, y))),
                );
                if candidates.is_empty() {
                    continue;
                }
                let d = optics.ray(x as f64, y as f64);
                let (mut inside, mut edge) = (false, false);
                for &i in &candidates {
                    let c = &parts[i].capsule;
                    let (s, dist) = approach(c, origin, d);
                    if s <= 0.0 {
                        continue;
                    }
                    let rho = footprint * s;
                    if dist <= c.radius - rho {
                        inside = true;
                    } else if dist < c.radius + rho {
                        edge = true;
                    }
                }
                let k = x - rect.x0;
                if inside && let Some((t, rgb)) = nearest(parts, &candidates, origin, d, sun) {
                    alpha[k] = 1.0;
                    colour[k] = rgb;
                    depth[k] = t as f32;
                    continue;
                }
                if !(inside || edge) {
                    continue;
                }
                // An edge: 4 x 4 samples over the pixel.
                let (mut hits, mut sum, mut near) = (0u32, [0f32; 3], f64::INFINITY);
                for j in 0..4 {
                    for i in 0..4 {
                        let sx = x as f64 + (f64::from(i) - 1.5) * 0.25;
                        let sy = y as f64 + (f64::from(j) - 1.5) * 0.25;
                        let d = optics.ray(sx, sy);
                        if let Some((t, rgb)) = nearest(parts, &candidates, origin, d, sun) {
                            hits += 1;
                            for ch in 0..3 {
                                sum[ch] += rgb[ch];
                            }
                            near = near.min(t);
                        }
                    }
                }
                if hits > 0 {
                    alpha[k] = hits as f32 / 16.0;
                    colour[k] = sum.map(|v| v / hits as f32);
                    depth[k] = near as f32;
                }
            }
        });
    Some(Sprite {
        rect,
        alpha,
        colour,
        depth,
    })
}

/// How much of each pixel the athlete covers, and where that is at least half.
pub(crate) fn coverage(camera: &Camera, athlete: &Athlete, sun: DVec3) -> (Vec<f32>, Mask) {
    let (w, h) = (camera.width as usize, camera.height as usize);
    let mut alpha = vec![0f32; w * h];
    if let Some(s) = sprite(&Optics::new(camera), athlete, sun) {
        for (row, values) in s.alpha.chunks(s.rect.width()).enumerate() {
            let start = (s.rect.y0 + row) * w + s.rect.x0;
            alpha[start..start + values.len()].copy_from_slice(values);
        }
    }
    let data = alpha.iter().map(|a| *a >= 0.5).collect();
    let mask = Mask {
        width: camera.width,
        height: camera.height,
        data,
    };
    (alpha, mask)
}

/// The nearest hit among some parts: distance and shaded colour.
fn nearest(
    parts: &[super::athlete::Part],
    candidates: &[usize],
    origin: DVec3,
    d: DVec3,
    sun: DVec3,
) -> Option<(f64, [f32; 3])> {
    let mut best: Option<(f64, usize)> = None;
    for &i in candidates {
        if let Some(t) = parts[i].capsule.intersect(origin, d)
            && best.is_none_or(|(b, _)| t < b)
        {
            best = Some((t, i));
        }
    }
    let (t, i) = best?;
    let normal = parts[i].capsule.normal(origin + d * t);
    Some((t, shade(parts[i].colour, normal, sun)))
}

/// Which ground pixels lie in the athlete's shadow (1) or not (0).
fn shadow_layer(optics: &Optics<'_>, athlete: &Athlete, sun: DVec3) -> Option<Layer> {
    if sun.z < 0.05 {
        return None;
    }
    let cam = optics.camera;
    let (w, h) = (cam.width as usize, cam.height as usize);
    // Each part's shadow on the ground, as a box.
    let along = |p: DVec3| (p - sun * (p.z / sun.z)).truncate();
    let boxes: Vec<(DVec2, DVec2)> = athlete
        .parts
        .iter()
        .map(|p| {
            let c = p.capsule;
            let pad = DVec2::splat(c.radius / sun.z);
            let (a, b) = (along(c.a), along(c.b));
            (a.min(b) - pad, a.max(b) + pad)
        })
        .collect();
    let (lo, hi) = boxes.iter().fold(
        (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY)),
        |(l, u), b| (l.min(b.0), u.max(b.1)),
    );
    // Project a grid over the box. Ground points behind the camera, or far outside its
    // view where the distortion polynomial folds back, bound nothing; the ground near the
    // camera plane lies towards the bottom of the image, so then the rectangle runs to
    // the bottom edge across the whole width.
    let (mut min, mut max) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    let (mut wide, mut ahead) = (false, false);
    for i in 0..=4 {
        for j in 0..=4 {
            let g = lo + (hi - lo) * DVec2::new(f64::from(i) / 4.0, f64::from(j) / 4.0);
            let c = cam.to_camera(g.extend(0.0));
            ahead |= c.z > 0.0;
            if c.z <= 0.05 || c.x.hypot(c.y) > 1.5 * c.z {
                wide = true;
                continue;
            }
            let p = cam.project(g.extend(0.0)).expect("in front of the camera");
            min = min.min(p);
            max = max.max(p);
        }
    }
    if !ahead {
        return None;
    }
    let rect = if wide {
        let top = if min.y.is_finite() { min.y } else { 0.0 };
        Rect::clip(
            DVec2::new(0.0, top),
            DVec2::new(w as f64, h as f64),
            2.0,
            w,
            h,
        )?
    } else {
        Rect::clip(min, max, 2.0, w, h)?
    };
    let mut values = vec![0f32; rect.width() * (rect.y1 - rect.y0)];
    let parts = &athlete.parts;
    values
        .par_chunks_mut(rect.width())
        .enumerate()
        .for_each(|(row, out)| {
            let y = (rect.y0 + row) as f64;
            for (k, v) in out.iter_mut().enumerate() {
                let d = optics.ray((rect.x0 + k) as f64, y);
                if d.z >= -1e-6 {
                    continue;
                }
                let g = optics.center + d * (-optics.center.z / d.z);
                let g2 = g.truncate();
                if g2.cmplt(lo).any() || g2.cmpgt(hi).any() {
                    continue;
                }
                let dark = parts.iter().zip(&boxes).any(|(p, b)| {
                    g2.cmpge(b.0).all()
                        && g2.cmple(b.1).all()
                        && p.capsule.intersect(g, sun).is_some()
                });
                if dark {
                    *v = 1.0;
                }
            }
        });
    Some(Layer { rect, values })
}

/// A particle of spray on screen.
struct Splat {
    x: f64,
    y: f64,
    radius: f64,
    opacity: f32,
    depth: f32,
}

fn splats(optics: &Optics<'_>, particles: &[Particle]) -> Vec<Splat> {
    let cam = optics.camera;
    let (w, h) = (f64::from(cam.width), f64::from(cam.height));
    particles
        .iter()
        .filter_map(|p| {
            let z = cam.to_camera(p.position).z;
            let q = cam.project(p.position)?;
            let radius = optics.focal * p.radius / z;
            let m = radius + 1.0;
            if q.x < -m || q.y < -m || q.x > w + m || q.y > h + m {
                return None;
            }
            Some(Splat {
                x: q.x,
                y: q.y,
                radius,
                opacity: p.opacity as f32,
                depth: (p.position - optics.center).length() as f32,
            })
        })
        .collect()
}

const SPRAY: [f32; 3] = [250.0, 251.0, 255.0];

/// Renders one frame of one camera.
pub(crate) fn render(shot: &Shot<'_>) -> Frame {
    let cam = shot.camera;
    let optics = Optics::new(cam);
    let (w, h) = (cam.width as usize, cam.height as usize);
    let sprite = shot.athlete.and_then(|a| sprite(&optics, a, shot.sun));
    let shadow = match shot.athlete {
        Some(a) if shot.shadow > 0.0 => shadow_layer(&optics, a, shot.sun),
        _ => None,
    };
    let splats = splats(&optics, shot.particles);
    let plate = &shot.plate.image.data;
    // The plate moves with the image: true pixel p shows what nominal pixel p - shift did.
    let moved = shot.shift != DVec2::ZERO;
    let (ox, oy) = ((-shot.shift.x).floor(), (-shot.shift.y).floor());
    let (fx, fy) = ((-shot.shift.x - ox) as f32, (-shot.shift.y - oy) as f32);
    let (ox, oy) = (ox as i64, oy as i64);
    let clamp_x = |x: i64| x.clamp(0, w as i64 - 1) as usize;
    let clamp_y = |y: i64| y.clamp(0, h as i64 - 1) as usize;
    let columns: Vec<(usize, usize)> = (0..w as i64)
        .map(|x| (clamp_x(x + ox) * 3, clamp_x(x + ox + 1) * 3))
        .collect();
    let (gx, gy) = (
        (-shot.shift.x).round() as i64,
        (-shot.shift.y).round() as i64,
    );
    let shade = [1.0, 0.92, 0.75].map(|k| 1.0 - (shot.shadow * k) as f32);

    let mut data = vec![0u8; w * h * 3];
    let mut alpha = vec![0f32; w * h];
    let mut mask = vec![false; w * h];
    data.par_chunks_mut(w * 3)
        .zip(alpha.par_chunks_mut(w))
        .zip(mask.par_chunks_mut(w))
        .enumerate()
        .for_each_init(
            || vec![0f32; w * 3],
            |row, (y, ((out, alpha), mask))| {
                // Background.
                if moved {
                    let (ya, yb) = (
                        clamp_y(y as i64 + oy) * w * 3,
                        clamp_y(y as i64 + oy + 1) * w * 3,
                    );
                    let (w00, w10) = ((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy));
                    let (w01, w11) = ((1.0 - fx) * fy, fx * fy);
                    for (x, &(xa, xb)) in columns.iter().enumerate() {
                        for ch in 0..3 {
                            row[x * 3 + ch] = w00 * f32::from(plate[ya + xa + ch])
                                + w10 * f32::from(plate[ya + xb + ch])
                                + w01 * f32::from(plate[yb + xa + ch])
                                + w11 * f32::from(plate[yb + xb + ch]);
                        }
                    }
                } else {
                    for (v, p) in row.iter_mut().zip(&plate[y * w * 3..(y + 1) * w * 3]) {
                        *v = f32::from(*p);
                    }
                }
                // Glare brighter or dimmer than in the plate.
                if shot.glare_delta != 0.0
                    && let Some(layer) = &shot.plate.glare
                {
                    let ny = y as i64 + gy;
                    if ny >= layer.rect.y0 as i64 && ny < layer.rect.y1 as i64 {
                        for x in 0..w {
                            let g = layer.get(x as i64 + gx, ny) * shot.glare_delta;
                            if g != 0.0 {
                                for ch in 0..3 {
                                    row[x * 3 + ch] += g;
                                }
                            }
                        }
                    }
                }
                // The athlete's shadow on the ground.
                if let Some(layer) = &shadow
                    && y >= layer.rect.y0
                    && y < layer.rect.y1
                {
                    let base = (y - layer.rect.y0) * layer.rect.width();
                    for x in layer.rect.x0..layer.rect.x1 {
                        if layer.values[base + x - layer.rect.x0] > 0.0 {
                            for ch in 0..3 {
                                row[x * 3 + ch] *= shade[ch];
                            }
                        }
                    }
                }
                // The athlete.
                let on_row = sprite
                    .as_ref()
                    .filter(|s| y >= s.rect.y0 && y < s.rect.y1)
                    .map(|s| (s, (y - s.rect.y0) * s.rect.width()));
                if let Some((s, base)) = on_row {
                    for x in s.rect.x0..s.rect.x1 {
                        let k = base + x - s.rect.x0;
                        let a = s.alpha[k];
                        if a > 0.0 {
                            for ch in 0..3 {
                                row[x * 3 + ch] += (s.colour[k][ch] - row[x * 3 + ch]) * a;
                            }
                            alpha[x] = a;
                            mask[x] = a >= 0.5;
                        }
                    }
                }
                // The athlete's depth and coverage at a pixel of this row.
                let athlete_at = |x: usize| match on_row {
                    Some((s, base)) if x >= s.rect.x0 && x < s.rect.x1 => {
                        let k = base + x - s.rect.x0;
                        (s.depth[k], s.alpha[k])
                    }
                    _ => (f32::INFINITY, 0.0),
                };
                // Spray: in front of the athlete it covers them; behind, it shows only
                // where the athlete does not cover the pixel.
                let yf = y as f64;
                for s in &splats {
                    if (yf - s.y).abs() > s.radius + 1.0 {
                        continue;
                    }
                    let x0 = (s.x - s.radius - 1.0).floor().max(0.0) as usize;
                    let x1 = ((s.x + s.radius + 1.0).ceil() as usize + 1).min(w);
                    for x in x0..x1 {
                        let dist = ((x as f64 - s.x).powi(2) + (yf - s.y).powi(2)).sqrt();
                        let cover = if s.radius >= 0.5 {
                            (s.radius + 0.5 - dist).clamp(0.0, 1.0)
                        } else if dist < 0.5 {
                            std::f64::consts::PI * s.radius * s.radius
                        } else {
                            0.0
                        };
                        if cover <= 0.0 {
                            continue;
                        }
                        let mut a = s.opacity * cover as f32;
                        let (depth, covered) = athlete_at(x);
                        if s.depth > depth {
                            a *= 1.0 - covered;
                        }
                        for ch in 0..3 {
                            row[x * 3 + ch] += (SPRAY[ch] - row[x * 3 + ch]) * a;
                        }
                    }
                }
                // Exposure, sensor noise, quantisation (adding 0.5 and truncating rounds
                // the non-negative values that survive the clamp).
                if shot.noise > 0.0 {
                    for (x, (out, row)) in
                        out.chunks_exact_mut(3).zip(row.chunks_exact(3)).enumerate()
                    {
                        let n = mix(shot.noise_key ^ (y * w + x) as u64);
                        for ch in 0..3 {
                            let g = shot.table[((n >> (12 * ch)) & 4095) as usize];
                            out[ch] = (row[ch] * shot.gain + shot.noise * g + 0.5).clamp(0.0, 255.0)
                                as u8;
                        }
                    }
                } else {
                    for (out, v) in out.iter_mut().zip(row.iter()) {
                        *out = (v * shot.gain + 0.5).clamp(0.0, 255.0) as u8;
                    }
                }
            },
        );
    Frame {
        image: RgbImage::new(cam.width, cam.height, data).expect("frame size"),
        alpha,
        mask: Mask {
            width: cam.width,
            height: cam.height,
            data: mask,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Distortion;
    use crate::sim::scene::{Scene, Script};

    /// Cameras with strong barrel distortion, and the aerialist high in the air.
    fn setup() -> (Vec<Camera>, Athlete, DVec3) {
        let scene = Scene::Aerials;
        let mut cameras = scene.rig(6, 160, 90).cameras;
        for c in &mut cameras {
            c.distortion = Distortion {
                k1: -0.08,
                k2: 0.01,
                p1: 0.001,
                p2: -0.001,
                k3: 0.0,
            };
        }
        let (athlete, _) = Script::new(scene, [200, 0, 0], 1).athlete(0.7);
        (cameras, athlete, scene.sun())
    }

    #[test]
    fn culling_misses_no_pixel_of_the_athlete() {
        let (cameras, athlete, sun) = setup();
        for cam in &cameras {
            let optics = Optics::new(cam);
            let sprite = sprite(&optics, &athlete, sun).expect("the athlete is in view");
            let mut hits = 0;
            for y in 0..90 {
                for x in 0..160 {
                    let ray = optics.ray(x as f64, y as f64);
                    if athlete.intersect(optics.center, ray).is_some() {
                        hits += 1;
                        assert!(sprite.rect.contains(x, y), "{} ({x}, {y})", cam.name);
                        let k = (y - sprite.rect.y0) * sprite.rect.width() + x - sprite.rect.x0;
                        assert!(sprite.alpha[k] > 0.0, "{} ({x}, {y})", cam.name);
                    }
                }
            }
            assert!(hits > 0);
        }
    }

    #[test]
    fn culling_misses_no_pixel_of_the_shadow() {
        let (cameras, athlete, sun) = setup();
        let mut shadowed = 0;
        for cam in &cameras {
            let optics = Optics::new(cam);
            let layer = shadow_layer(&optics, &athlete, sun);
            for y in 0..90 {
                for x in 0..160 {
                    let d = optics.ray(x as f64, y as f64);
                    if d.z >= 0.0 {
                        continue;
                    }
                    let g = optics.center + d * (-optics.center.z / d.z);
                    if athlete.intersect(g, sun).is_some() {
                        shadowed += 1;
                        let layer = layer.as_ref().expect("a shadow in view");
                        assert_eq!(layer.get(x, y), 1.0, "{} ({x}, {y})", cam.name);
                    }
                }
            }
        }
        assert!(shadowed > 0);
    }
}
