//! Camera rigs for the simulator: calibrated cameras on a ring or an arc around a field,
//! each aimed at one point, in z-up world coordinates (metres, ground plane z = 0).

use glam::{DMat3, DVec3};

use crate::camera::{Camera, Distortion};

/// What each camera of a rig records: image size and horizontal field of view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sensor {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Horizontal field of view in degrees (square pixels, principal point at the centre).
    pub horizontal_fov_deg: f64,
}

/// A set of calibrated cameras.
#[derive(Debug, Clone, PartialEq)]
pub struct Rig {
    /// The cameras, named `cam00`, `cam01`, ...
    pub cameras: Vec<Camera>,
}

impl Rig {
    /// `n` cameras evenly spaced on a horizontal circle of `radius` around `aim`, at
    /// `height` above the ground, the first on the +x side, going counter-clockwise.
    pub fn ring(n: usize, radius: f64, height: f64, aim: DVec3, sensor: Sensor) -> Rig {
        let azimuths = (0..n).map(|i| 360.0 * i as f64 / n as f64);
        Rig::at_azimuths(azimuths, radius, height, aim, sensor)
    }

    /// `n` cameras evenly spaced on an arc of `radius` around `aim`, from azimuth
    /// `start_deg` (counter-clockwise from +x) over `span_deg`, both ends included, at
    /// `height` above the ground.
    pub fn arc(
        n: usize,
        radius: f64,
        start_deg: f64,
        span_deg: f64,
        height: f64,
        aim: DVec3,
        sensor: Sensor,
    ) -> Rig {
        let step = if n > 1 {
            span_deg / (n - 1) as f64
        } else {
            0.0
        };
        let azimuths = (0..n).map(|i| start_deg + step * i as f64);
        Rig::at_azimuths(azimuths, radius, height, aim, sensor)
    }

    /// Gives every camera the same lens distortion.
    pub fn with_distortion(mut self, distortion: Distortion) -> Rig {
        for camera in &mut self.cameras {
            camera.distortion = distortion;
        }
        self
    }

    fn at_azimuths(
        azimuths: impl Iterator<Item = f64>,
        radius: f64,
        height: f64,
        aim: DVec3,
        sensor: Sensor,
    ) -> Rig {
        let cameras = azimuths
            .enumerate()
            .map(|(i, azimuth)| {
                let a = azimuth.to_radians();
                let center = DVec3::new(aim.x + radius * a.cos(), aim.y + radius * a.sin(), height);
                look_at(format!("cam{i:02}"), center, aim, sensor)
            })
            .collect();
        Rig { cameras }
    }
}

/// A distortion-free camera at `center` looking at `aim`, level (no roll), with the
/// sensor's size and field of view.
pub fn look_at(name: String, center: DVec3, aim: DVec3, sensor: Sensor) -> Camera {
    let (w, h) = (f64::from(sensor.width), f64::from(sensor.height));
    let f = 0.5 * w / (0.5 * sensor.horizontal_fov_deg.to_radians()).tan();
    let k = DMat3::from_cols(
        DVec3::new(f, 0.0, 0.0),
        DVec3::new(0.0, f, 0.0),
        DVec3::new(0.5 * (w - 1.0), 0.5 * (h - 1.0), 1.0),
    );
    Camera::look_at(name, center, aim, DVec3::Z, k, sensor.width, sensor.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENSOR: Sensor = Sensor {
        width: 640,
        height: 360,
        horizontal_fov_deg: 60.0,
    };

    #[test]
    fn ring_cameras_see_the_aim_at_the_image_centre_with_up_up() {
        let aim = DVec3::new(1.0, -2.0, 1.0);
        let rig = Rig::ring(8, 10.0, 4.0, aim, SENSOR);
        assert_eq!(rig.cameras.len(), 8);
        assert_eq!(rig.cameras[3].name, "cam03");
        for cam in &rig.cameras {
            let c = cam.center();
            assert!((c.z - 4.0).abs() < 1e-9);
            assert!(((c - aim).truncate().length() - 10.0).abs() < 1e-9);
            let p = cam.project(aim).unwrap();
            assert!(
                (p.x - 319.5).abs() < 1e-9 && (p.y - 179.5).abs() < 1e-9,
                "{p}"
            );
            // World up is image up; the camera's right is the image's right.
            let above = cam.project(aim + DVec3::Z).unwrap();
            assert!(above.y < p.y && (above.x - p.x).abs() < 1e-6);
            let right = cam.r.row(0);
            let side = cam.project(aim + right).unwrap();
            assert!(side.x > p.x);
            // A proper rotation.
            assert!((cam.r.determinant() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_field_of_view_reaches_the_image_edge() {
        let rig = Rig::ring(1, 10.0, 0.0, DVec3::ZERO, SENSOR);
        let cam = &rig.cameras[0];
        // 30 degrees to the right of the optical axis lands on the right edge.
        let dir = (DVec3::ZERO - cam.center()).normalize();
        let right = cam.r.row(0);
        let p = cam
            .project(cam.center() + dir + right * 30f64.to_radians().tan())
            .unwrap();
        assert!((p.x - 639.5).abs() < 0.51, "{p}");
    }

    #[test]
    fn arcs_include_both_ends() {
        let rig = Rig::arc(5, 10.0, -90.0, 180.0, 3.0, DVec3::ZERO, SENSOR);
        let first = rig.cameras[0].center();
        let last = rig.cameras[4].center();
        assert!((first - DVec3::new(0.0, -10.0, 3.0)).length() < 1e-9);
        assert!((last - DVec3::new(0.0, 10.0, 3.0)).length() < 1e-9);
    }
}
