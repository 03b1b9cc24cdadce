//! Quality figures: intersection over union of masks, PSNR of images.

use crate::image::{Mask, RgbImage};

/// Intersection over union of two masks of the same size; 1 when both are empty.
pub fn iou(a: &Mask, b: &Mask) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "masks of different sizes"
    );
    let (mut inter, mut union) = (0usize, 0usize);
    for (x, y) in a.data.iter().zip(&b.data) {
        inter += usize::from(*x && *y);
        union += usize::from(*x || *y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Peak signal-to-noise ratio of two images of the same size, in dB (infinite when equal).
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "images of different sizes"
    );
    let mse = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.data.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}
