//! Silhouettes from images of a bright subject on a dark background, by threshold and
//! morphological closing with Euclidean disks (the recipe of the Middlebury data's authors),
//! and cleaning by area: specks dropped, holes filled.

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

/// Clears every 8-connected group of set pixels smaller than `min_area` pixels: specks
/// (noise, a spray particle) go, while a thin limb or a ski, however narrow, stays whole.
pub fn drop_specks(mask: &Mask, min_area: usize) -> Mask {
    flip_small(mask, true, min_area)
}

/// Sets every 4-connected group of clear pixels smaller than `max_area` pixels that the set
/// pixels enclose (it does not touch the border): holes are filled, while a notch between two
/// limbs, open to the outside, stays clear.
pub fn fill_holes(mask: &Mask, max_area: usize) -> Mask {
    flip_small(mask, false, max_area)
}

/// Flips each connected group of pixels of `value` smaller than `area`: set groups
/// 8-connected, anywhere; clear groups 4-connected (the dual of 8), only those away from the
/// border. Groups are found as runs of a row joined to the runs they touch in the next row
/// (union-find), so the large group around the athlete costs one pass over its rows.
fn flip_small(mask: &Mask, value: bool, area: usize) -> Mask {
    let (w, h) = (mask.width as usize, mask.height as usize);
    let mut out = mask.clone();
    if area <= 1 || w == 0 {
        return out;
    }
    // Every row's runs of `value` (the row, and `[start, end)` in it); row `y`'s are
    // `runs[first[y]..first[y + 1]]`.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut first = Vec::with_capacity(h + 1);
    for (y, row) in mask.data.chunks_exact(w).enumerate() {
        first.push(runs.len());
        let mut x = 0;
        while let Some(skip) = row[x..].iter().position(|&v| v == value) {
            let start = x + skip;
            x = start
                + row[start..]
                    .iter()
                    .position(|&v| v != value)
                    .unwrap_or(w - start);
            runs.push((y, start, x));
        }
    }
    first.push(runs.len());
    // Diagonal neighbours join set pixels, not clear ones: runs of rows next to each other
    // touch where they overlap, or for set pixels also where they meet at a corner.
    let reach = usize::from(value);
    let mut parent: Vec<usize> = (0..runs.len()).collect();
    for y in 1..h {
        let (mut a, mut b) = (first[y - 1], first[y]);
        while a < first[y] && b < first[y + 1] {
            let ((_, al, ar), (_, bl, br)) = (runs[a], runs[b]);
            if al < br + reach && bl < ar + reach {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
            // The run that ends first touches no later run of the other row.
            if ar < br {
                a += 1;
            } else {
                b += 1;
            }
        }
    }
    // Each group's size and whether it touches the border, kept at its root.
    let mut size = vec![0usize; runs.len()];
    let mut border = vec![false; runs.len()];
    for (k, &(y, l, r)) in runs.iter().enumerate() {
        let g = root(&mut parent, k);
        size[g] += r - l;
        border[g] |= l == 0 || r == w || y == 0 || y == h - 1;
    }
    for (k, &(y, l, r)) in runs.iter().enumerate() {
        let g = root(&mut parent, k);
        if size[g] < area && (value || !border[g]) {
            out.data[y * w + l..y * w + r].fill(!value);
        }
    }
    out
}

/// The root of `i`'s group in a union-find forest, halving the path on the way.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
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
    fn specks_go_and_thin_lines_stay() {
        let mut mask = Mask::empty(40, 20);
        // A one-pixel-wide diagonal line of 20 pixels (a ski), and a speck of 3.
        for i in 0..20 {
            mask.set(5 + i, i, true);
        }
        for x in 30..33 {
            mask.set(x, 10, true);
        }
        let clean = drop_specks(&mask, 6);
        assert_eq!(
            clean.count(),
            20,
            "the line is 8-connected, the speck is small"
        );
        assert!(!clean.get(31, 10) && clean.get(14, 9));
        assert_eq!(drop_specks(&mask, 1).data, mask.data);
    }

    /// Pixel-by-pixel flood fill, the reference for the span fill.
    fn flip_small_naive(mask: &Mask, value: bool, area: usize) -> Mask {
        let (w, h) = (mask.width as i64, mask.height as i64);
        let mut out = mask.clone();
        let mut seen = vec![false; mask.data.len()];
        for start in 0..mask.data.len() {
            if seen[start] || mask.data[start] != value {
                continue;
            }
            seen[start] = true;
            let (mut group, mut stack, mut border) = (vec![], vec![start], false);
            while let Some(i) = stack.pop() {
                group.push(i);
                let (x, y) = (i as i64 % w, i as i64 / w);
                border |= x == 0 || y == 0 || x == w - 1 || y == h - 1;
                for (dx, dy) in [
                    (-1, -1),
                    (0, -1),
                    (1, -1),
                    (-1, 0),
                    (1, 0),
                    (-1, 1),
                    (0, 1),
                    (1, 1),
                ] {
                    let (xx, yy) = (x + dx, y + dy);
                    let j = (yy * w + xx) as usize;
                    let ok =
                        xx >= 0 && yy >= 0 && xx < w && yy < h && (value || dx == 0 || dy == 0);
                    if ok && !seen[j] && mask.data[j] == value {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            if group.len() < area && (value || !border) {
                for i in group {
                    out.data[i] = !value;
                }
            }
        }
        out
    }

    #[test]
    fn span_fill_finds_the_groups_a_pixel_fill_finds() {
        for seed in 0..20u64 {
            let mut mask = Mask::empty(37, 23);
            for (i, v) in mask.data.iter_mut().enumerate() {
                let r = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ seed) >> 59;
                *v = r < 12 + seed % 8;
            }
            for value in [true, false] {
                for area in [2, 5, 17, 60] {
                    assert_eq!(
                        flip_small(&mask, value, area).data,
                        flip_small_naive(&mask, value, area).data,
                        "seed {seed} value {value} area {area}"
                    );
                }
            }
        }
    }

    #[test]
    fn enclosed_holes_fill_and_open_notches_do_not() {
        let mut mask = Mask::empty(20, 12);
        for y in 2..10 {
            for x in 2..18 {
                mask.set(x, y, true);
            }
        }
        // A hole of 4 pixels, a notch open to the outside, and a hole that is too big.
        for (x, y) in [(5, 5), (6, 5), (5, 6), (6, 6)] {
            mask.set(x, y, false);
        }
        for y in 2..6 {
            mask.set(10, y, false);
        }
        for y in 4..8 {
            for x in 13..16 {
                mask.set(x, y, false);
            }
        }
        let filled = fill_holes(&mask, 5);
        assert!(
            filled.get(5, 5) && filled.get(6, 6),
            "the small hole is filled"
        );
        assert!(
            !filled.get(10, 3) && !filled.get(10, 2),
            "the notch is open"
        );
        assert!(!filled.get(14, 5), "the large hole (12 pixels) stays");
        // Clear pixels touching only diagonally are separate groups: a diagonal gap in a
        // set frame encloses nothing.
        assert_eq!(fill_holes(&Mask::empty(5, 5), 100).count(), 0);
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
