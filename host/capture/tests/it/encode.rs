//! Encoders: what goes in comes back out of a decoder, frame for frame.

use piste_capture::encode::{self, Still};
use piste_media::RgbImage;

/// A frame with a moving gradient and a square, so frames differ and errors show.
pub fn pattern(i: u32, width: u32, height: u32) -> RgbImage {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let inside = (x + 4 * i) % width < width / 4 && y > height / 3 && y < 2 * height / 3;
            let v = if inside {
                230
            } else {
                ((x * 255) / width) as u8
            };
            data.extend_from_slice(&[v, ((y * 255) / height) as u8, ((i * 8) % 256) as u8]);
        }
    }
    RgbImage::new(width, height, data).unwrap()
}

pub use piste_media::metrics::psnr;

/// Encodes `count` frames of the pattern at `width` x `height` to `path` as MP4 and checks
/// that every one decodes back, the same size, within 30 dB.
fn round_trip(path: &std::path::Path, count: u32, (width, height): (u32, u32)) {
    let frames: Vec<RgbImage> = (0..count).map(|i| pattern(i, width, height)).collect();
    encode::mp4(&frames, 25.0, path).unwrap();
    let back = encode::decode_file(path).unwrap();
    assert_eq!(back.len(), frames.len(), "frame count");
    for (i, (a, b)) in frames.iter().zip(&back).enumerate() {
        assert_eq!((b.width, b.height), (width, height));
        let p = psnr(a, b);
        assert!(p > 30.0, "frame {i}: {p:.1} dB");
    }
}

#[test]
fn an_mp4_decodes_back_to_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&dir.path().join("orbit.mp4"), 36, (320, 180));
}

#[test]
fn an_mp4_with_padded_chroma_rows_decodes_back_and_an_odd_size_is_refused() {
    // 162 wide: chroma rows of 81 bytes, padded to GStreamer's stride of 84; 90 high: an
    // odd number (45) of chroma rows.
    let dir = tempfile::tempdir().unwrap();
    round_trip(&dir.path().join("padded.mp4"), 12, (162, 90));
    // H.264 in 4:2:0 has no odd sides: a clear error, and no file.
    let odd = dir.path().join("odd.mp4");
    let err = encode::mp4([pattern(0, 161, 91)], 25.0, &odd)
        .unwrap_err()
        .to_string();
    assert!(err.contains("odd.mp4") && err.contains("161x91"), "{err}");
    assert!(!odd.exists());
}

#[test]
fn stills_decode_back() {
    let dir = tempfile::tempdir().unwrap();
    let frame = pattern(3, 200, 120);
    encode::still(&frame, Still::Png, &dir.path().join("s.png")).unwrap();
    encode::still(&frame, Still::Jpeg, &dir.path().join("s.jpg")).unwrap();
    let png = encode::decode_file(&dir.path().join("s.png")).unwrap();
    assert_eq!(png.len(), 1);
    assert_eq!(png[0].data, frame.data, "PNG is lossless");
    let jpg = encode::decode_file(&dir.path().join("s.jpg")).unwrap();
    assert!(psnr(&jpg[0], &frame) > 30.0);
}

#[test]
fn a_damaged_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mp4");
    std::fs::write(&path, b"not a video at all, just bytes").unwrap();
    let err = encode::decode_file(&path).unwrap_err().to_string();
    assert!(err.contains("bad.mp4"), "{err}");
    assert!(
        encode::mp4(&[], 25.0, &path)
            .unwrap_err()
            .to_string()
            .contains("no frames")
    );
}

#[test]
fn frames_made_as_the_encoder_takes_them_all_arrive() {
    // More frames than the encoder holds at once, each made only when asked for.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.mp4");
    encode::mp4((0..40).map(|i| pattern(i, 320, 180)), 25.0, &path).unwrap();
    let back = encode::decode_file(&path).unwrap();
    assert_eq!(back.len(), 40, "frame count");
    assert!(psnr(&back[39], &pattern(39, 320, 180)) > 30.0);
}

#[test]
fn a_frame_of_another_size_midway_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.mp4");
    let frames = (0..10).map(|i| {
        if i == 6 {
            pattern(i, 160, 90)
        } else {
            pattern(i, 320, 180)
        }
    });
    let err = encode::mp4(frames, 25.0, &path).unwrap_err().to_string();
    assert!(err.contains("320x180 and 160x90"), "{err}");
    assert!(err.contains("mixed.mp4"), "{err}");
}
