//! YUV 4:2:0 as decoders give it (I420, NV12) to RGB, and RGB to I420 for the encoder,
//! through `yuvutils-rs` (SIMD chosen at run time), so each cut's frames are converted on its
//! own decoding thread rather than in `videoconvert` (about 0.2 ms a 1280x720 frame here
//! against about 5 ms).

use yuvutils_rs::{
    BufferStoreMut, YuvBiPlanarImage, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut,
    YuvRange, YuvStandardMatrix,
};

/// A 4:2:0 picture's planes as a decoder laid them out, with their strides in bytes.
pub(crate) enum Planes<'a> {
    /// Luma, then blue- and red-difference chroma each in its own plane.
    I420 {
        y: (&'a [u8], usize),
        u: (&'a [u8], usize),
        v: (&'a [u8], usize),
    },
    /// Luma, then both chromas interleaved in one plane.
    Nv12 {
        y: (&'a [u8], usize),
        uv: (&'a [u8], usize),
    },
}

/// Which colour matrix the picture was encoded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Matrix {
    /// ITU-R BT.601 (standard definition).
    Bt601,
    /// ITU-R BT.709 (high definition).
    Bt709,
}

/// A plane of `rows` rows of `row` bytes, without the padding a decoder may leave at the
/// end of each row (`yuvutils-rs` takes planes exactly that size).
fn tight<'a>(
    (plane, stride): (&'a [u8], usize),
    row: usize,
    rows: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    if stride < row || plane.len() < stride * rows.saturating_sub(1) + row {
        return Err(format!(
            "a plane of {} bytes, {stride} a row, cannot hold {rows} rows of {row}",
            plane.len()
        ));
    }
    Ok(if stride == row {
        plane[..row * rows].into()
    } else {
        plane
            .chunks(stride)
            .take(rows)
            .flat_map(|r| &r[..row])
            .copied()
            .collect::<Vec<u8>>()
            .into()
    })
}

/// Converts a `width`x`height` picture to packed RGB.
pub(crate) fn to_rgb(
    planes: &Planes,
    width: u32,
    height: u32,
    matrix: Matrix,
    full_range: bool,
) -> Result<Vec<u8>, String> {
    let matrix = match matrix {
        Matrix::Bt601 => YuvStandardMatrix::Bt601,
        Matrix::Bt709 => YuvStandardMatrix::Bt709,
    };
    let range = if full_range {
        YuvRange::Full
    } else {
        YuvRange::Limited
    };
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    let stride = width * 3;
    let (w, h) = (width as usize, height as usize);
    let (half_w, half_h) = (w.div_ceil(2), h.div_ceil(2));
    let done = match *planes {
        Planes::I420 { y, u, v } => {
            let (y, u, v) = (
                tight(y, w, h)?,
                tight(u, half_w, half_h)?,
                tight(v, half_w, half_h)?,
            );
            yuvutils_rs::yuv420_to_rgb(
                &YuvPlanarImage {
                    y_plane: &y,
                    y_stride: width,
                    u_plane: &u,
                    u_stride: half_w as u32,
                    v_plane: &v,
                    v_stride: half_w as u32,
                    width,
                    height,
                },
                &mut rgb,
                stride,
                range,
                matrix,
            )
        }
        Planes::Nv12 { y, uv } => yuvutils_rs::yuv_nv12_to_rgb(
            &YuvBiPlanarImage {
                y_plane: &tight(y, w, h)?,
                y_stride: width,
                uv_plane: &tight(uv, 2 * half_w, half_h)?,
                uv_stride: 2 * half_w as u32,
                width,
                height,
            },
            &mut rgb,
            stride,
            range,
            matrix,
            YuvConversionMode::Balanced,
        ),
    };
    done.map_err(|e| format!("converting {width}x{height} 4:2:0 to RGB: {e}"))?;
    Ok(rgb)
}

/// Converts packed RGB to I420 (BT.709, limited range) into the three planes `planes`, rows
/// `strides` bytes apart.
pub(crate) fn to_i420(
    rgb: &[u8],
    width: u32,
    height: u32,
    planes: [&mut [u8]; 3],
    strides: [usize; 3],
) -> Result<(), String> {
    let [y, u, v] = planes;
    let mut image = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: strides[0] as u32,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: strides[1] as u32,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: strides[2] as u32,
        width,
        height,
    };
    yuvutils_rs::rgb_to_yuv420(
        &mut image,
        rgb,
        width * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt709,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| format!("converting {width}x{height} RGB to I420: {e}"))
}

#[cfg(test)]
mod tests {
    use crate::encode::{drain, sample_to_rgb};
    use piste_media::RgbImage;

    fn frames(description: &str) -> Vec<RgbImage> {
        crate::init().unwrap();
        let pipeline = crate::launch(&format!("{description} ! appsink name=sink")).unwrap();
        let sink = crate::element::<gstreamer_app::AppSink>(&pipeline, "sink");
        gstreamer::prelude::ElementExt::set_state(&pipeline, gstreamer::State::Playing).unwrap();
        let mut out = Vec::new();
        drain(&pipeline, &sink, std::time::Duration::from_secs(30), |s| {
            out.push(sample_to_rgb(s)?);
            Ok(())
        })
        .unwrap();
        gstreamer::prelude::ElementExt::set_state(&pipeline, gstreamer::State::Null).unwrap();
        out
    }

    #[test]
    fn a_plane_too_small_for_its_picture_is_an_error_not_a_panic() {
        let (y, uv) = (vec![16u8; 64 * 48], vec![128u8; 64 * 23]);
        let planes = super::Planes::Nv12 {
            y: (&y, 64),
            uv: (&uv, 64),
        };
        let e = super::to_rgb(&planes, 64, 48, super::Matrix::Bt709, false).unwrap_err();
        assert!(e.contains("cannot hold 24 rows of 64"), "{e}");
        let planes = super::Planes::Nv12 {
            y: (&y, 64),
            uv: (&uv[..64 * 24 - 64], 64),
        };
        assert!(super::to_rgb(&planes, 64, 46, super::Matrix::Bt709, false).is_ok());
    }

    #[test]
    fn converts_as_videoconvert_does_for_every_layout_matrix_and_range() {
        for (format, colorimetry, size) in [
            ("I420", "bt709", "width=1280,height=720"),
            ("NV12", "bt709", "width=1280,height=720"),
            ("I420", "bt601", "width=640,height=480"),
            ("NV12", "bt601", "width=642,height=362"),
            // Full range BT.601, as JPEG has it.
            ("I420", "1:4:0:0", "width=320,height=240"),
        ] {
            for pattern in ["smpte", "zone-plate", "gradient"] {
                let source = format!(
                    "videotestsrc num-buffers=2 pattern={pattern} \
                     ! video/x-raw,format={format},colorimetry={colorimetry},{size}"
                );
                let ours = frames(&source);
                let theirs = frames(&format!(
                    "{source} ! videoconvert chroma-resampler=nearest ! video/x-raw,format=RGB"
                ));
                assert_eq!(ours.len(), 2);
                for (a, b) in ours.iter().zip(&theirs) {
                    let psnr = piste_media::metrics::psnr(a, b);
                    let worst = a
                        .data
                        .iter()
                        .zip(&b.data)
                        .map(|(x, y)| x.abs_diff(*y))
                        .max();
                    // Colour bars' hard chroma edges are where chroma siting shows.
                    let ok = if pattern == "smpte" {
                        psnr > 32.0
                    } else {
                        psnr > 38.0 && worst <= Some(5)
                    };
                    assert!(
                        ok,
                        "{format} {colorimetry} {pattern}: {psnr:.1} dB, worst {worst:?}"
                    );
                }
            }
        }
    }
}
