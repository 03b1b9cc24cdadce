//! Quality figures: intersection over union of masks.

use crate::image::Mask;

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
