//! Counter-based pseudo-random numbers for the simulator: every value is a hash of the
//! seed and of what it is for (camera, frame, pixel, particle), never a step of a stream.
//!
//! We use splitmix64 as a hash rather than a sequential generator such as `rand_pcg`:
//! any pixel's noise, any frame's flicker and any particle can be drawn directly, so the
//! bytes do not depend on the order in which rayon happens to render rows or cameras, and
//! the output can never change under a dependency upgrade. It is ten lines.

/// Stream tags, so that the same indices give unrelated numbers for different purposes.
pub(crate) mod stream {
    pub const TEXTURE: u64 = 1;
    pub const LENS: u64 = 2;
    pub const FLICKER: u64 = 3;
    pub const SHAKE: u64 = 4;
    pub const NOISE: u64 = 5;
    pub const SPRAY: u64 = 6;
    pub const GLARE: u64 = 7;
    pub const VARIATION: u64 = 8;
    pub const TABLE: u64 = 9;
}

/// The splitmix64 finaliser: a bijective, well-mixed hash of one word.
#[inline]
pub(crate) fn mix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a seed and a list of keys.
#[inline]
pub(crate) fn hash(seed: u64, keys: &[u64]) -> u64 {
    keys.iter().fold(mix(seed), |h, k| mix(h ^ k))
}

/// A uniform number in `[0, 1)` from a hash.
#[inline]
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform number in `[-1, 1)` from a hash.
#[inline]
pub(crate) fn signed(h: u64) -> f64 {
    2.0 * unit(h) - 1.0
}

/// A standard normal number from a hash (Box–Muller on two halves of the mixed word).
pub(crate) fn gaussian(h: u64) -> f64 {
    let u1 = unit(mix(h)).max(1e-300);
    let u2 = unit(mix(h ^ 0x5851_F42D_4C95_7F2D));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A sequence of numbers drawn from one hash, for the few places that want many at once.
pub(crate) struct Draw {
    state: u64,
}

impl Draw {
    /// Starts a sequence at a hash.
    pub(crate) fn new(h: u64) -> Self {
        Draw { state: h }
    }

    /// The next raw word.
    pub(crate) fn word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// The next uniform number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        unit(self.word())
    }

    /// The next uniform number in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// The next standard normal number.
    pub(crate) fn gaussian(&mut self) -> f64 {
        gaussian(self.word())
    }
}

/// Smooth value noise on the plane: hashed lattice values in `[-1, 1]`, interpolated with
/// a smoothstep, at unit lattice spacing.
pub(crate) fn value_noise(seed: u64, x: f64, y: f64) -> f64 {
    let (fx, fy) = (x.floor(), y.floor());
    let (ix, iy) = (fx as i64 as u64, fy as i64 as u64);
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let at = |dx: u64, dy: u64| {
        signed(mix(
            seed ^ mix(ix.wrapping_add(dx) ^ mix(iy.wrapping_add(dy)))
        ))
    };
    let top = at(0, 0) + (at(1, 0) - at(0, 0)) * sx;
    let bottom = at(0, 1) + (at(1, 1) - at(0, 1)) * sx;
    top + (bottom - top) * sy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_reproducible_and_spread() {
        assert_eq!(hash(7, &[1, 2, 3]), hash(7, &[1, 2, 3]));
        assert_ne!(hash(7, &[1, 2, 3]), hash(8, &[1, 2, 3]));
        assert_ne!(hash(7, &[1, 2, 3]), hash(7, &[1, 3, 2]));
        let n = 20_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for i in 0..n {
            let g = gaussian(hash(1, &[i]));
            sum += g;
            sq += g * g;
        }
        let mean = sum / n as f64;
        let var = sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn value_noise_is_continuous_and_bounded() {
        for i in 0..1000 {
            let x = i as f64 * 0.137 - 50.0;
            let a = value_noise(3, x, 0.5 * x);
            let b = value_noise(3, x + 1e-6, 0.5 * x);
            assert!(a.abs() <= 1.0 && (a - b).abs() < 1e-4);
        }
    }
}
