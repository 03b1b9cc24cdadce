//! Image files in and out (the one place the replay commands decode and encode images: PNG,
//! and binary PPM for frames handed over decoded), and the progress bar they show.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use piste_media::{Mask, RgbImage};

/// Decodes a PNG into 8-bit RGB (grey, alpha and 16-bit images are converted).
pub fn read_png(path: &Path) -> Result<RgbImage> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("{}: not a readable PNG", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .with_context(|| format!("{}: damaged PNG data", path.display()))?;
    buf.truncate(info.buffer_size());
    let rgb: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|g| [*g, *g, *g]).collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => bail!("{}: indexed PNG was not expanded", path.display()),
    };
    RgbImage::new(info.width, info.height, rgb)
        .with_context(|| format!("{}: size does not match its data", path.display()))
}

/// How a clip stores its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FrameFormat {
    /// PNG: about half the bytes of the pixels, but each frame is inflated when read.
    Png,
    /// Binary PPM (`P6`): the pixels behind a short header, so reading a frame is a copy.
    Ppm,
}

impl FrameFormat {
    /// Every format.
    pub const ALL: [FrameFormat; 2] = [FrameFormat::Png, FrameFormat::Ppm];

    /// The file extension of frames in this format.
    pub fn extension(self) -> &'static str {
        match self {
            FrameFormat::Png => "png",
            FrameFormat::Ppm => "ppm",
        }
    }

    /// The path, in a clip directory, of camera `camera`'s frame `index` in this format.
    pub fn frame_path(self, camera: &str, index: usize) -> String {
        format!("frames/{camera}/{index:06}.{}", self.extension())
    }

    /// Reads a frame in this format.
    pub fn read(self, path: &Path) -> Result<RgbImage> {
        match self {
            FrameFormat::Png => read_png(path),
            FrameFormat::Ppm => read_ppm(path),
        }
    }

    /// Writes a frame in this format.
    pub fn write(self, path: &Path, image: &RgbImage) -> Result<()> {
        match self {
            FrameFormat::Png => write_png(path, image),
            FrameFormat::Ppm => write_ppm(path, image),
        }
    }
}

/// The most bytes a PPM header is read for (comments included).
const PPM_HEADER_MAX: usize = 1024;

/// Reads a binary PPM (`P6`, 8 bits per sample), reading the pixels straight into the image.
pub fn read_ppm(path: &Path) -> Result<RgbImage> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let mut head = Vec::with_capacity(PPM_HEADER_MAX);
    (&mut file)
        .take(PPM_HEADER_MAX as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let (width, height, start) = ppm_header(&head)
        .map_err(|e| anyhow::anyhow!("{}: not a binary PPM: {e}", path.display()))?;
    let size = u64::from(width) * u64::from(height) * 3;
    if len < start as u64 + size {
        bail!(
            "{}: truncated: {} bytes of pixels where {width}x{height} needs {size}",
            path.display(),
            len.saturating_sub(start as u64)
        );
    }
    file.seek(SeekFrom::Start(start as u64))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut data = Vec::with_capacity(size as usize);
    file.take(size)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() as u64 != size {
        bail!(
            "{}: truncated while read: {} bytes of pixels where {width}x{height} needs {size}",
            path.display(),
            data.len()
        );
    }
    RgbImage::new(width, height, data)
        .with_context(|| format!("{}: size does not match its data", path.display()))
}

/// Parses a `P6` header: width, height and where the pixels start. Comments (`#` to the end of
/// the line) may stand between the fields; the samples must be 8-bit (maxval 255).
fn ppm_header(bytes: &[u8]) -> std::result::Result<(u32, u32, usize), String> {
    if !bytes.starts_with(b"P6") {
        return Err("it does not start with P6".into());
    }
    let mut at = 2;
    let mut field = |name: &str| -> std::result::Result<u32, String> {
        loop {
            match bytes.get(at) {
                Some(b) if b.is_ascii_whitespace() => at += 1,
                Some(b'#') => {
                    while bytes.get(at).is_some_and(|b| *b != b'\n') {
                        at += 1;
                    }
                }
                Some(b) if b.is_ascii_digit() => break,
                Some(b) => return Err(format!("{name}: unexpected byte 0x{b:02x} at {at}")),
                None => return Err(format!("{name}: the header ends before it")),
            }
        }
        let digits = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = std::str::from_utf8(&bytes[at..at + digits]).expect("ASCII digits");
        at += digits;
        match text.parse::<u32>() {
            Ok(v) if v > 0 && v <= 1 << 16 => Ok(v),
            _ => Err(format!("{name} {text} is out of range (1 to 65536)")),
        }
    };
    let width = field("width")?;
    let height = field("height")?;
    let maxval = field("maxval")?;
    if maxval != 255 {
        return Err(format!(
            "maxval {maxval}: only 8-bit samples (maxval 255) are read"
        ));
    }
    // One whitespace byte ends the header.
    match bytes.get(at) {
        Some(b) if b.is_ascii_whitespace() => Ok((width, height, at + 1)),
        _ => Err("the header ends without the whitespace that precedes the pixels".into()),
    }
}

/// Writes an RGB image as binary PPM (`P6`).
pub fn write_ppm(path: &Path, image: &RgbImage) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    write!(out, "P6\n{} {}\n255\n", image.width, image.height)
        .and_then(|()| out.write_all(&image.data))
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Encodes an RGB image as PNG (fast compression: replays are written while the moment is live).
pub fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    write(
        path,
        image.width,
        image.height,
        png::ColorType::Rgb,
        &image.data,
    )
}

/// Encodes a mask as a black-and-white PNG.
pub fn write_mask(path: &Path, mask: &Mask) -> Result<()> {
    let data: Vec<u8> = mask.data.iter().map(|v| if *v { 255 } else { 0 }).collect();
    write(
        path,
        mask.width,
        mask.height,
        png::ColorType::Grayscale,
        &data,
    )
}

fn write(path: &Path, width: u32, height: u32, colour: png::ColorType, data: &[u8]) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(colour);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .write_image_data(data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A progress bar counting `len` `unit`s, labelled `prefix`; hidden when stderr is not a terminal.
pub fn progress_bar(len: u64, prefix: &'static str, unit: &str) -> indicatif::ProgressBar {
    let template = format!("{{prefix:>10}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{elapsed}}");
    let bar = indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(&template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RgbImage {
        let data = (0..7 * 5 * 3).map(|i| (i * 37 % 256) as u8).collect();
        RgbImage::new(7, 5, data).unwrap()
    }

    #[test]
    fn a_frame_comes_back_the_same_in_either_format() {
        let dir = tempfile::tempdir().unwrap();
        for format in FrameFormat::ALL {
            let path = dir.path().join(format!("f.{}", format.extension()));
            format.write(&path, &sample()).unwrap();
            let back = format.read(&path).unwrap();
            assert_eq!((back.width, back.height), (7, 5), "{format:?}");
            assert_eq!(back.data, sample().data, "{format:?}");
        }
    }

    #[test]
    fn a_ppm_header_may_hold_comments_and_any_whitespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ppm");
        let mut bytes = b"P6 # from a camera\n# 2 lines of comment\n7\t5\r\n255\n".to_vec();
        bytes.extend(&sample().data);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_ppm(&path).unwrap().data, sample().data);
    }

    #[test]
    fn a_bad_ppm_is_refused_with_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let pixels = sample().data;
        let cases: [(&str, Vec<u8>, &str); 7] = [
            (
                "magic.ppm",
                [b"P3\n7 5\n255\n".as_slice(), &pixels].concat(),
                "P6",
            ),
            (
                "deep.ppm",
                [b"P6\n7 5\n65535\n".as_slice(), &pixels].concat(),
                "maxval 65535",
            ),
            ("zero.ppm", b"P6\n0 5\n255\n".to_vec(), "width 0"),
            (
                "huge.ppm",
                b"P6\n4000000000 5\n255\n".to_vec(),
                "width 4000000000",
            ),
            ("short.ppm", b"P6\n7 5".to_vec(), "maxval: the header ends"),
            (
                "text.ppm",
                b"P6\n7 five\n255\n".to_vec(),
                "height: unexpected byte",
            ),
            (
                "cut.ppm",
                [b"P6\n7 5\n255\n".as_slice(), &pixels[..50]].concat(),
                "truncated: 50 bytes",
            ),
        ];
        for (name, bytes, reason) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let error = format!("{:#}", read_ppm(&path).unwrap_err());
            assert!(
                error.contains(name) && error.contains(reason),
                "{name}: {error}"
            );
        }
    }
}
