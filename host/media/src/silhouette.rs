//! Silhouettes from images of a bright subject on a dark background, by threshold and
//! morphological closing with Euclidean disks (the recipe of the Middlebury data's authors).

use crate::image::{Mask, RgbImage, luma};

/// How to extract a silhouette.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Luminance threshold, 0 to 1.
    pub threshold: f64,
    /// Dilation radius in pixels.
    pub dilate: f64,
    /// Erosion radius in pixels, applied after the dilation.
    pub erode: f64,
}

impl Recipe {
    /// The Middlebury authors' recipe: threshold 0.19, dilate 10 px, erode 7 px.
    pub const MIDDLEBURY: Recipe = Recipe {
        threshold: 0.19,
        dilate: 10.0,
        erode: 7.0,
    };

    /// Extracts the silhouette of `image`.
    pub fn apply(&self, image: &RgbImage) -> Mask {
        let limit = self.threshold * 255.0;
        let data = image
            .data
            .chunks_exact(3)
            .map(|p| f64::from(luma([f32::from(p[0]), f32::from(p[1]), f32::from(p[2])])) > limit)
            .collect();
        let mask = Mask {
            width: image.width,
            height: image.height,
            data,
        };
        erode(&dilate(&mask, self.dilate), self.erode)
    }
}

/// Sets every pixel within `radius` (Euclidean) of a set pixel.
pub fn dilate(mask: &Mask, radius: f64) -> Mask {
    if radius <= SMALL {
        return by_disk(mask, radius, true);
    }
    let distance = squared_distance_to(mask, true);
    let r2 = radius * radius;
    Mask {
        width: mask.width,
        height: mask.height,
        data: distance.iter().map(|d| *d <= r2).collect(),
    }
}

/// Clears every pixel within `radius` (Euclidean) of a clear pixel.
pub fn erode(mask: &Mask, radius: f64) -> Mask {
    if radius <= SMALL {
        return by_disk(mask, radius, false);
    }
    let distance = squared_distance_to(mask, false);
    let r2 = radius * radius;
    Mask {
        width: mask.width,
        height: mask.height,
        data: distance.iter().map(|d| *d > r2).collect(),
    }
}

/// Radii up to this are applied with the disk's offsets directly, cheaper than the distance
/// transform for the few pixels such a disk holds.
const SMALL: f64 = 3.0;

/// Dilation (`set`: a pixel is set if any pixel of the disk around it is) or erosion (`!set`:
/// it stays set only if every pixel of the disk inside the image is) by a small disk. Rows are
/// packed 64 pixels to a word (1 where a pixel has the value looked for), each row is widened
/// by the disk's half-width at every row offset, and the offset rows are or-ed together.
fn by_disk(mask: &Mask, radius: f64, set: bool) -> Mask {
    let (w, h) = (mask.width as usize, mask.height as usize);
    if w == 0 || h == 0 {
        return mask.clone();
    }
    let r = radius.floor() as usize;
    // The disk's half-width at row offset dy.
    let half: Vec<usize> = (0..=r)
        .map(|dy| {
            let rest = radius * radius - (dy * dy) as f64;
            (0..=r)
                .rev()
                .find(|dx| (dx * dx) as f64 <= rest)
                .unwrap_or(0)
        })
        .collect();
    let words = w.div_ceil(64);
    let mut packed = vec![0u64; words * h];
    for (row, bits) in mask
        .data
        .chunks_exact(w)
        .zip(packed.chunks_exact_mut(words))
    {
        for (x, v) in row.iter().enumerate() {
            bits[x / 64] |= u64::from(*v == set) << (x % 64);
        }
    }
    // Each row widened by every half-width the disk has, indexed by half-width.
    let mut widened: Vec<Vec<u64>> = vec![Vec::new(); r + 1];
    for &k in &half {
        if widened[k].is_empty() {
            widened[k] = vec![0; packed.len()];
            for (row, out) in packed
                .chunks_exact(words)
                .zip(widened[k].chunks_exact_mut(words))
            {
                widen(row, k, out);
            }
        }
    }
    let mut data = vec![!set; w * h];
    let mut acc = vec![0u64; words];
    for y in 0..h {
        acc.fill(0);
        for (dy, &k) in half.iter().enumerate() {
            for yy in [y.checked_sub(dy), (dy > 0).then_some(y + dy)]
                .into_iter()
                .flatten()
                .filter(|yy| *yy < h)
            {
                for (a, b) in acc
                    .iter_mut()
                    .zip(&widened[k][yy * words..(yy + 1) * words])
                {
                    *a |= b;
                }
            }
        }
        for (x, out) in data[y * w..(y + 1) * w].iter_mut().enumerate() {
            if acc[x / 64] >> (x % 64) & 1 == 1 {
                *out = set;
            }
        }
    }
    Mask {
        width: mask.width,
        height: mask.height,
        data,
    }
}

/// Writes into `out` a packed row with every 1 spread `k` pixels to each side (bits past the
/// row's end may be set; they are never read).
fn widen(row: &[u64], k: usize, out: &mut [u64]) {
    out.copy_from_slice(row);
    for s in 1..=k.min(63) {
        for j in 0..row.len() {
            let below = if j > 0 { row[j - 1] >> (64 - s) } else { 0 };
            let above = if j + 1 < row.len() {
                row[j + 1] << (64 - s)
            } else {
                0
            };
            out[j] |= row[j] << s | below | row[j] >> s | above;
        }
    }
}

/// The squared Euclidean distance of each pixel to the nearest pixel whose value is
/// `target` (Felzenszwalb and Huttenlocher's separable transform, exact, linear time).
fn squared_distance_to(mask: &Mask, target: bool) -> Vec<f64> {
    let (w, h) = (mask.width as usize, mask.height as usize);
    const FAR: f64 = 1e20;
    let mut grid: Vec<f64> = mask
        .data
        .iter()
        .map(|v| if *v == target { 0.0 } else { FAR })
        .collect();
    let mut line = vec![0.0; w.max(h)];
    let mut out = vec![0.0; w.max(h)];
    for x in 0..w {
        for y in 0..h {
            line[y] = grid[y * w + x];
        }
        transform_1d(&line[..h], &mut out[..h]);
        for y in 0..h {
            grid[y * w + x] = out[y];
        }
    }
    for y in 0..h {
        line[..w].copy_from_slice(&grid[y * w..(y + 1) * w]);
        transform_1d(&line[..w], &mut out[..w]);
        grid[y * w..(y + 1) * w].copy_from_slice(&out[..w]);
    }
    grid
}

/// One-dimensional squared distance transform of a sampled function (lower envelope of parabolas).
fn transform_1d(f: &[f64], d: &mut [f64]) {
    let n = f.len();
    if n == 0 {
        return;
    }
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    let mut k = 0usize;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in 1..n {
        let intersect = |p: usize| {
            ((f[q] + (q * q) as f64) - (f[p] + (p * p) as f64)) / (2.0 * (q as f64 - p as f64))
        };
        let mut s = intersect(v[k]);
        while s <= z[k] {
            k -= 1;
            s = intersect(v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    k = 0;
    for (q, out) in d.iter_mut().enumerate() {
        while z[k + 1] < q as f64 {
            k += 1;
        }
        let dq = q as f64 - v[k] as f64;
        *out = dq * dq + f[v[k]];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilation_and_erosion_use_euclidean_disks() {
        let mut mask = Mask::empty(21, 21);
        mask.set(10, 10, true);
        let disk = dilate(&mask, 3.0);
        // A disk of radius 3: 29 pixels (the lattice points within distance 3).
        assert_eq!(disk.count(), 29);
        assert!(disk.get(13, 10) && disk.get(12, 12) && !disk.get(13, 12));
        assert_eq!(erode(&disk, 3.0).count(), 1);
        assert_eq!(erode(&disk, 3.0).data, mask.data);
    }

    #[test]
    fn small_disks_give_what_the_distance_transform_gives() {
        // Wider than a word, so bits cross from word to word.
        let mut mask = Mask::empty(150, 30);
        for (i, v) in mask.data.iter_mut().enumerate() {
            *v = (i * 2_654_435_761) % 7 < 3;
        }
        for radius in [1.0, 1.5, 2.0, 2.5, 3.0] {
            for set in [true, false] {
                let distance = squared_distance_to(&mask, set);
                let expected: Vec<bool> = distance
                    .iter()
                    .map(|d| {
                        if set {
                            *d <= radius * radius
                        } else {
                            *d > radius * radius
                        }
                    })
                    .collect();
                assert_eq!(by_disk(&mask, radius, set).data, expected, "{radius} {set}");
            }
        }
    }

    #[test]
    fn the_recipe_thresholds_luminance_then_closes() {
        let mut data = vec![0u8; 20 * 10 * 3];
        for x in 2..18 {
            if x != 9 {
                let i = (5 * 20 + x) * 3;
                data[i..i + 3].copy_from_slice(&[200, 200, 200]);
            }
        }
        let image = RgbImage::new(20, 10, data).unwrap();
        let mask = Recipe {
            threshold: 0.19,
            dilate: 2.0,
            erode: 1.0,
        }
        .apply(&image);
        assert!(mask.get(9, 5), "the one-pixel gap is closed");
        assert!(mask.get(1, 5) && !mask.get(0, 5), "net growth of one pixel");
    }
}
