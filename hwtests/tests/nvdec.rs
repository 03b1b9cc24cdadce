//! NVDEC on a GPU box: twelve 1280x720 cameras cut and decoded on the GPU, every frame
//! checked against what was sent, and the time a 2-second cut takes (the capture target is
//! ≤ 500 ms). Runs with `PISTE_HWTEST_GPU=1`; `hwtests/gpu/run.sh` runs it on a GPU box.

use piste_capture::{CameraSpec, Decoder, Rig, RigConfig, SourceSpec, encode};
use piste_media::RgbImage;
use piste_media::metrics::psnr;
use std::time::{Duration, Instant};

const W: u32 = 1280;
const H: u32 = 720;
const FPS: f64 = 25.0;
/// Frames in the sent stream (20 s: the cameras play it once).
const FRAMES: u32 = 500;
/// Bits of the frame number drawn as blocks across the top of every frame.
const BITS: u32 = 16;
const BLOCK: u32 = W / BITS;
const BAR: u32 = 48;

/// Frame `i` of the sent stream: smooth moving gradients (an encoder's usual work) under a
/// bar code of `i`, so a decoded frame says which frame it is.
fn frame(i: u32) -> RgbImage {
    let wave = |v: u32, shift: u32, period: f32| {
        (128.0 + 100.0 * ((v + shift) as f32 / period).sin()) as u8
    };
    let red: Vec<u8> = (0..W).map(|x| wave(x, 8 * i, 60.0)).collect();
    let green: Vec<u8> = (0..H).map(|y| wave(y, 4 * i, 45.0)).collect();
    let mut data = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            let px = if y < BAR {
                let on = i >> (x / BLOCK) & 1 == 1;
                [if on { 235 } else { 16 }; 3]
            } else {
                [red[x as usize], green[y as usize], ((x + y) / 8) as u8]
            };
            data.extend_from_slice(&px);
        }
    }
    RgbImage::new(W, H, data).expect("sized")
}

/// The frame number a decoded frame's bar code says.
fn number(image: &RgbImage) -> u32 {
    (0..BITS)
        .filter(|b| image.data[(((BAR / 2) * W + b * BLOCK + BLOCK / 2) * 3) as usize] > 128)
        .fold(0, |n, b| n | 1 << b)
}

#[test]
fn twelve_cameras_cut_and_decode_on_nvdec() {
    if !piste_hwtests::enabled("PISTE_HWTEST_GPU", "an NVIDIA GPU with NVDEC") {
        return;
    }
    // `PISTE_HWTEST_DECODER=software` runs the same checks on the CPU, for comparison.
    let decoder: Decoder = std::env::var("PISTE_HWTEST_DECODER")
        .map_or(Ok(Decoder::Nvdec), |w| w.parse())
        .unwrap();
    let name = decoder.name();
    let dir = tempfile::tempdir().unwrap();
    let sent: Vec<RgbImage> = (0..FRAMES).map(frame).collect();
    let mp4 = std::env::var("PISTE_HWTEST_KEEP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("cam.mp4"));
    encode::mp4(&sent, FPS, &mp4).unwrap();
    let cameras = (0..12)
        .map(|i| CameraSpec {
            id: format!("cam-{i:02}"),
            // The stream replayed at its own pace, as a live camera sends it.
            source: SourceSpec::Launch {
                description: format!(
                    "filesrc location={} ! qtdemux ! h264parse ! identity sync=true",
                    mp4.display()
                ),
                raw: false,
            },
        })
        .collect();
    let start = Instant::now();
    let rig = Rig::start(RigConfig {
        cameras,
        fps: FPS,
        buffer: Duration::from_secs(20),
        memory_bytes: 192 << 20,
        down_after: Duration::from_millis(800),
        decoder,
    })
    .unwrap();
    assert_eq!(rig.decoder(), decoder);
    println!(
        "{name}: rig started, decoder ready, in {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    let start = Instant::now();
    // Long enough for the rig to open every camera's decoder in the background.
    while start.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rig.status().iter().all(|s| s.up), "{:?}", rig.status());
    // Three cuts through the same decoders, each of a later stretch: each must hold the
    // frames sent then, in order, none left over from the cut before.
    let mut times = Vec::new();
    let (mut worst, mut complete, mut decoded) = (f64::INFINITY, usize::MAX, 0);
    let mut clip = None;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        let now = rig.now();
        let start = Instant::now();
        let cut = rig
            .cut(
                now - Duration::from_millis(2500),
                now - Duration::from_millis(500),
            )
            .unwrap();
        times.push(start.elapsed());
        complete = complete.min(
            cut.sets
                .iter()
                .filter(|s| s.frames.iter().all(|f| f.is_some()))
                .count(),
        );
        for c in 0..cut.cameras.len() {
            let numbers: Vec<u32> = cut
                .sets
                .iter()
                .filter_map(|s| s.frames[c].as_ref())
                .map(|(_, image)| {
                    let n = number(image);
                    assert!(n < FRAMES, "a decoded frame reads as frame {n}");
                    worst = worst.min(psnr(image, &sent[n as usize]));
                    n
                })
                .collect();
            assert!(
                numbers.windows(2).all(|w| w[1] == w[0] + 1),
                "camera {c}: frames {numbers:?}"
            );
            decoded += numbers.len();
        }
        clip = Some(cut);
    }
    rig.stop();
    let clip = clip.unwrap();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: cut and decode 2 s of 12 cameras, 3 times ({} frame sets in the last, at least {complete} complete; {decoded} frames in all)",
        clip.sets.len()
    );
    println!(
        "{name}: cuts took {:.0} ms, {:.0} ms and {:.0} ms (target <= 500 ms)",
        ms(&times[0]),
        ms(&times[1]),
        ms(&times[2])
    );
    println!("{name}: worst frame against what was sent {worst:.1} dB");
    assert!(complete >= 45, "{complete} complete frame sets");
    assert!(
        worst > 30.0,
        "a decoded frame is {worst:.1} dB from what was sent"
    );
}
