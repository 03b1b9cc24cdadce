//! OpenCV's `cv::FileStorage` calibration files, YAML and JSON: one camera in, one camera
//! out, with the source, line and field of anything malformed.
//!
//! [`parse`] reads what OpenCV's calibration tools and `cv::FileStorage` code write:
//!
//! | what | keys | form |
//! | --- | --- | --- |
//! | intrinsics | `camera_matrix`, `K` | 3×3 `opencv-matrix` |
//! | distortion | `distortion_coefficients`, `dist_coeffs`, `D` | 4 or 5 values, row or column, in OpenCV's order k1 k2 p1 p2 \[k3\]; absent means none |
//! | rotation | `rotation_matrix`, `R`, and `rvec`, `rotation_vector` | a 3×3 matrix or a 3-value Rodrigues vector (both may be given if they agree) |
//! | translation | `translation_vector`, `T`, `tvec` | 3 values |
//! | image size | `image_width`, `image_height` | whole numbers |
//! | name | `camera_name` | a string; absent means empty |
//!
//! The pose is world-to-camera, `x_cam = R x_world + t`, as OpenCV's `rvec`/`tvec` are. A
//! file with neither rotation nor translation holds intrinsics only and gives the identity
//! pose; a file with one but not the other is refused. Other keys are ignored.
//!
//! [`to_yaml`] and [`to_json`] write what OpenCV writes for the same matrices (the rotation
//! as `rotation_matrix`), and [`parse`] reads it back exactly.

mod syntax;
mod write;

use glam::{DMat3, DVec3};

use self::syntax::{Entry, Node, Value};
use super::CalibError;
use crate::camera::{Camera, Distortion};

/// How far `RᵀR` may be from the identity, element by element, for `R` to be a rotation.
const ORTHONORMAL_TOLERANCE: f64 = 1e-4;

/// How far a rotation's determinant may be from +1 beyond what its distance from
/// orthonormality already explains.
const DETERMINANT_TOLERANCE: f64 = 1e-6;

/// How far a rotation matrix and a Rodrigues vector given together may disagree, element
/// by element.
const AGREEMENT_TOLERANCE: f64 = 1e-6;

/// Reads a camera from a `cv::FileStorage` YAML or JSON file: JSON if the text starts with
/// `{`, YAML otherwise (OpenCV 4 heads it `%YAML:1.0`, OpenCV 5 `%YAML 1.2`).
pub fn parse(source: &str, text: &str) -> Result<Camera, CalibError> {
    let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let tree = if start.starts_with('{') {
        syntax::json(text)
    } else if start.starts_with('<') {
        let skipped = &text[..text.len() - start.len()];
        return Err(CalibError::new(
            source,
            1 + skipped.matches('\n').count(),
            "document",
            "XML FileStorage files are not supported; save the calibration as .yml or .json",
        ));
    } else {
        syntax::yaml(text)
    }
    .map_err(|e| CalibError::new(source, e.line, e.field, e.problem))?;
    let Value::Map(entries) = &tree.value else {
        return Err(CalibError::new(
            source,
            tree.line,
            "document",
            "expected names with values, such as `camera_matrix: !!opencv-matrix`",
        ));
    };
    Reader { source, entries }.camera()
}

/// Writes a camera as OpenCV writes a YAML `cv::FileStorage`: `camera_name`,
/// `image_width`, `image_height`, `camera_matrix`, `distortion_coefficients` (1×5),
/// `rotation_matrix` and `translation_vector` (3×1).
pub fn to_yaml(camera: &Camera) -> String {
    write::yaml(camera)
}

/// Writes a camera as OpenCV writes a JSON `cv::FileStorage`, with the keys of
/// [`to_yaml`].
pub fn to_json(camera: &Camera) -> String {
    write::json(camera)
}

/// An `opencv-matrix` that has been checked for shape and finite values.
struct Matrix<'a> {
    entry: &'a Entry,
    rows: usize,
    cols: usize,
    channels: usize,
    values: Vec<f64>,
    /// The line of each value.
    lines: Vec<usize>,
    /// The entries `rows` and `cols`, for errors about the shape.
    rows_entry: &'a Entry,
    cols_entry: &'a Entry,
}

impl Matrix<'_> {
    fn is_vector(&self, len: usize) -> bool {
        self.values.len() == len && (self.rows == 1 || self.cols == 1)
    }

    fn is_square(&self, n: usize) -> bool {
        self.rows == n && self.cols == n && self.values.len() == n * n
    }

    /// The values, read row by row, as a matrix.
    fn mat3(&self) -> DMat3 {
        DMat3::from_cols_array(&[
            self.values[0],
            self.values[3],
            self.values[6],
            self.values[1],
            self.values[4],
            self.values[7],
            self.values[2],
            self.values[5],
            self.values[8],
        ])
    }

    fn vec3(&self) -> DVec3 {
        DVec3::new(self.values[0], self.values[1], self.values[2])
    }

    fn shape(&self) -> String {
        match self.channels {
            1 => format!("{}×{}", self.rows, self.cols),
            c => format!("{}×{} with {c} channels", self.rows, self.cols),
        }
    }
}

/// The top-level entries of a file, with the source name for errors.
struct Reader<'a> {
    source: &'a str,
    entries: &'a [Entry],
}

impl<'a> Reader<'a> {
    fn error(
        &self,
        line: usize,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> CalibError {
        CalibError::new(self.source, line, field, problem)
    }

    fn camera(&self) -> Result<Camera, CalibError> {
        let k_entry = self.find(&["camera_matrix", "K"])?.ok_or_else(|| {
            self.error(
                1,
                "camera_matrix",
                "missing; a calibration needs the 3×3 intrinsic matrix `camera_matrix` (or `K`)",
            )
        })?;
        let k = self.camera_matrix(k_entry)?;
        let distortion = match self.find(&["distortion_coefficients", "dist_coeffs", "D"])? {
            Some(entry) => self.distortion(entry)?,
            None => Distortion::default(),
        };
        let (r, t) = self.pose()?;
        Ok(Camera {
            name: self.name()?,
            width: self.dimension("image_width")?,
            height: self.dimension("image_height")?,
            k,
            distortion,
            r,
            t,
        })
    }

    /// The entry under one of `keys`, which are spellings of the same thing; giving two of
    /// them is an error rather than a guess.
    fn find(&self, keys: &[&str]) -> Result<Option<&'a Entry>, CalibError> {
        let mut found = self
            .entries
            .iter()
            .filter(|e| keys.contains(&e.key.as_str()));
        let first = found.next();
        if let (Some(first), Some(second)) = (first, found.next()) {
            return Err(self.error(
                second.line,
                &second.key,
                format!(
                    "given twice, as `{}` (line {}) and `{}`; keep one",
                    first.key, first.line, second.key
                ),
            ));
        }
        Ok(first)
    }

    fn name(&self) -> Result<String, CalibError> {
        let Some(entry) = self.find(&["camera_name"])? else {
            return Ok(String::new());
        };
        match &entry.node.value {
            Value::Scalar { text, .. } => Ok(text.clone()),
            _ => Err(self.error(entry.line, &entry.key, "expected a string")),
        }
    }

    fn dimension(&self, key: &str) -> Result<u32, CalibError> {
        let entry = self
            .find(&[key])?
            .ok_or_else(|| self.error(1, key, format!("missing; add `{key}: <pixels>`")))?;
        let value = self.whole(entry, key)?;
        u32::try_from(value).ok().filter(|&v| v > 0).ok_or_else(|| {
            self.error(
                entry.line,
                key,
                format!("{value} is not a positive number of pixels"),
            )
        })
    }

    /// A whole number, as OpenCV writes `rows: 3`.
    fn whole(&self, entry: &Entry, field: &str) -> Result<i64, CalibError> {
        let text = self.number_text(&entry.node, field, "a whole number")?;
        let value = parse_number(text)
            .filter(|v| v.fract() == 0.0 && v.abs() < 2f64.powi(53))
            .ok_or_else(|| {
                self.error(
                    entry.node.line,
                    field,
                    format!("`{text}` is not a whole number"),
                )
            })?;
        // Exact: `value` is whole and below 2⁵³.
        Ok(value as i64)
    }

    /// The text of a node that should hold a number, or an error saying what it holds.
    fn number_text<'n>(
        &self,
        node: &'n Node,
        field: &str,
        what: &str,
    ) -> Result<&'n str, CalibError> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if !text.is_empty() => Ok(text),
            Value::Scalar { quoted: false, .. } => {
                Err(self.error(node.line, field, format!("empty; expected {what}")))
            }
            Value::Scalar { text, quoted: true } => Err(self.error(
                node.line,
                field,
                format!("expected {what}, found the string \"{text}\""),
            )),
            Value::Seq(_) => {
                Err(self.error(node.line, field, format!("expected {what}, found a list")))
            }
            Value::Map(_) => {
                Err(self.error(node.line, field, format!("expected {what}, found a map")))
            }
        }
    }

    /// An `opencv-matrix`: rows, cols, dt and data, consistent and finite.
    fn matrix(&self, entry: &'a Entry) -> Result<Matrix<'a>, CalibError> {
        let name = entry.key.as_str();
        let Value::Map(fields) = &entry.node.value else {
            return Err(self.error(
                entry.line,
                name,
                "expected an `!!opencv-matrix` with rows, cols, dt and data",
            ));
        };
        let field = |key: &str| fields.iter().find(|e| e.key == key);
        let required = |key: &str| {
            field(key).ok_or_else(|| self.error(entry.line, format!("{name}.{key}"), "missing"))
        };
        if let Some(tag) = &entry.node.tag
            && tag != "opencv-matrix"
        {
            return Err(self.error(
                entry.line,
                name,
                format!("`!!{tag}` is not supported here; expected an `!!opencv-matrix`"),
            ));
        }
        if let Some(type_id) = field("type_id") {
            match &type_id.node.value {
                Value::Scalar { text, .. } if text == "opencv-matrix" => {}
                Value::Scalar { text, .. } => {
                    return Err(self.error(
                        type_id.line,
                        format!("{name}.type_id"),
                        format!("`{text}` is not supported here; expected `opencv-matrix`"),
                    ));
                }
                _ => {
                    return Err(self.error(
                        type_id.line,
                        format!("{name}.type_id"),
                        "expected `opencv-matrix`",
                    ));
                }
            }
        }
        let rows_entry = required("rows")?;
        let cols_entry = required("cols")?;
        let rows = self.count(rows_entry, &format!("{name}.rows"))?;
        let cols = self.count(cols_entry, &format!("{name}.cols"))?;
        let dt = required("dt")?;
        let channels = self.channels(dt, &format!("{name}.dt"))?;
        let data = required("data")?;
        let data_field = format!("{name}.data");
        let items = match &data.node.value {
            Value::Seq(items) => items,
            Value::Scalar { text, .. }
                if data.node.tag.as_deref() == Some("binary") || text.starts_with("$base64$") =>
            {
                return Err(self.error(
                    data.line,
                    data_field,
                    "base64 data is not supported; save the file without cv::FileStorage::BASE64",
                ));
            }
            _ => {
                return Err(self.error(
                    data.line,
                    data_field,
                    "expected the values as a list, `[ ... ]`",
                ));
            }
        };
        let mut values = Vec::with_capacity(items.len());
        let mut lines = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("{name}.data[{i}]");
            let text = self.number_text(item, &field, "a number")?;
            let value = parse_number(text).ok_or_else(|| {
                self.error(item.line, &field, format!("`{text}` is not a number"))
            })?;
            if !value.is_finite() {
                return Err(self.error(item.line, &field, format!("`{text}` is not finite")));
            }
            values.push(value);
            lines.push(item.line);
        }
        let expected = rows.checked_mul(cols).and_then(|n| n.checked_mul(channels));
        if expected != Some(values.len()) {
            let product = if channels == 1 {
                "rows × cols".to_string()
            } else {
                "rows × cols × channels".to_string()
            };
            let size = expected.map_or("too large".to_string(), |n| n.to_string());
            return Err(self.error(
                data.line,
                data_field,
                format!("{product} is {size} but data has {} values", values.len()),
            ));
        }
        Ok(Matrix {
            entry,
            rows,
            cols,
            channels,
            values,
            lines,
            rows_entry,
            cols_entry,
        })
    }

    fn count(&self, entry: &Entry, field: &str) -> Result<usize, CalibError> {
        let value = self.whole(entry, field)?;
        usize::try_from(value)
            .map_err(|_| self.error(entry.line, field, format!("{value} is negative")))
    }

    /// The channel count of an element type such as `d`, `f` or `3d`.
    fn channels(&self, entry: &Entry, field: &str) -> Result<usize, CalibError> {
        let text = match &entry.node.value {
            Value::Scalar { text, .. } => text.as_str(),
            _ => "",
        };
        let depth = text.chars().last().unwrap_or(' ');
        let count = &text[..text.len() - depth.len_utf8().min(text.len())];
        let channels = if count.is_empty() {
            Some(1)
        } else {
            count
                .parse::<usize>()
                .ok()
                .filter(|c| (1..=512).contains(c))
        };
        match channels {
            Some(c) if "ucwsifdhHbnlL".contains(depth) => Ok(c),
            _ => Err(self.error(
                entry.line,
                field,
                format!(
                    "`{text}` is not an element type; OpenCV writes a letter such as `d` or `f`, \
                     after a channel count if there is more than one"
                ),
            )),
        }
    }

    fn camera_matrix(&self, entry: &'a Entry) -> Result<DMat3, CalibError> {
        let m = self.matrix(entry)?;
        let name = &entry.key;
        if !m.is_square(3) {
            let (bad, which) = if m.rows != 3 {
                (m.rows_entry, "rows")
            } else {
                (m.cols_entry, "cols")
            };
            return Err(self.error(
                bad.line,
                format!("{name}.{which}"),
                format!("the camera matrix must be 3×3, this one is {}", m.shape()),
            ));
        }
        for (i, axis) in [(0, "fx"), (4, "fy")] {
            if m.values[i] <= 0.0 {
                return Err(self.error(
                    m.lines[i],
                    format!("{name}.data[{i}]"),
                    format!(
                        "the focal length {axis} must be positive, found {}",
                        m.values[i]
                    ),
                ));
            }
        }
        let last_row = [0.0, 0.0, 1.0];
        if let Some(i) = (6..9).find(|&i| m.values[i] != last_row[i - 6]) {
            return Err(self.error(
                m.lines[i],
                format!("{name}.data[{i}]"),
                format!(
                    "the last row of the camera matrix must be 0, 0, 1; found {}, {}, {}",
                    m.values[6], m.values[7], m.values[8]
                ),
            ));
        }
        Ok(m.mat3())
    }

    fn distortion(&self, entry: &'a Entry) -> Result<Distortion, CalibError> {
        let m = self.matrix(entry)?;
        let n = m.values.len();
        if m.rows != 1 && m.cols != 1 && n > 0 {
            return Err(self.error(
                m.rows_entry.line,
                format!("{}.rows", entry.key),
                format!(
                    "distortion must be a row or a column, this one is {}",
                    m.shape()
                ),
            ));
        }
        let model = match n {
            0 | 4 | 5 => None,
            8 => Some("the rational model"),
            12 => Some("the rational and thin-prism model"),
            14 => Some("the rational, thin-prism and tilted-sensor model"),
            _ => {
                return Err(self.error(
                    m.entry.line,
                    &entry.key,
                    format!(
                        "has {n} coefficients; OpenCV's models have 4, 5, 8, 12 or 14, and only \
                         k1, k2, p1, p2, k3 (4 or 5) are supported"
                    ),
                ));
            }
        };
        if let Some(model) = model {
            return Err(self.error(
                m.entry.line,
                &entry.key,
                format!(
                    "has {n} coefficients ({model}); only k1, k2, p1, p2, k3 are supported, \
                     so recalibrate without CALIB_RATIONAL_MODEL, CALIB_THIN_PRISM_MODEL and \
                     CALIB_TILTED_MODEL"
                ),
            ));
        }
        let v = |i: usize| m.values.get(i).copied().unwrap_or(0.0);
        Ok(Distortion {
            k1: v(0),
            k2: v(1),
            p1: v(2),
            p2: v(3),
            k3: v(4),
        })
    }

    /// The world-to-camera rotation and translation, or the identity for an
    /// intrinsics-only file.
    fn pose(&self) -> Result<(DMat3, DVec3), CalibError> {
        let as_matrix = self.find(&["rotation_matrix", "R"])?;
        let as_vector = self.find(&["rvec", "rotation_vector"])?;
        let translation = self.find(&["translation_vector", "T", "tvec"])?;
        let mut given: Vec<&Entry> = [as_matrix, as_vector].into_iter().flatten().collect();
        given.sort_by_key(|e| e.line);
        let mut rotation = None;
        for entry in given {
            let r = self.rotation(entry)?;
            match rotation {
                None => rotation = Some((r, entry)),
                Some((first, first_entry)) => {
                    let gap = (r - first)
                        .to_cols_array()
                        .iter()
                        .fold(0.0f64, |m, d| m.max(d.abs()));
                    if gap > AGREEMENT_TOLERANCE {
                        return Err(self.error(
                            entry.line,
                            &entry.key,
                            format!(
                                "disagrees with `{}` (line {}): the rotations differ by up to \
                                 {gap:.2e}; keep the right one",
                                first_entry.key, first_entry.line
                            ),
                        ));
                    }
                }
            }
        }
        match (rotation, translation) {
            (None, None) => Ok((DMat3::IDENTITY, DVec3::ZERO)),
            (Some((r, _)), Some(t)) => Ok((r, self.translation(t)?)),
            (Some((_, r)), None) => Err(self.error(
                r.line,
                "translation_vector",
                format!(
                    "missing, but `{}` gives a rotation; a pose needs both, or neither for \
                     intrinsics only",
                    r.key
                ),
            )),
            (None, Some(t)) => Err(self.error(
                t.line,
                "rotation_matrix",
                format!(
                    "missing, but `{}` gives a translation; a pose needs a rotation too \
                     (`rotation_matrix` or `rvec`), or neither for intrinsics only",
                    t.key
                ),
            )),
        }
    }

    fn rotation(&self, entry: &'a Entry) -> Result<DMat3, CalibError> {
        let m = self.matrix(entry)?;
        if m.is_vector(3) {
            return Ok(rodrigues(m.vec3()));
        }
        if !m.is_square(3) {
            return Err(self.error(
                m.rows_entry.line,
                &entry.key,
                format!(
                    "a rotation is a 3×3 matrix or a 3-value Rodrigues vector, this one is {}",
                    m.shape()
                ),
            ));
        }
        let r = m.mat3();
        let off = (r.transpose() * r - DMat3::IDENTITY)
            .to_cols_array()
            .iter()
            .fold(0.0f64, |m, d| m.max(d.abs()));
        if off > ORTHONORMAL_TOLERANCE {
            return Err(self.error(
                entry.line,
                &entry.key,
                format!("R is not orthonormal: RᵀR differs from the identity by up to {off:.2e}"),
            ));
        }
        // For RᵀR = I + E, det² = det(I + E) ≈ 1 + trace E, so the determinant of an R that
        // passed may be off by up to about 3/2 of the bound above; beyond that it is -1.
        let det = r.determinant();
        if (det - 1.0).abs() > DETERMINANT_TOLERANCE + 1.5 * off {
            return Err(self.error(
                entry.line,
                &entry.key,
                format!("R is not a rotation (determinant {det:.4})"),
            ));
        }
        Ok(r)
    }

    fn translation(&self, entry: &'a Entry) -> Result<DVec3, CalibError> {
        let m = self.matrix(entry)?;
        if !m.is_vector(3) {
            return Err(self.error(
                m.rows_entry.line,
                &entry.key,
                format!(
                    "a translation has 3 values, as 3×1 or 1×3; this one is {}",
                    m.shape()
                ),
            ));
        }
        Ok(m.vec3())
    }
}

/// A number as OpenCV writes it: decimal, possibly with an exponent or a trailing point
/// (`12.`), or `.Nan`, `.Inf`, `-.Inf`.
fn parse_number(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        ".nan" => return Some(f64::NAN),
        ".inf" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let plausible = text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    plausible.then(|| text.parse().ok()).flatten()
}

/// The rotation matrix of a Rodrigues vector (axis times angle in radians), computed as
/// OpenCV's `cv::Rodrigues` does.
pub fn rodrigues(r: DVec3) -> DMat3 {
    let theta = r.length();
    if theta < f64::EPSILON {
        return DMat3::IDENTITY;
    }
    let (s, c) = theta.sin_cos();
    let k = r / theta;
    let outer = DMat3::from_cols(k * k.x, k * k.y, k * k.z);
    let cross = DMat3::from_cols(
        DVec3::new(0.0, k.z, -k.y),
        DVec3::new(-k.z, 0.0, k.x),
        DVec3::new(k.y, -k.x, 0.0),
    );
    DMat3::IDENTITY * c + outer * (1.0 - c) + cross * s
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::DVec2;

    /// A complete file in the form OpenCV writes, for the malformed cases to break.
    const GOOD: &str = "%YAML:1.0
---
camera_name: cam
image_width: 1280
image_height: 720
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1400., 0., 640., 0., 1400., 360.,
       0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -0.21, 0.05, 0.001, -0.0007, 0. ]
rvec: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 0.1, -0.2, 0.3 ]
tvec: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 0.5, -1.5, 30. ]
";

    fn camera() -> Camera {
        Camera {
            name: "landing-cam-03".into(),
            width: 1280,
            height: 720,
            k: DMat3::from_cols(
                DVec3::new(1402.3741, 0.0, 0.0),
                DVec3::new(0.0, 1399.8126, 0.0),
                DVec3::new(641.2873, 358.9402, 1.0),
            ),
            distortion: Distortion {
                k1: -0.21,
                k2: 0.05,
                p1: 0.001,
                p2: -0.0007,
                k3: 0.0,
            },
            r: rodrigues(DVec3::new(
                1.7586604492484201,
                -0.3892472853590151,
                0.3119309952558504,
            )),
            t: DVec3::new(-1.022307229453861, -0.6800312265290296, 36.0913070622214),
        }
    }

    #[test]
    fn a_file_becomes_a_camera() {
        let cam = parse("cam.yml", GOOD).unwrap();
        assert_eq!(
            (cam.name.as_str(), cam.width, cam.height),
            ("cam", 1280, 720)
        );
        assert_eq!(cam.k.col(2).x, 640.0, "k13 is the principal point's x");
        assert_eq!(cam.k.col(2).y, 360.0);
        assert_eq!(cam.distortion.p2, -0.0007);
        assert_eq!(cam.t, DVec3::new(0.5, -1.5, 30.0));
        assert!((cam.r - rodrigues(DVec3::new(0.1, -0.2, 0.3))).abs_diff_eq(DMat3::ZERO, 0.0));
        // The same file as JSON, and as intrinsics only.
        let json = parse("cam.json", &to_json(&cam)).unwrap();
        assert_eq!(json, cam);
        let intrinsics: String = GOOD.lines().take(16).map(|l| format!("{l}\n")).collect();
        let cam = parse("cam.yml", &intrinsics).unwrap();
        assert_eq!((cam.r, cam.t), (DMat3::IDENTITY, DVec3::ZERO));
    }

    #[test]
    fn rodrigues_turns_about_the_axis_by_the_length() {
        let quarter = rodrigues(DVec3::new(0.0, 0.0, std::f64::consts::FRAC_PI_2));
        assert!((quarter * DVec3::X - DVec3::Y).length() < 1e-15);
        assert_eq!(rodrigues(DVec3::ZERO), DMat3::IDENTITY);
        let r = DVec3::new(0.3, -1.2, 2.0);
        let m = rodrigues(r);
        assert!((m * r - r).length() < 1e-14, "the axis is fixed");
        assert!((m.determinant() - 1.0).abs() < 1e-14);
        let glam = DMat3::from_axis_angle(r.normalize(), r.length());
        assert!((m - glam).abs_diff_eq(DMat3::ZERO, 1e-15));
    }

    #[test]
    fn export_round_trips_exactly() {
        let mut odd = camera();
        odd.name = "Kamera Ü \"Nord\"\tBob's\n".into();
        odd.k.x_axis.x = 1e-300;
        odd.k.z_axis.x = 123456789.12345679;
        odd.distortion.k3 = -5e-324;
        odd.t = DVec3::new(-0.0, 1e21, 1.0 / 3.0);
        let mut unnamed = camera();
        unnamed.name.clear();
        for cam in [camera(), odd, unnamed] {
            let yaml = to_yaml(&cam);
            assert!(yaml.starts_with("%YAML:1.0\n---\n"), "{yaml}");
            assert_eq!(parse("c.yml", &yaml).unwrap(), cam, "{yaml}");
            let json = to_json(&cam);
            assert_eq!(parse("c.json", &json).unwrap(), cam, "{json}");
        }
    }

    #[test]
    fn projection_uses_the_parsed_distortion() {
        let cam = parse("cam.yml", GOOD).unwrap();
        let centre = cam.center() + cam.r.transpose() * DVec3::new(0.0, 0.0, 10.0);
        let p = cam.project(centre).unwrap();
        assert!((p - DVec2::new(640.0, 360.0)).length() < 1e-9, "{p}");
    }

    /// Each case: what to replace in `GOOD` (or a whole text when the first is empty),
    /// and the line, field and part of the problem the error must name.
    fn check(replace: &str, with: &str, line: usize, field: &str, problem: &str) {
        let text = if replace.is_empty() {
            with.to_string()
        } else {
            assert!(GOOD.contains(replace), "{replace:?} is not in the file");
            GOOD.replacen(replace, with, 1)
        };
        let e = parse("cam.yml", &text).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (line, field),
            "{replace:?} -> {with:?}: {e}"
        );
        assert!(e.problem.contains(problem), "{replace:?} -> {with:?}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("cam.yml:{line}: {field}: ")),
            "{e}"
        );
    }

    #[test]
    fn malformed_files_name_line_and_field() {
        check("", "", 1, "camera_matrix", "missing");
        check(
            "",
            "<?xml version=\"1.0\"?>\n<opencv_storage/>\n",
            1,
            "document",
            "XML",
        );
        check(
            "",
            "%YAML:1.0\n---\n- 1\n",
            3,
            "document",
            "expected names with values",
        );
        check(
            "1400., 360.,",
            "1400., 360x,",
            10,
            "camera_matrix.data[5]",
            "`360x` is not a number",
        );
        check(
            "\n       0., 0., 1. ]",
            "\n       0., 0. ]",
            10,
            "camera_matrix.data",
            "rows × cols is 9 but data has 8 values",
        );
        check(
            "       0., 0., 1. ]",
            "       0., .Nan, 1. ]",
            11,
            "camera_matrix.data[7]",
            "not finite",
        );
        check(
            "       0., 0., 1. ]",
            "       0., 0., 2. ]",
            11,
            "camera_matrix.data[8]",
            "last row",
        );
        check(
            "[ 1400., 0.",
            "[ -1400., 0.",
            10,
            "camera_matrix.data[0]",
            "fx must be positive",
        );
        check(
            "   rows: 3\n   cols: 3",
            "   rows: 1\n   cols: 9",
            7,
            "camera_matrix.rows",
            "must be 3×3, this one is 1×9",
        );
        check(
            "   rows: 3\n   cols: 3",
            "   rows: three\n   cols: 3",
            7,
            "camera_matrix.rows",
            "`three` is not a whole number",
        );
        check(
            "   rows: 3\n   cols: 3",
            "   cols: 3",
            6,
            "camera_matrix.rows",
            "missing",
        );
        check(
            "   dt: d\n   data: [ 1400.",
            "   dt: q\n   data: [ 1400.",
            9,
            "camera_matrix.dt",
            "not an element type",
        );
        check(
            "camera_matrix: !!opencv-matrix",
            "camera_matrix: !!opencv-nd-matrix",
            6,
            "camera_matrix",
            "not supported",
        );
        check(
            "camera_name: cam\n",
            "camera_name: cam\nK: 1\n",
            7,
            "camera_matrix",
            "given twice, as `K` (line 4)",
        );
        check(
            "   cols: 5",
            "   cols: 8",
            16,
            "distortion_coefficients.data",
            "rows × cols is 8 but data has 5",
        );
        check(
            "   cols: 5\n   dt: d\n   data: [ -0.21,",
            "   cols: 8\n   dt: d\n   data: [ 1, 2, 3, -0.21,",
            12,
            "distortion_coefficients",
            "only k1, k2, p1, p2, k3 are supported",
        );
        check(
            "   cols: 5\n   dt: d\n   data: [ -0.21,",
            "   cols: 6\n   dt: d\n   data: [ 1, -0.21,",
            12,
            "distortion_coefficients",
            "has 6 coefficients",
        );
        check(
            "rvec: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n   data: [ 0.1, -0.2, 0.3 ]",
            "R: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0., 0., 1., 0., 0., 0., -1. ]",
            17,
            "R",
            "R is not a rotation (determinant -1.0000)",
        );
        check(
            "rvec: !!opencv-matrix\n   rows: 3\n   cols: 1\n   dt: d\n   data: [ 0.1, -0.2, 0.3 ]",
            "R: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0., 0., 1.1, 0., 0., 0., 1. ]",
            17,
            "R",
            "not orthonormal",
        );
        check(
            "tvec:",
            "R: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 0., 0., 0., 1., 0., 0., 0., 1. ]\ntvec:",
            22,
            "R",
            "disagrees with `rvec` (line 17)",
        );
        check(
            "tvec:",
            "tvec_typo:",
            17,
            "translation_vector",
            "missing, but `rvec` gives a rotation",
        );
        check(
            "rvec:",
            "rvec_typo:",
            22,
            "rotation_matrix",
            "missing, but `tvec` gives a translation",
        );
        check(
            "   rows: 3\n   cols: 1\n   dt: d\n   data: [ 0.5, -1.5, 30. ]",
            "   rows: 2\n   cols: 2\n   dt: d\n   data: [ 0.5, -1.5, 30., 1. ]",
            23,
            "tvec",
            "3 values",
        );
        check(
            "image_width: 1280",
            "image_width: 1280.5",
            4,
            "image_width",
            "not a whole number",
        );
        check(
            "image_width: 1280",
            "image_width: \"1280\"",
            4,
            "image_width",
            "found the string",
        );
        check("image_height: 720\n", "", 1, "image_height", "missing");
        check(
            "image_height: 720",
            "image_height: 0",
            5,
            "image_height",
            "not a positive number",
        );
        check(
            "   data: [ 0.5, -1.5, 30. ]",
            "   data: 7",
            26,
            "tvec.data",
            "as a list",
        );
        check(
            "   data: [ 0.5, -1.5, 30. ]",
            "   data: !!binary |\n      AAAA",
            26,
            "tvec.data",
            "base64",
        );
        check(
            "   data: [ 0.5, -1.5, 30. ]",
            "   data: [ 0.5, -1.5, 30.",
            27,
            "tvec.data[2]",
            "expected `,` or `]`",
        );
        check(
            "   dt: d\n   data: [ -0.21",
            "   dt: d\n   dt: f\n   data: [ -0.21",
            16,
            "distortion_coefficients",
            "`dt` appears twice",
        );
    }

    #[test]
    fn malformed_json_names_line_and_field() {
        let json = to_json(&camera());
        let bad = json.replacen(
            "\"rows\": 3,\n        \"cols\": 1",
            "\"rows\": 3,\n        \"cols\": 2",
            1,
        );
        let e = parse("cam.json", &bad).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (37, "translation_vector.data"),
            "{e}"
        );
        let bad = json.replacen("1399.8126", "\"1399.8126\"", 1);
        let e = parse("cam.json", &bad).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (10, "camera_matrix.data[4]"),
            "{e}"
        );
        assert!(e.problem.contains("found the string"), "{e}");
        let e = parse(
            "cam.json",
            &json.replacen("\"dt\": \"d\",", "\"dt\": \"d\"", 1),
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (10, "camera_matrix.dt"), "{e}");
    }
}
