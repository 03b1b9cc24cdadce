//! Writing a camera the way `cv::FileStorage` writes it: the same keys, indentation,
//! number formatting and line wrapping, byte for byte, so that a diff against a file saved
//! by OpenCV shows only real differences.
//!
//! Where OpenCV's output would not read back as the same camera, this writes what does:
//! a name ending in a space, or starting and ending with the same quote character, is
//! quoted in YAML. In JSON an apostrophe is not escaped, since `\'` is not JSON and OpenCV
//! reads a bare `'` too. Control characters other than `\n`, `\r`, `\t`, `\b` and `\f`
//! stay raw in JSON as OpenCV leaves them: `\u0001` would be valid JSON, but OpenCV 4's
//! reader refuses `\u` escapes.

use glam::{DMat3, DVec3};

use crate::camera::Camera;

/// Where OpenCV wraps a flow list: an item that would end past this column starts a line.
const WRAP_MARGIN: usize = 71;

/// The matrices of a camera in file order: key, rows, cols and row-major values.
fn matrices(camera: &Camera) -> [(&'static str, usize, usize, Vec<f64>); 4] {
    let d = &camera.distortion;
    [
        ("camera_matrix", 3, 3, row_major(&camera.k)),
        (
            "distortion_coefficients",
            1,
            5,
            vec![d.k1, d.k2, d.p1, d.p2, d.k3],
        ),
        ("rotation_matrix", 3, 3, row_major(&camera.r)),
        ("translation_vector", 3, 1, column(camera.t)),
    ]
}

fn row_major(m: &DMat3) -> Vec<f64> {
    m.transpose().to_cols_array().to_vec()
}

fn column(v: DVec3) -> Vec<f64> {
    v.to_array().to_vec()
}

/// The YAML form, headed `%YAML:1.0` as OpenCV 4 writes it (OpenCV 5 writes `%YAML 1.2`
/// and reads both).
pub(super) fn yaml(camera: &Camera) -> String {
    let mut out = String::from("%YAML:1.0\n---\n");
    out += &format!("camera_name: {}\n", yaml_string(&camera.name));
    out += &format!("image_width: {}\n", camera.width);
    out += &format!("image_height: {}\n", camera.height);
    for (key, rows, cols, values) in matrices(camera) {
        out += &format!("{key}: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: d\n");
        let values: Vec<String> = values.iter().map(|&v| number(v, false)).collect();
        flow_list(&mut out, "   data: [", 7, &values);
        out.push('\n');
    }
    out
}

/// The JSON form.
pub(super) fn json(camera: &Camera) -> String {
    let mut entries = vec![
        format!("    \"camera_name\": {}", json_string(&camera.name)),
        format!("    \"image_width\": {}", camera.width),
        format!("    \"image_height\": {}", camera.height),
    ];
    for (key, rows, cols, values) in matrices(camera) {
        let mut entry = format!(
            "    \"{key}\": {{\n        \"type_id\": \"opencv-matrix\",\n        \"rows\": {rows},\n        \"cols\": {cols},\n        \"dt\": \"d\",\n"
        );
        let values: Vec<String> = values.iter().map(|&v| number(v, true)).collect();
        flow_list(&mut entry, "        \"data\": [", 12, &values);
        entry += "\n    }";
        entries.push(entry);
    }
    format!("{{\n{}\n}}\n", entries.join(",\n"))
}

/// Writes `[ a, b, ... ]` after `prefix` (which starts the line), wrapping as OpenCV's
/// emitter does: a comma after each item, and an item that would reach past the margin
/// starts a new line at `indent`.
fn flow_list(out: &mut String, prefix: &str, indent: usize, items: &[String]) {
    let mut line = prefix.to_string();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let end = line.len() + item.len();
        if end > WRAP_MARGIN && end - indent > 10 {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
        } else {
            line.push(' ');
        }
        line.push_str(item);
    }
    if line.len() > indent && !items.is_empty() {
        line.push(' ');
    }
    line.push(']');
    out.push_str(&line);
}

/// A double as OpenCV writes it: a whole number that fits an `int` as `12.` (YAML) or
/// `12.0` (JSON), anything else as C's `%.17g`, which reads back exactly.
pub(super) fn number(v: f64, json: bool) -> String {
    if v.is_nan() {
        return ".Nan".into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-.Inf" } else { ".Inf" }.into();
    }
    if v.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v) {
        // `as` is exact here: `v` is whole and in range. It also turns -0 into 0, as
        // OpenCV's `cvRound` does.
        let whole = v as i32;
        return if json {
            format!("{whole}.0")
        } else {
            format!("{whole}.")
        };
    }
    g17(v)
}

/// C's `printf("%.17g", v)` for a finite, non-zero `v`.
fn g17(v: f64) -> String {
    let scientific = format!("{v:.16e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is a number");
    if (-4..17).contains(&exponent) {
        let decimals = usize::try_from(16 - exponent).expect("the exponent is below 17");
        trim_zeros(format!("{v:.decimals$}"))
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            trim_zeros(mantissa.to_string()),
            exponent.abs()
        )
    }
}

/// Drops trailing zeros after a decimal point, and the point if nothing follows it.
fn trim_zeros(mut s: String) -> String {
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
    s
}

/// A YAML scalar for a string: plain when OpenCV writes it plain, otherwise double-quoted
/// with OpenCV's escapes.
pub(super) fn yaml_string(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut quote = bytes.is_empty()
        || bytes[0] == b' '
        || bytes[bytes.len() - 1] == b' '
        || matches!(bytes[0], b'0'..=b'9' | b'+' | b'-' | b'.');
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        let alphanumeric = c.is_ascii_alphanumeric();
        if !alphanumeric && !matches!(c, '_' | ' ' | '-' | '(' | ')' | '/' | '+' | ';') {
            quote = true;
        }
        match c {
            '\\' | '\'' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    if quote { format!("\"{out}\"") } else { out }
}

/// A JSON string, escaped as OpenCV escapes it but for the apostrophe.
pub(super) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // The literals are spelled as OpenCV writes them, some with more digits than needed.
    #[allow(clippy::excessive_precision)]
    fn numbers_are_written_as_opencv_writes_them() {
        // Each pair is a value and what cv2.FileStorage 4.10 and 5.0 wrote for it in YAML.
        let cases: &[(f64, &str)] = &[
            (0.0, "0."),
            (-0.0, "0."),
            (-1.0, "-1."),
            (2147483647.0, "2147483647."),
            (2147483648.0, "2147483648"),
            (-2147483648.0, "-2147483648."),
            (-2147483649.0, "-2147483649"),
            (1e10, "10000000000"),
            (2.5, "2.5"),
            (1e-5, "1.0000000000000001e-05"),
            (1e-4, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.2345678901234567e16, "12345678901234568"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-300, "1e-300"),
            (5e-324, "4.9406564584124654e-324"),
            (1234567890123456.25, "1234567890123456.2"),
            (1234567890123456.75, "1234567890123456.8"),
            (0.1, "0.10000000000000001"),
            (1.0 / 3.0, "0.33333333333333331"),
            (f64::NAN, ".Nan"),
            (f64::INFINITY, ".Inf"),
            (f64::NEG_INFINITY, "-.Inf"),
            (1e21, "1e+21"),
            (12345678.9, "12345678.9"),
            (-0.00069999999999999999, "-0.00069999999999999999"),
        ];
        for &(v, written) in cases {
            assert_eq!(number(v, false), written, "{v:e}");
            let back: f64 = written.parse().unwrap_or(v);
            assert!(back == v || v.is_nan(), "{written} reads back as {back}");
        }
        assert_eq!(number(2147483647.0, true), "2147483647.0");
        assert_eq!(number(-0.0, true), "0.0");
        assert_eq!(number(2.5, true), "2.5");
    }

    #[test]
    fn strings_are_quoted_as_opencv_quotes_them() {
        // What cv2.FileStorage 4.10 wrote in YAML for each string.
        let cases: &[(&str, &str)] = &[
            ("cam 01", "cam 01"),
            ("", "\"\""),
            ("1abc", "\"1abc\""),
            ("-x", "\"-x\""),
            ("a:b", "\"a:b\""),
            ("Bob's cam", "\"Bob\\'s cam\""),
            ("tab\there", "\"tab\\there\""),
            ("q\"uote", "\"q\\\"uote\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("Kamera Ü", "\"Kamera Ü\""),
            ("(a)/b+c;d", "(a)/b+c;d"),
            ("ctl\u{1}x", "\"ctl\\x01x\""),
            ("true", "true"),
            ("new\nline", "\"new\\nline\""),
            ("a#b", "\"a#b\""),
            // Where OpenCV writes what would not read back: `x ` and `"q"` bare.
            ("x ", "\"x \""),
            ("\"q\"", "\"\\\"q\\\"\""),
        ];
        for &(s, written) in cases {
            assert_eq!(yaml_string(s), written, "{s:?}");
        }
        assert_eq!(
            json_string("Bob's \"cam\"\u{1}\n"),
            "\"Bob's \\\"cam\\\"\u{1}\\n\""
        );
    }

    #[test]
    fn long_lists_wrap_where_opencv_wraps_them() {
        // The start of what cv2.FileStorage wrote for the numbers above.
        let items: Vec<String> = [
            0.0,
            0.0,
            1.0,
            -1.0,
            2147483647.0,
            2147483648.0,
            -2147483648.0,
            -2147483649.0,
        ]
        .iter()
        .map(|&v| number(v, false))
        .collect();
        let mut out = String::new();
        flow_list(&mut out, "   data: [", 7, &items);
        assert_eq!(
            out,
            "   data: [ 0., 0., 1., -1., 2147483647., 2147483648, -2147483648.,\n       -2147483649 ]"
        );
        let mut out = String::new();
        flow_list(&mut out, "   data: [", 7, &[]);
        assert_eq!(out, "   data: []");
    }
}
