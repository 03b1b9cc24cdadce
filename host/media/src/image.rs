//! Image buffers: 8-bit RGB frames and binary masks, row-major, no padding.

/// Luminance (ITU-R BT.601 weights) of an RGB colour, in the colour's own units.
pub(crate) fn luma(c: [f32; 3]) -> f32 {
    0.2989 * c[0] + 0.5870 * c[1] + 0.1140 * c[2]
}

/// An 8-bit RGB image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps a buffer; `None` if its length does not match the size.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (data.len() == width as usize * height as usize * 3).then_some(RgbImage {
            width,
            height,
            data,
        })
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// The pixels of the box `[x0, y0, x1, y1)` (inside the image) as a window of their own:
    /// a matted athlete kept without the rest of its frame.
    pub fn window(&self, bounds: [usize; 4]) -> Window<[u8; 3]> {
        let [x0, y0, x1, y1] = bounds;
        let w = self.width as usize;
        let values = (y0..y1)
            .flat_map(|y| self.data[(y * w + x0) * 3..(y * w + x1) * 3].chunks_exact(3))
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Window { bounds, values }
    }

    /// The colour at a fractional position, bilinearly; outside takes the nearest edge.
    pub fn bilinear(&self, x: f64, y: f64) -> [f64; 3] {
        let ((x0, y0), k) = bilinear_at(x, y, self.width, self.height);
        let w = self.width as usize;
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(self.height as usize - 1));
        let at = |x: usize, y: usize| (y * w + x) * 3;
        blend_taps(
            &self.data,
            [at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1)],
            k,
        )
    }
}

/// An RGB image stored as tiles of [`TILE`]x[`TILE`] pixels, each with the next tile's first
/// column and row beside it: the four pixels of a bilinear sample lie in one small block of
/// memory. A render samples a plate along lines that cross its rows, where row-major pixels
/// put every sample's two rows on two pages.
#[derive(Debug, Clone)]
pub struct Tiled {
    width: u32,
    height: u32,
    /// Tiles per row of tiles.
    columns: usize,
    /// Per tile, `(TILE + 1)²` pixels row by row, past the image's edge its edge pixels.
    data: Vec<u8>,
}

/// Pixels along a side of a [`Tiled`] image's tile (without the column and row it shares).
const TILE: usize = 8;

/// Bytes of a [`Tiled`] image's tile.
const TILE_BYTES: usize = (TILE + 1) * (TILE + 1) * 3;

impl Tiled {
    /// The image in tiles.
    pub fn of(image: &RgbImage) -> Tiled {
        let (w, h) = (image.width as usize, image.height as usize);
        let (columns, rows) = (w.div_ceil(TILE), h.div_ceil(TILE));
        let mut data = vec![0u8; columns * rows * TILE_BYTES];
        for (t, tile) in data.chunks_exact_mut(TILE_BYTES).enumerate() {
            let (x0, y0) = (t % columns * TILE, t / columns * TILE);
            for (dy, out) in tile.chunks_exact_mut((TILE + 1) * 3).enumerate() {
                let y = (y0 + dy).min(h - 1);
                for (dx, px) in out.chunks_exact_mut(3).enumerate() {
                    let i = (y * w + (x0 + dx).min(w - 1)) * 3;
                    px.copy_from_slice(&image.data[i..i + 3]);
                }
            }
        }
        Tiled {
            width: image.width,
            height: image.height,
            columns,
            data,
        }
    }

    /// [`RgbImage::bilinear`] of the image, the same to the bit.
    pub fn bilinear(&self, x: f64, y: f64) -> [f64; 3] {
        let ((x0, y0), k) = bilinear_at(x, y, self.width, self.height);
        // The taps right of and below the image's last pixel are the edge pixels again,
        // which the tile holds there.
        let tile = (y0 / TILE * self.columns + x0 / TILE) * TILE_BYTES;
        let at = tile + ((y0 % TILE) * (TILE + 1) + x0 % TILE) * 3;
        let below = (TILE + 1) * 3;
        blend_taps(&self.data, [at, at + 3, at + below, at + below + 3], k)
    }
}

/// A fractional position clamped to a `width` x `height` grid: the pixel at or before it, and
/// the bilinear weights of that pixel and of those right of it, below it and right below.
fn bilinear_at(x: f64, y: f64, width: u32, height: u32) -> ((usize, usize), [f64; 4]) {
    let x = x.clamp(0.0, f64::from(width - 1));
    let y = y.clamp(0.0, f64::from(height - 1));
    // Clamped to the grid, so truncation floors (without a libm call).
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    (
        (x0, y0),
        [
            (1.0 - fx) * (1.0 - fy),
            fx * (1.0 - fy),
            (1.0 - fx) * fy,
            fx * fy,
        ],
    )
}

/// The RGB pixels of `data` that start at the byte offsets `taps`, blended with the weights
/// `k`.
fn blend_taps(data: &[u8], taps: [usize; 4], k: [f64; 4]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (i, k) in taps.into_iter().zip(k) {
        for (o, v) in out.iter_mut().zip(&data[i..i + 3]) {
            *o += f64::from(*v) * k;
        }
    }
    out
}

/// Per-pixel values over a box `[x0, y0, x1, y1)` of an image, zero (the default) outside
/// it: work near a small athlete need not fill a whole frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Window<T> {
    /// The box, in image pixels.
    pub bounds: [usize; 4],
    /// The box's values, row by row.
    pub values: Vec<T>,
}

impl<T: Copy + Default> Window<T> {
    /// Zeros over `bounds` (an empty box holds nothing).
    pub fn zeros(bounds: [usize; 4]) -> Window<T> {
        Window::filled(bounds, T::default())
    }

    /// `value` at every pixel of `bounds`.
    pub fn filled(bounds: [usize; 4], value: T) -> Window<T> {
        let [x0, y0, x1, y1] = bounds;
        Window {
            bounds,
            values: vec![value; x1.saturating_sub(x0) * y1.saturating_sub(y0)],
        }
    }

    /// The value at `(x, y)`: zero outside the box.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> T {
        self.at(x, y).unwrap_or_default()
    }

    /// The value at `(x, y)`, if it lies in the box.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> Option<T> {
        self.index(x, y).map(|i| self.values[i])
    }

    /// The value at `(x, y)` to change, if it lies in the box.
    #[inline]
    pub fn get_mut(&mut self, x: usize, y: usize) -> Option<&mut T> {
        self.index(x, y).map(|i| &mut self.values[i])
    }

    /// Row `y` of the box (`y` inside it).
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        let [x0, y0, x1, _] = self.bounds;
        let w = x1 - x0;
        &mut self.values[(y - y0) * w..(y - y0 + 1) * w]
    }

    /// Row `y` of the box (`y` inside it).
    pub fn row(&self, y: usize) -> &[T] {
        self.row_at(y).expect("a row of the window")
    }

    /// Row `y` of the box, if `y` lies in it.
    pub fn row_at(&self, y: usize) -> Option<&[T]> {
        let [x0, y0, x1, y1] = self.bounds;
        let w = x1 - x0;
        (y0..y1)
            .contains(&y)
            .then(|| &self.values[(y - y0) * w..(y - y0 + 1) * w])
    }

    /// Every pixel of the box, row by row, with its value.
    pub fn pixels(&self) -> impl Iterator<Item = ((usize, usize), T)> + '_ {
        let [x0, y0, x1, _] = self.bounds;
        let w = x1.saturating_sub(x0);
        self.values
            .iter()
            .enumerate()
            .map(move |(i, v)| ((x0 + i % w, y0 + i / w), *v))
    }

    #[inline]
    fn index(&self, x: usize, y: usize) -> Option<usize> {
        let [x0, y0, x1, y1] = self.bounds;
        (x >= x0 && x < x1 && y >= y0 && y < y1).then(|| (y - y0) * (x1 - x0) + x - x0)
    }
}

/// A binary mask: `true` where the subject is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` values, row-major.
    pub data: Vec<bool>,
}

impl Mask {
    /// An all-`false` mask.
    pub fn empty(width: u32, height: u32) -> Self {
        Mask {
            width,
            height,
            data: vec![false; width as usize * height as usize],
        }
    }

    /// The value at `(x, y)`.
    pub fn get(&self, x: u32, y: u32) -> bool {
        self.data[y as usize * self.width as usize + x as usize]
    }

    /// Sets the value at `(x, y)`.
    pub fn set(&mut self, x: u32, y: u32, value: bool) {
        let w = self.width as usize;
        self.data[y as usize * w + x as usize] = value;
    }

    /// How many pixels are set.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|v| **v).count()
    }

    /// The box `[x0, y0, x1, y1)` around the set pixels inside the box `within`; `None` if
    /// none is set there.
    pub fn set_box(&self, within: [usize; 4]) -> Option<[usize; 4]> {
        set_box(&self.data, self.width as usize, within)
    }

    /// The pixels of the box `[x0, y0, x1, y1)` (inside the mask), as a mask of their own.
    pub fn crop(&self, [x0, y0, x1, y1]: [usize; 4]) -> Mask {
        let w = self.width as usize;
        let cw = x1 - x0;
        let mut crop = Mask::empty(cw as u32, (y1 - y0) as u32);
        for (y, row) in (y0..y1).zip(crop.data.chunks_exact_mut(cw.max(1))) {
            row.copy_from_slice(&self.data[y * w + x0..y * w + x1]);
        }
        crop
    }

    /// A summed-area table over the box around the set pixels (outside it nothing is set):
    /// entry `(x, y)` counts the set pixels of the box above and left of `(x, y)`, so any
    /// rectangle is counted in four reads.
    pub fn integral(&self) -> Integral {
        let (w, h) = (self.width as usize, self.height as usize);
        let region = self.set_box([0, 0, w, h]).unwrap_or([0; 4]);
        let [x0, _, x1, _] = region;
        Integral::over(region, (self.width, self.height), |y| {
            &self.data[y * w + x0..y * w + x1]
        })
    }
}

impl Window<bool> {
    /// The pixels of `mask` in its box around the set pixels (an empty box if none is set).
    pub fn around(mask: &Mask) -> Window<bool> {
        let (w, h) = (mask.width as usize, mask.height as usize);
        let bounds = mask.set_box([0, 0, w, h]).unwrap_or([0; 4]);
        Window {
            bounds,
            values: mask.crop(bounds).data,
        }
    }

    /// A summed-area table of the window in a `width` x `height` image (see
    /// [`Mask::integral`]).
    pub fn integral(&self, width: u32, height: u32) -> Integral {
        Integral::over(self.bounds, (width, height), |y| self.row(y))
    }
}

/// The box `[x0, y0, x1, y1)` around the set cells inside the box `within` of a grid of
/// `w`-cell rows; `None` if none is set there.
pub(crate) fn set_box(
    data: &[bool],
    w: usize,
    [wx0, wy0, wx1, wy1]: [usize; 4],
) -> Option<[usize; 4]> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in wy0..wy1 {
        let row = &data[y * w + wx0..y * w + wx1];
        // Counting is branch-free (vectorised); most rows of a venue mask are empty.
        if row.iter().filter(|v| **v).count() == 0 {
            continue;
        }
        let first = row.iter().position(|v| *v).unwrap_or(0);
        let last = row.iter().rposition(|v| *v).unwrap_or(first);
        (x0, x1) = (x0.min(wx0 + first), x1.max(wx0 + last + 1));
        (y0, y1) = (y0.min(y), y + 1);
    }
    (x0 < x1).then_some([x0, y0, x1, y1])
}

/// A summed-area table of a [`Mask`].
#[derive(Debug, Clone)]
pub struct Integral {
    width: u32,
    height: u32,
    /// The box `[x0, y0, x1, y1)` the table covers; no pixel outside it is set.
    region: [i64; 4],
    sums: Vec<u32>,
}

impl Integral {
    /// The table over `region` of a `width` x `height` image, whose rows `row(y)` gives.
    fn over<'m>(
        region: [usize; 4],
        (width, height): (u32, u32),
        row: impl Fn(usize) -> &'m [bool],
    ) -> Integral {
        let [x0, y0, x1, y1] = region;
        let (rw, rh) = (x1 - x0, y1 - y0);
        let mut sums = vec![0u32; (rw + 1) * (rh + 1)];
        for y in 0..rh {
            let pixels = row(y0 + y);
            let (above, below) = sums.split_at_mut((y + 1) * (rw + 1));
            let above = &above[y * (rw + 1) + 1..];
            let mut count = 0u32;
            for ((out, up), v) in below[1..=rw].iter_mut().zip(above).zip(pixels) {
                count += u32::from(*v);
                *out = up + count;
            }
        }
        Integral {
            width,
            height,
            region: [x0 as i64, y0 as i64, x1 as i64, y1 as i64],
            sums,
        }
    }

    /// Set pixels in the half-open rectangle `[x0, x1) x [y0, y1)`, clipped to the image,
    /// and the rectangle's area inside the image.
    pub fn count(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> (u32, u32) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let (x0, x1, y0, y1) = (
            x0.clamp(0, w),
            x1.clamp(0, w),
            y0.clamp(0, h),
            y1.clamp(0, h),
        );
        if x0 >= x1 || y0 >= y1 {
            return (0, 0);
        }
        let area = ((x1 - x0) * (y1 - y0)) as u32;
        // The part of the rectangle inside the table's box, in the box's coordinates.
        let [rx0, ry0, rx1, ry1] = self.region;
        let (x0, x1) = (x0.clamp(rx0, rx1) - rx0, x1.clamp(rx0, rx1) - rx0);
        let (y0, y1) = (y0.clamp(ry0, ry1) - ry0, y1.clamp(ry0, ry1) - ry0);
        if x0 >= x1 || y0 >= y1 {
            return (0, area);
        }
        let stride = (rx1 - rx0 + 1) as usize;
        let at = |x: i64, y: i64| self.sums[y as usize * stride + x as usize];
        (at(x1, y1) + at(x0, y0) - at(x0, y1) - at(x1, y0), area)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiled_image_samples_as_the_image_does() {
        // Sizes a tile divides, and sizes that leave a partial tile at the right and bottom.
        for (w, h) in [(16u32, 8u32), (19, 13), (1, 1), (9, 2)] {
            let data = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
            let image = RgbImage::new(w, h, data).expect("w x h");
            let tiled = Tiled::of(&image);
            let (fw, fh) = (f64::from(w), f64::from(h));
            // Whole and fractional positions, the last pixel and beyond every edge.
            let xs = [
                -3.0,
                0.0,
                0.25,
                7.5,
                7.999,
                8.0,
                fw - 1.0,
                fw - 0.5,
                fw + 2.0,
            ];
            let ys = [
                -1.0,
                0.0,
                0.6,
                7.2,
                8.0,
                8.75,
                fh - 1.0,
                fh - 0.25,
                fh + 5.0,
            ];
            for x in xs {
                for y in ys {
                    assert_eq!(
                        tiled.bilinear(x, y).map(f64::to_bits),
                        image.bilinear(x, y).map(f64::to_bits),
                        "{w}x{h} at ({x}, {y})"
                    );
                }
            }
        }
    }

    #[test]
    fn an_image_window_holds_the_pixels_of_its_box() {
        // Pixel (x, y) of a 4x3 image is [x, y, 7].
        let data = (0..3u8)
            .flat_map(|y| (0..4u8).flat_map(move |x| [x, y, 7]))
            .collect();
        let image = RgbImage::new(4, 3, data).expect("4x3");
        let window = image.window([1, 1, 3, 3]);
        assert_eq!(
            window.values,
            vec![[1, 1, 7], [2, 1, 7], [1, 2, 7], [2, 2, 7]]
        );
        assert_eq!(window.get(2, 2), image.pixel(2, 2));
        assert_eq!(window.get(0, 0), [0, 0, 0]);
        assert!(image.window([2, 1, 2, 3]).values.is_empty());
    }

    #[test]
    fn a_window_holds_its_box_and_reads_zero_outside() {
        let mut window: Window<f32> = Window::zeros([2, 1, 5, 3]);
        assert_eq!(window.values.len(), 6);
        *window.get_mut(4, 2).expect("inside") = 0.5;
        assert!(window.get_mut(5, 2).is_none() && window.get_mut(1, 1).is_none());
        assert_eq!(window.get(4, 2), 0.5);
        assert_eq!(window.get(0, 0), 0.0);
        assert_eq!(window.get(9, 9), 0.0);
        assert_eq!(window.row(2), &[0.0, 0.0, 0.5]);
        assert!(Window::<bool>::zeros([3, 3, 3, 7]).values.is_empty());
    }

    #[test]
    fn a_window_around_a_mask_counts_as_the_mask_does() {
        let mut mask = Mask::empty(9, 7);
        for (x, y) in [(2, 1), (3, 1), (3, 2), (6, 5)] {
            mask.set(x, y, true);
        }
        let window = Window::around(&mask);
        assert_eq!(window.bounds, [2, 1, 7, 6]);
        let (a, b) = (mask.integral(), window.integral(9, 7));
        for (x0, y0, x1, y1) in [(0, 0, 9, 7), (3, 1, 4, 3), (-4, -4, 3, 2), (6, 5, 20, 20)] {
            assert_eq!(a.count(x0, y0, x1, y1), b.count(x0, y0, x1, y1));
        }
        assert_eq!(b.count(0, 0, 9, 7), (4, 63));
        let empty = Window::around(&Mask::empty(4, 4));
        assert_eq!(empty.integral(4, 4).count(0, 0, 4, 4), (0, 16));
    }

    #[test]
    fn the_integral_counts_rectangles() {
        let mut mask = Mask::empty(5, 4);
        for (x, y) in [(1, 1), (2, 1), (2, 2), (4, 3)] {
            mask.set(x, y, true);
        }
        let table = mask.integral();
        assert_eq!(table.count(0, 0, 5, 4), (4, 20));
        assert_eq!(table.count(1, 1, 3, 3), (3, 4));
        assert_eq!(table.count(-10, -10, 2, 2), (1, 4), "clipped to the image");
        assert_eq!(table.count(4, 3, 99, 99), (1, 1));
        assert_eq!(table.count(3, 0, 3, 4), (0, 0));
        assert_eq!(table.count(0, 0, 1, 4), (0, 4), "left of every set pixel");
        assert_eq!(Mask::empty(5, 4).integral().count(0, 0, 5, 4), (0, 20));
    }

    #[test]
    fn the_integral_of_a_box_counts_as_a_brute_force_count() {
        let mut mask = Mask::empty(37, 23);
        for y in 5..17 {
            for x in 9..30 {
                mask.set(x, y, (x * 7 + y * 3) % 5 < 2);
            }
        }
        let table = mask.integral();
        for (x0, y0, x1, y1) in [
            (0, 0, 37, 23),
            (10, 6, 12, 9),
            (-3, 2, 15, 30),
            (29, 16, 40, 40),
        ] {
            let brute = (y0.max(0)..y1.min(23))
                .flat_map(|y| (x0.max(0)..x1.min(37)).map(move |x| (x, y)))
                .filter(|&(x, y)| mask.get(x as u32, y as u32))
                .count() as u32;
            assert_eq!(table.count(x0, y0, x1, y1).0, brute, "{x0} {y0} {x1} {y1}");
        }
    }
}
