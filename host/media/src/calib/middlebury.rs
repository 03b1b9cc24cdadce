//! The Middlebury multi-view `_par.txt` format: a count, then one line per image,
//! `name k11 k12 k13 k21 k22 k23 k31 k32 k33 r11 r12 r13 r21 r22 r23 r31 r32 r33 t1 t2 t3`,
//! the projection being `K [R | t]`.

use glam::{DMat3, DVec3};

use super::CalibError;
use crate::camera::{Camera, Distortion};

/// The 21 numeric fields of a line, by name, for error messages.
const FIELDS: [&str; 21] = [
    "k11", "k12", "k13", "k21", "k22", "k23", "k31", "k32", "k33", "r11", "r12", "r13", "r21",
    "r22", "r23", "r31", "r32", "r33", "t1", "t2", "t3",
];

/// Parses a `_par.txt` file. Image sizes are not in the format: cameras get `width` and
/// `height` 0 until the caller sets them from the images.
pub fn parse(source: &str, text: &str) -> Result<Vec<Camera>, CalibError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (first_line, count) = lines
        .next()
        .ok_or_else(|| CalibError::new(source, 1, "count", "the file is empty"))?;
    let count: usize = count.parse().map_err(|_| {
        CalibError::new(
            source,
            first_line,
            "count",
            format!("`{count}` is not a number of images"),
        )
    })?;
    let mut cameras = Vec::with_capacity(count);
    for (line, text) in lines {
        let mut parts = text.split_whitespace();
        let name = parts.next().expect("non-empty line").to_string();
        let mut values = [0.0f64; 21];
        for (i, field) in FIELDS.iter().enumerate() {
            let raw = parts.next().ok_or_else(|| {
                CalibError::new(
                    source,
                    line,
                    *field,
                    format!(
                        "missing: a line needs a name and 21 numbers, this one has {} numbers",
                        i
                    ),
                )
            })?;
            values[i] = raw
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    CalibError::new(
                        source,
                        line,
                        *field,
                        format!("`{raw}` is not a finite number"),
                    )
                })?;
        }
        if let Some(extra) = parts.next() {
            return Err(CalibError::new(
                source,
                line,
                "end of line",
                format!("unexpected `{extra}` after t3"),
            ));
        }
        let row_major = |v: &[f64]| {
            DMat3::from_cols_array(&[v[0], v[3], v[6], v[1], v[4], v[7], v[2], v[5], v[8]])
        };
        let r = row_major(&values[9..18]);
        if (r.determinant() - 1.0).abs() > 1e-3 {
            return Err(CalibError::new(
                source,
                line,
                "r11..r33",
                format!("not a rotation (determinant {:.4})", r.determinant()),
            ));
        }
        cameras.push(Camera {
            name,
            width: 0,
            height: 0,
            k: row_major(&values[0..9]),
            distortion: Distortion::default(),
            r,
            t: DVec3::new(values[18], values[19], values[20]),
        });
    }
    if cameras.len() != count {
        return Err(CalibError::new(
            source,
            first_line,
            "count",
            format!("says {count} images, but {} lines follow", cameras.len()),
        ));
    }
    Ok(cameras)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "dino.png 3310.4 0 316.73 0 3325.5 200.55 0 0 1 -0.14396457836077139 0.969652632813375 0.1976061715377957 -0.9036658060347969 -0.047433350255261522 -0.42560419233334673 -0.40331536459778505 -0.23984130575212276 0.88306936201487163 -0.010415508744 -0.0294278883669 0.673097816109";

    #[test]
    fn a_line_becomes_a_camera() {
        let cameras = parse("par.txt", &format!("1\n{LINE}\n")).unwrap();
        assert_eq!(cameras.len(), 1);
        let cam = &cameras[0];
        assert_eq!(cam.name, "dino.png");
        assert_eq!(cam.k.col(2).x, 316.73, "k13 is the principal point's x");
        assert_eq!(cam.t.z, 0.673097816109);
        // The dinosaur's bounding-box centre lies in front of the camera, near the image centre.
        let centre = DVec3::new(-0.0255, 0.0247, -0.0212);
        let pixel = cam.project(centre).unwrap();
        assert!(
            pixel.x > 100.0 && pixel.x < 540.0 && pixel.y > 50.0 && pixel.y < 430.0,
            "{pixel}"
        );
    }

    #[test]
    fn malformed_files_name_line_and_field() {
        let e = parse("par.txt", "").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "count"));
        let e = parse("par.txt", "two\n").unwrap_err();
        assert!(e.to_string().starts_with("par.txt:1: count:"), "{e}");
        let bad = LINE.replace(" 3325.5 ", " 33x5 ");
        let e = parse("par.txt", &format!("1\n{bad}\n")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "k22"));
        let short: String = LINE
            .split_whitespace()
            .take(15)
            .collect::<Vec<_>>()
            .join(" ");
        let e = parse("par.txt", &format!("1\n{short}\n")).unwrap_err();
        assert_eq!(e.field, "r23");
        let e = parse("par.txt", &format!("2\n{LINE}\n")).unwrap_err();
        assert!(e.problem.contains("says 2 images"), "{e}");
        let skewed = LINE.replace("-0.14396457836077139", "5.0");
        assert_eq!(
            parse("p", &format!("1\n{skewed}\n")).unwrap_err().field,
            "r11..r33"
        );
    }
}
