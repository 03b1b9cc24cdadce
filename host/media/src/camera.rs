//! A calibrated camera: pinhole intrinsics, Brown–Conrady radial and tangential
//! distortion, and a world-to-camera pose (`x_cam = R x_world + t`).

use glam::{DMat3, DVec2, DVec3, DVec4};
use serde::{Deserialize, Serialize};

/// Lens distortion in OpenCV's order `(k1, k2, p1, p2, k3)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Distortion {
    /// Radial, r².
    pub k1: f64,
    /// Radial, r⁴.
    pub k2: f64,
    /// Tangential.
    pub p1: f64,
    /// Tangential.
    pub p2: f64,
    /// Radial, r⁶.
    pub k3: f64,
}

impl Distortion {
    /// Whether the lens is modelled as distortion-free.
    pub fn is_zero(&self) -> bool {
        *self == Distortion::default()
    }

    /// Distorts normalised image coordinates.
    pub fn apply(&self, p: DVec2) -> DVec2 {
        if self.is_zero() {
            return p;
        }
        let r2 = p.length_squared();
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        let (x, y) = (p.x, p.y);
        DVec2::new(
            x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x),
            y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y,
        )
    }

    /// Undistorts normalised image coordinates (fixed-point iteration, as OpenCV does).
    pub fn remove(&self, distorted: DVec2) -> DVec2 {
        if self.is_zero() {
            return distorted;
        }
        let mut p = distorted;
        for _ in 0..20 {
            let error = self.apply(p) - distorted;
            p -= error;
            if error.length_squared() < 1e-24 {
                break;
            }
        }
        p
    }
}

/// Casts rays through pixels of one camera (see [`Camera::rays`]).
#[derive(Debug, Clone, Copy)]
pub struct Rays {
    k_inverse: DMat3,
    r_transpose: DMat3,
    distortion: Distortion,
}

impl Rays {
    /// The unit direction, in world coordinates, of the ray through a pixel.
    pub fn cast(&self, pixel: DVec2) -> DVec3 {
        let n = self.k_inverse * pixel.extend(1.0);
        let undistorted = self.distortion.remove(DVec2::new(n.x / n.z, n.y / n.z));
        (self.r_transpose * undistorted.extend(1.0)).normalize()
    }
}

/// A camera's projection prepared for projecting many points: the pose as a 3x4 matrix, and
/// for a lens without distortion the whole projection `K [R | t]`, so a point costs three dot
/// products and a division. It projects as [`Camera::project`] does.
#[derive(Debug, Clone, Copy)]
pub struct Projector {
    view: [DVec4; 3],
    k: DMat3,
    distortion: Distortion,
    pinhole: Option<[DVec4; 3]>,
}

impl Projector {
    /// Projects a world point to pixel coordinates; `None` behind the camera.
    #[inline]
    pub fn project(&self, world: DVec3) -> Option<DVec2> {
        let [p] = self.project_all(&[world]);
        p
    }

    /// Projects `N` world points, each as [`Projector::project`] does, side by side: lane by
    /// lane the same arithmetic in the same order (the same pixels), in loops that
    /// vectorise.
    #[inline]
    pub fn project_all<const N: usize>(&self, world: &[DVec3; N]) -> [Option<DVec2>; N] {
        // `row · (world, 1)`, summed as `DVec4::dot` sums.
        let dot = |row: &DVec4| {
            let mut out = [0.0; N];
            for (o, w) in out.iter_mut().zip(world) {
                *o = row.x * w.x + row.y * w.y + row.z * w.z + row.w;
            }
            out
        };
        let pinhole = self.pinhole.as_ref();
        // With a pinhole, K's last row is (0, 0, 1): the third coordinate is the camera-space
        // depth.
        let rows = pinhole.unwrap_or(&self.view);
        let (mut x, mut y, z) = (dot(&rows[0]), dot(&rows[1]), dot(&rows[2]));
        for i in 0..N {
            x[i] /= z[i];
            y[i] /= z[i];
        }
        if pinhole.is_none() {
            for i in 0..N {
                let p = self.k * self.distortion.apply(DVec2::new(x[i], y[i])).extend(1.0);
                (x[i], y[i]) = (p.x, p.y);
            }
        }
        std::array::from_fn(|i| (z[i] > 1e-12).then(|| DVec2::new(x[i], y[i])))
    }

    /// A world point's depth in front of the camera (camera-space z).
    #[inline]
    pub fn depth(&self, world: DVec3) -> f64 {
        self.view[2].dot(world.extend(1.0))
    }
}

/// The pixel at which camera-space point `c` is seen; `None` behind the camera.
#[inline]
fn image_of(k: &DMat3, distortion: &Distortion, c: DVec3) -> Option<DVec2> {
    if c.z <= 1e-12 {
        return None;
    }
    let normalised = distortion.apply(DVec2::new(c.x / c.z, c.y / c.z));
    let p = *k * normalised.extend(1.0);
    Some(DVec2::new(p.x, p.y))
}

/// A calibrated camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    /// Name, usually the image or device it belongs to.
    pub name: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The intrinsic matrix `K` (row-major in files; glam stores columns).
    pub k: DMat3,
    /// Lens distortion.
    pub distortion: Distortion,
    /// World-to-camera rotation.
    pub r: DMat3,
    /// World-to-camera translation.
    pub t: DVec3,
}

impl Camera {
    /// The camera with its image moved by `(dx, dy)` pixels, a shift of the principal
    /// point: how a camera shaken by that much saw its frame.
    pub fn moved_by(&self, dx: f64, dy: f64) -> Camera {
        let mut camera = self.clone();
        camera.k.z_axis.x += dx;
        camera.k.z_axis.y += dy;
        camera
    }

    /// The camera's centre in world coordinates, `-Rᵀ t`.
    pub fn center(&self) -> DVec3 {
        -(self.r.transpose() * self.t)
    }

    /// A world point in camera coordinates.
    pub fn to_camera(&self, world: DVec3) -> DVec3 {
        self.r * world + self.t
    }

    /// Projects a world point to pixel coordinates (origin at the top-left corner of the
    /// top-left pixel's centre, x right, y down); `None` behind the camera.
    pub fn project(&self, world: DVec3) -> Option<DVec2> {
        image_of(&self.k, &self.distortion, self.to_camera(world))
    }

    /// The camera's projection prepared for many points (see [`Projector`]).
    pub fn projector(&self) -> Projector {
        let view = [0, 1, 2].map(|i| self.r.row(i).extend(self.t[i]));
        let k = self.k;
        let pinhole = (self.distortion.is_zero() && k.row(2) == DVec3::Z).then(|| {
            [0, 1, 2].map(|i| {
                let row = k.row(i);
                view[0] * row.x + view[1] * row.y + view[2] * row.z
            })
        });
        Projector {
            view,
            k,
            distortion: self.distortion,
            pinhole,
        }
    }

    /// The unit direction, in world coordinates, of the ray through a pixel.
    pub fn ray(&self, pixel: DVec2) -> DVec3 {
        self.rays().cast(pixel)
    }

    /// A ray caster with the camera's inverses computed once, for casting many rays.
    pub fn rays(&self) -> Rays {
        Rays {
            k_inverse: self.k.inverse(),
            r_transpose: self.r.transpose(),
            distortion: self.distortion,
        }
    }

    /// A distortion-free camera at `eye` looking at `target`, with `up` pointing up in the
    /// image, and intrinsics `k` for a `width` x `height` image.
    pub fn look_at(
        name: impl Into<String>,
        eye: DVec3,
        target: DVec3,
        up: DVec3,
        k: DMat3,
        width: u32,
        height: u32,
    ) -> Camera {
        let forward = (target - eye).normalize();
        // Looking along `up` leaves "right" undefined; any axis across the view will do.
        let right = forward.cross(up);
        let right = if right.length_squared() < 1e-12 {
            forward.any_orthonormal_vector()
        } else {
            right.normalize()
        };
        let down = forward.cross(right);
        // Rows of R are the camera's axes in world coordinates: x right, y down, z forward.
        let r = DMat3::from_cols(right, down, forward).transpose();
        Camera {
            name: name.into(),
            width,
            height,
            k,
            distortion: Distortion::default(),
            r,
            t: -(r * eye),
        }
    }

    /// A camera between `a` (at `s` = 0) and `b` (at `s` = 1): centre and intrinsics
    /// interpolated linearly, orientation by spherical interpolation; no distortion.
    pub fn between(a: &Camera, b: &Camera, s: f64, name: impl Into<String>) -> Camera {
        let qa = glam::DQuat::from_mat3(&a.r);
        let qb = glam::DQuat::from_mat3(&b.r);
        let r = DMat3::from_quat(qa.slerp(qb, s));
        let center = a.center().lerp(b.center(), s);
        let k = a.k * (1.0 - s) + b.k * s;
        Camera {
            name: name.into(),
            width: a.width,
            height: a.height,
            k,
            distortion: Distortion::default(),
            r,
            t: -(r * center),
        }
    }

    /// Whether a pixel position lies inside the image.
    pub fn in_image(&self, p: DVec2) -> bool {
        p.x >= -0.5
            && p.y >= -0.5
            && p.x < f64::from(self.width) - 0.5
            && p.y < f64::from(self.height) - 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(distortion: Distortion) -> Camera {
        Camera {
            name: "c".into(),
            width: 640,
            height: 480,
            k: DMat3::from_cols(
                DVec3::new(800.0, 0.0, 0.0),
                DVec3::new(0.0, 810.0, 0.0),
                DVec3::new(320.0, 240.0, 1.0),
            ),
            distortion,
            r: DMat3::from_rotation_y(0.3),
            t: DVec3::new(0.1, -0.2, 3.0),
        }
    }

    /// A lens with every coefficient set.
    fn lens() -> Distortion {
        Distortion {
            k1: -0.2,
            k2: 0.05,
            p1: 0.001,
            p2: -0.002,
            k3: 0.01,
        }
    }

    #[test]
    fn a_projected_point_lies_on_the_ray_through_its_pixel() {
        let lens = Distortion {
            k1: -0.2,
            k2: 0.05,
            p1: 0.001,
            p2: -0.002,
            k3: 0.0,
        };
        for cam in [camera(Distortion::default()), camera(lens)] {
            let point = DVec3::new(0.3, -0.1, 0.5);
            let pixel = cam.project(point).unwrap();
            let ray = cam.ray(pixel);
            let to_point = (point - cam.center()).normalize();
            assert!((ray - to_point).length() < 1e-9, "{ray} vs {to_point}");
        }
    }

    #[test]
    fn points_projected_together_land_where_each_does_alone() {
        for cam in [camera(Distortion::default()), camera(lens())] {
            let projector = cam.projector();
            // Spread about the view, one behind the camera.
            let points: [DVec3; 8] = std::array::from_fn(|i| {
                DVec3::new(
                    0.3 * i as f64 - 1.0,
                    0.17 * (i % 3) as f64,
                    0.4 - 0.1 * i as f64,
                )
            });
            let behind = cam.center() - cam.r.row(2) * 2.0;
            let points = [points, [behind; 8]].concat();
            for chunk in points.chunks_exact(8) {
                let chunk: &[DVec3; 8] = chunk.try_into().unwrap();
                let together = projector.project_all(chunk);
                for (p, t) in chunk.iter().zip(together) {
                    // Bit for bit: a hull carved either way is the same.
                    assert_eq!(projector.project(*p), t);
                    let alone = cam.project(*p);
                    assert_eq!(alone.is_some(), t.is_some());
                    if let (Some(a), Some(t)) = (alone, t) {
                        assert!(a.distance(t) < 1e-9, "{a} {t}");
                    }
                }
            }
            assert!(projector.project(behind).is_none());
        }
    }

    #[test]
    fn look_at_centres_the_target_and_between_joins_two_cameras() {
        let k = camera(Distortion::default()).k;
        let target = DVec3::new(1.0, 2.0, 0.5);
        let a = Camera::look_at(
            "a",
            DVec3::new(10.0, 2.0, 3.0),
            target,
            DVec3::Z,
            k,
            640,
            480,
        );
        let p = a.project(target).unwrap();
        assert!((p - DVec2::new(320.0, 240.0)).length() < 1e-9, "{p}");
        // Up in the world is up in the image (smaller y).
        assert!(a.project(target + DVec3::Z).unwrap().y < 240.0);
        let b = Camera::look_at(
            "b",
            DVec3::new(1.0, 12.0, 3.0),
            target,
            DVec3::Z,
            k,
            640,
            480,
        );
        let mid = Camera::between(&a, &b, 0.5, "mid");
        assert!((mid.center() - DVec3::new(5.5, 7.0, 3.0)).length() < 1e-9);
        assert!((mid.r.determinant() - 1.0).abs() < 1e-9);
        let start = Camera::between(&a, &b, 0.0, "a")
            .project(target + DVec3::X)
            .unwrap();
        assert!((start - a.project(target + DVec3::X).unwrap()).length() < 1e-9);
    }

    #[test]
    fn points_behind_the_camera_do_not_project() {
        let cam = camera(Distortion::default());
        let behind = cam.center() - cam.r.transpose() * DVec3::Z;
        assert_eq!(cam.project(behind), None);
        assert_eq!(cam.projector().project(behind), None);
    }

    #[test]
    fn a_projector_projects_as_its_camera_does() {
        for cam in [camera(Distortion::default()), camera(lens())] {
            let projector = cam.projector();
            for i in 0..50 {
                let f = f64::from(i);
                let point = DVec3::new((f * 0.37).sin(), (f * 0.71).cos() - 0.2, (f * 0.13).sin());
                let (a, b) = (
                    cam.project(point).unwrap(),
                    projector.project(point).unwrap(),
                );
                assert!((a - b).length() < 1e-9, "{a} vs {b}");
                assert!((projector.depth(point) - cam.to_camera(point).z).abs() < 1e-12);
            }
        }
    }
}
