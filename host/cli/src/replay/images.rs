//! PNG files in and out (the one place the replay commands decode and encode images),
//! and the progress bar they show.

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
