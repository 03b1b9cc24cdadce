//! Capture figures, each beside `ffmpeg` doing the same work in the same run: how many
//! 1280x720 25 fps cameras the box decodes in real time, cutting and decoding a 2-second
//! 12-camera clip from the replay buffer, encoding a 72-frame 1280x720 orbit, and the replay
//! buffer's memory over a long run of 12 cameras (buffered bytes and the process's RSS).

use piste_capture::encode;
use piste_capture::{CameraSpec, Decoder, Rig, RigConfig, SourceSpec};
use piste_media::RgbImage;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn ffmpeg(args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A 1280x720 frame of a moving scene, so the encoder has real work.
fn frame(i: u32) -> RgbImage {
    let (w, h) = (1280u32, 720u32);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let r = ((x + 3 * i) ^ y) as u8;
            let g = ((y + 2 * i) / 3) as u8;
            let b = (((x as i64 - 640).pow(2) + (y as i64 - 360).pow(2)) as u32 / 64 + i) as u8;
            data.extend_from_slice(&[r, g, b]);
        }
    }
    RgbImage::new(w, h, data).unwrap()
}

fn file_camera(id: String, ts: &Path) -> CameraSpec {
    // The recorded stream replayed at its own pace, as a live camera would send it.
    let description = format!(
        "filesrc location={} ! tsdemux ! h264parse ! identity sync=true",
        ts.display()
    );
    CameraSpec {
        id,
        source: SourceSpec::Launch {
            description,
            raw: false,
        },
    }
}

fn main() {
    piste_capture::init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ts = dir.path().join("cam.ts");
    // One camera's stream: 1280x720 at 25 fps, H.264 as venue encoders send it (GOP 25).
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25",
            "-t",
            "90",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-g",
            "25",
            "-b:v",
            "4M",
            "-f",
            "mpegts",
        ]
        .iter()
        .copied()
        .chain([ts.to_str().unwrap()])
        .collect::<Vec<_>>(),
    );

    // 1. Decoding 1280x720 H.264 on 2 cores: frames per second, as cameras in real time.
    let short = dir.path().join("short.ts");
    ffmpeg(&[
        "-i",
        ts.to_str().unwrap(),
        "-t",
        "12",
        "-c",
        "copy",
        short.to_str().unwrap(),
    ]);
    let start = Instant::now();
    let frames = encode::decode_file(&short).unwrap().len();
    let ours = frames as f64 / start.elapsed().as_secs_f64();
    let t_ff = ffmpeg(&[
        "-i",
        short.to_str().unwrap(),
        "-pix_fmt",
        "rgb24",
        "-f",
        "null",
        "-",
    ]);
    let theirs = frames as f64 / t_ff.as_secs_f64();
    println!("decode 1280x720 H.264 to RGB, {frames} frames:");
    println!(
        "  piste (GStreamer avdec_h264)  {ours:>6.0} fps = {:.1} cameras at 25 fps",
        ours / 25.0
    );
    println!(
        "  ffmpeg                        {theirs:>6.0} fps = {:.1} cameras",
        theirs / 25.0
    );
    println!("  ratio                         {:>6.2}", ours / theirs);
    println!(
        "  ingest itself keeps frames compressed (parse and buffer only): see the long run below"
    );

    // 2. A rig of 12 such cameras for a long run; then cut a 2-second clip from it.
    let cameras = (0..12)
        .map(|i| file_camera(format!("cam-{i:02}"), &ts))
        .collect();
    let bound = 192u64 << 20;
    let rig = Rig::start(RigConfig {
        cameras,
        fps: 25.0,
        buffer: Duration::from_secs(20),
        memory_bytes: bound,
        down_after: Duration::from_millis(800),
        decoder: Decoder::Auto,
    })
    .unwrap();
    let rig_decoder = rig.decoder();
    let rss_before = rss_bytes();
    let (mut peak_buffer, mut peak_rss) = (0u64, 0u64);
    let long = Duration::from_secs(60);
    let start = Instant::now();
    while start.elapsed() < long {
        std::thread::sleep(Duration::from_millis(250));
        peak_buffer = peak_buffer.max(rig.buffered_bytes());
        peak_rss = peak_rss.max(rss_bytes());
    }
    let status = rig.status();
    let rates: Vec<f64> = status.iter().map(|s| s.stats.rate).collect();
    let min_rate = rates.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "12 cameras 1280x720 25 fps (4 Mbit/s H.264) for {} s, buffer 20 s, bound {} MiB:",
        long.as_secs(),
        bound >> 20
    );
    println!(
        "  slowest camera                {min_rate:.1} fps (all {} up: {})",
        status.len(),
        status.iter().all(|s| s.up)
    );
    println!(
        "  buffered, peak                {:.1} MiB",
        peak_buffer as f64 / (1 << 20) as f64
    );
    println!(
        "  process RSS, peak             {:.1} MiB ({:.1} MiB before the run's buffer filled)",
        peak_rss as f64 / (1 << 20) as f64,
        rss_before as f64 / (1 << 20) as f64
    );
    println!(
        "  buffered seconds per camera   {:.1}",
        status
            .iter()
            .map(|s| s.buffered.as_secs_f64())
            .fold(f64::MAX, f64::min)
    );
    // 12 cameras x 20 s at this bitrate fit well under 2 GiB: 4 Mbit/s x 20 s x 12 = 120 MB.

    // Three cuts of the same 2 seconds, each beside ffmpeg decoding the same 2 seconds of 12
    // streams (12 processes at once); the median of each.
    let now = rig.now();
    let (t0, t1) = (
        now - Duration::from_millis(2500),
        now - Duration::from_millis(500),
    );
    let ffmpeg_cut = || {
        let start = Instant::now();
        let children: Vec<_> = (0..12)
            .map(|_| {
                Command::new("ffmpeg")
                    .args(["-hide_banner", "-loglevel", "error", "-ss", "30", "-i"])
                    .arg(&ts)
                    .args(["-t", "2", "-pix_fmt", "rgb24", "-f", "null", "-"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            c.wait().unwrap();
        }
        start.elapsed()
    };
    let (mut ours, mut theirs, mut clip) = (Vec::new(), Vec::new(), None);
    for _ in 0..3 {
        let start = Instant::now();
        clip = Some(rig.cut(t0, t1).unwrap());
        ours.push(start.elapsed());
        theirs.push(ffmpeg_cut());
    }
    rig.stop();
    let clip = clip.unwrap();
    let complete = clip
        .sets
        .iter()
        .filter(|s| s.frames.iter().all(|f| f.is_some()))
        .count();
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2].as_secs_f64() * 1000.0
    };
    let (t_cut, t_ff_cut) = (median(&mut ours), median(&mut theirs));
    println!(
        "cut and decode 2 s of 12 cameras ({} frame sets, {complete} complete), median of 3:",
        clip.sets.len()
    );
    println!(
        "  piste ({})                {t_cut:>6.0} ms (target <= 500 ms)",
        rig_decoder.name()
    );
    println!("  ffmpeg, 12 processes          {t_ff_cut:>6.0} ms");
    println!("  ratio                         {:>6.2}", t_cut / t_ff_cut);

    // 3. Encoding a 72-frame 1280x720 orbit to H.264 MP4.
    let frames: Vec<RgbImage> = (0..72).map(frame).collect();
    let raw = dir.path().join("orbit.rgb");
    std::fs::write(
        &raw,
        frames
            .iter()
            .flat_map(|f| f.data.iter().copied())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let start = Instant::now();
    encode::mp4(&frames, 25.0, &dir.path().join("orbit.mp4")).unwrap();
    let t_enc = start.elapsed();
    let t_ff_enc = ffmpeg(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        "1280x720",
        "-r",
        "25",
        "-i",
        raw.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-preset",
        "superfast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        dir.path().join("ff.mp4").to_str().unwrap(),
    ]);
    println!("encode a 72-frame 1280x720 orbit to H.264 MP4 (x264 superfast both):");
    println!(
        "  piste (GStreamer)             {:>6.0} ms (target <= 1000 ms)",
        t_enc.as_secs_f64() * 1000.0
    );
    println!(
        "  ffmpeg                        {:>6.0} ms",
        t_ff_enc.as_secs_f64() * 1000.0
    );
    println!(
        "  ratio                         {:>6.2}",
        t_enc.as_secs_f64() / t_ff_enc.as_secs_f64()
    );
}
