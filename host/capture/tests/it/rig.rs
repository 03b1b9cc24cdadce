//! A rig of cameras fed by senders nobody here wrote: `gst-launch-1.0` and `ffmpeg`
//! streaming MPEG-TS over UDP and SRT on loopback, GStreamer's RTSP server, plus a
//! program's frames through appsrc.

use piste_capture::{CameraSpec, Decoder, FrameSource, Rig, RigConfig, SourceSpec};
use piste_media::RgbImage;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sender process, killed on drop.
struct Sender(Child);

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[String]) -> Sender {
    Sender(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} starts (cargo xtask setup installs it): {e}")),
    )
}

/// `gst-launch-1.0` running a pipeline (its elements separated by single spaces).
fn gst_launch(pipeline: &str) -> Sender {
    spawn(
        "gst-launch-1.0",
        &["-q".into()]
            .into_iter()
            .chain(pipeline.split(' ').map(String::from))
            .collect::<Vec<_>>(),
    )
}

/// A live test pattern as H.264 in MPEG-TS, sent by `sink`.
fn gst_mpegts(pattern: &str, sink: &str) -> Sender {
    gst_launch(&format!(
        "videotestsrc is-live=true pattern={pattern} ! video/x-raw,width=320,height=180,framerate=25/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! mpegtsmux ! {sink}"
    ))
}

fn gst_udp(port: u16) -> Sender {
    gst_mpegts("ball", &format!("udpsink host=127.0.0.1 port={port}"))
}

fn gst_srt(port: u16) -> Sender {
    gst_mpegts(
        "smpte",
        &format!("srtsink uri=srt://127.0.0.1:{port}?mode=caller latency=50"),
    )
}

fn ffmpeg(url: String) -> Sender {
    let args = "-hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x180:rate=25 -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -f mpegts";
    spawn(
        "ffmpeg",
        &args
            .split(' ')
            .map(String::from)
            .chain([url])
            .collect::<Vec<_>>(),
    )
}

fn udp_source(port: u16) -> SourceSpec {
    SourceSpec::Launch {
        description: format!("udpsrc port={port} caps=video/mpegts,systemstream=true ! tsdemux"),
        raw: false,
    }
}

fn srt_source(port: u16) -> SourceSpec {
    SourceSpec::Launch {
        description: format!(
            "srtsrc uri=srt://127.0.0.1:{port}?mode=listener latency=50 ! tsdemux"
        ),
        raw: false,
    }
}

fn config(cameras: Vec<CameraSpec>) -> RigConfig {
    RigConfig {
        cameras,
        fps: 25.0,
        buffer: Duration::from_secs(6),
        memory_bytes: 256 << 20,
        down_after: Duration::from_millis(700),
        decoder: Decoder::Auto,
    }
}

/// The frame sets from 2.5 s to 0.5 s ago.
fn last_two_seconds(rig: &Rig) -> piste_capture::Clip {
    let now = rig.now();
    rig.cut(
        now - Duration::from_millis(2500),
        now - Duration::from_millis(500),
    )
    .unwrap()
}

fn wait_for(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn four_outside_senders_over_udp_and_srt_are_in_step_and_faults_are_contained() {
    let ports: Vec<u16> = (0..5).map(|_| free_udp_port()).collect();
    let cams = vec![
        CameraSpec {
            id: "gst-udp".into(),
            source: udp_source(ports[0]),
        },
        CameraSpec {
            id: "ffmpeg-udp".into(),
            source: udp_source(ports[1]),
        },
        CameraSpec {
            id: "gst-srt".into(),
            source: srt_source(ports[2]),
        },
        CameraSpec {
            id: "ffmpeg-srt".into(),
            source: srt_source(ports[3]),
        },
        CameraSpec {
            id: "garbage".into(),
            source: udp_source(ports[4]),
        },
    ];
    let rig = Rig::start(config(cams)).unwrap();
    let mut gst_udp_sender = Some(gst_udp(ports[0]));
    let _ffmpeg_udp = ffmpeg(format!("udp://127.0.0.1:{}?pkt_size=1316", ports[1]));
    let _gst_srt = gst_srt(ports[2]);
    let _ffmpeg_srt = ffmpeg(format!(
        "srt://127.0.0.1:{}?mode=caller&latency=50000",
        ports[3]
    ));
    // A sender of random bytes.
    let garbage_port = ports[4];
    let stop_garbage = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let g = stop_garbage.clone();
    let garbage = std::thread::spawn(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut x = 0x1234_5678_9abc_def0u64;
        while !g.load(std::sync::atomic::Ordering::SeqCst) {
            let packet: Vec<u8> = (0..1316)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = sock.send_to(&packet, ("127.0.0.1", garbage_port));
            std::thread::sleep(Duration::from_millis(2));
        }
    });

    let up = |rig: &Rig, id: &str| rig.status().iter().any(|s| s.id == id && s.up);
    for id in ["gst-udp", "ffmpeg-udp", "gst-srt", "ffmpeg-srt"] {
        wait_for(Duration::from_secs(20), &format!("{id} up"), || {
            up(&rig, id)
        });
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(!up(&rig, "garbage"), "random bytes make no camera");

    // Frame sets of the last two seconds: every camera in step within half a period.
    let clip = last_two_seconds(&rig);
    assert_eq!(clip.down, vec!["garbage".to_owned()]);
    let live = 4;
    let complete = clip
        .sets
        .iter()
        .filter(|s| s.frames.iter().take(live).all(|f| f.is_some()))
        .count();
    assert!(clip.sets.len() >= 40, "{} sets in 2 s", clip.sets.len());
    assert!(
        complete as f64 >= 0.9 * clip.sets.len() as f64,
        "{complete} of {} sets have every camera",
        clip.sets.len()
    );
    for set in &clip.sets {
        for (t, frame) in set.frames.iter().flatten() {
            assert!(
                t.abs_diff(set.t) <= Duration::from_millis(20),
                "in step within half a period"
            );
            assert_eq!((frame.width, frame.height), (320, 180));
        }
    }
    for s in rig.status().iter().take(live) {
        assert!(
            (s.stats.rate - 25.0).abs() < 3.0,
            "{} at {:.1} fps",
            s.id,
            s.stats.rate
        );
    }

    // A sender that stops is detected within a second, and the others never stall.
    let before: Vec<u64> = rig.status().iter().map(|s| s.stats.frames).collect();
    let stopped = Instant::now();
    drop(gst_udp_sender.take());
    let detected = wait_for(Duration::from_secs(3), "gst-udp down", || {
        !up(&rig, "gst-udp")
    });
    assert!(
        detected <= Duration::from_secs(1),
        "detected after {detected:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let after: Vec<u64> = rig.status().iter().map(|s| s.stats.frames).collect();
    for i in 1..live {
        let got = after[i] - before[i];
        let expected = 25.0 * stopped.elapsed().as_secs_f64();
        assert!(
            got as f64 > 0.7 * expected,
            "camera {i} kept streaming: {got} frames in {:?}",
            stopped.elapsed()
        );
    }
    // It comes back when the sender does.
    let _gst_udp_again = gst_udp(ports[0]);
    wait_for(Duration::from_secs(10), "gst-udp back up", || {
        up(&rig, "gst-udp")
    });
    stop_garbage.store(true, std::sync::atomic::Ordering::SeqCst);
    garbage.join().unwrap();
    rig.stop();
}

/// A moving pattern, as a program's frames.
struct Pattern;

impl FrameSource for Pattern {
    fn width(&self) -> u32 {
        320
    }
    fn height(&self) -> u32 {
        180
    }
    fn frame(&self, index: u64) -> Option<RgbImage> {
        Some(super::encode::pattern(index as u32, 320, 180))
    }
}

#[test]
fn a_programs_frames_go_through_the_same_path_and_the_memory_bound_holds() {
    let mut cfg = config(vec![
        CameraSpec {
            id: "sim-1".into(),
            source: SourceSpec::Frames(Arc::new(Pattern)),
        },
        CameraSpec {
            id: "sim-2".into(),
            source: SourceSpec::Frames(Arc::new(Pattern)),
        },
    ]);
    cfg.memory_bytes = 600_000;
    let rig = Rig::start(cfg).unwrap();
    wait_for(Duration::from_secs(10), "both cameras up", || {
        rig.status().iter().all(|s| s.up)
    });
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        peak = peak.max(rig.buffered_bytes());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Between two supervisor ticks a camera adds at most a tenth of a second of frames.
    assert!(peak <= 600_000 + 400_000, "peak {peak} bytes");
    let now = rig.now();
    let clip = rig
        .cut(
            now - Duration::from_millis(800),
            now - Duration::from_millis(200),
        )
        .unwrap();
    assert!(clip.down.is_empty());
    assert!(clip.sets.len() >= 12, "{} sets", clip.sets.len());
    // The frames decode to what was fed, give or take the encoder.
    let (_, frame) = clip.sets.iter().find_map(|s| s.frames[0].clone()).unwrap();
    let best = (0..400u32)
        .map(|i| super::encode::psnr(&frame, &super::encode::pattern(i, 320, 180)))
        .fold(0.0f64, f64::max);
    assert!(best > 28.0, "decoded frame matches a fed one: {best:.1} dB");
}

#[test]
fn a_source_that_does_not_parse_names_its_camera() {
    let cams = vec![CameraSpec {
        id: "cam-7".into(),
        source: SourceSpec::Launch {
            description: "udpsrc port=x ! ! tsdemux".into(),
            raw: false,
        },
    }];
    let err = Rig::start(config(cams)).err().unwrap().to_string();
    assert!(err.contains("cam-7") && err.contains("udpsrc"), "{err}");
}

#[test]
fn the_decoder_is_nvdec_exactly_where_the_box_has_one() {
    piste_capture::init().unwrap();
    let has_nvdec = gstreamer::ElementFactory::find("nvh264dec").is_some();
    let auto = Decoder::Auto.resolve().unwrap();
    assert_eq!(
        auto,
        if has_nvdec {
            Decoder::Nvdec
        } else {
            Decoder::Software
        }
    );
    assert_eq!(Decoder::Software.resolve().unwrap(), Decoder::Software);
    match Decoder::Nvdec.resolve() {
        Ok(d) => assert!(has_nvdec && d == Decoder::Nvdec),
        Err(e) => {
            let e = e.to_string();
            assert!(
                !has_nvdec && e.contains("nvdec") && e.contains("no NVIDIA GPU"),
                "{e}"
            );
        }
    }
    for d in [Decoder::Auto, Decoder::Software, Decoder::Nvdec] {
        assert_eq!(d.name().parse::<Decoder>().unwrap(), d);
    }
    let e = "nvenc".parse::<Decoder>().unwrap_err();
    assert!(
        e.contains("nvenc") && e.contains("auto, software or nvdec"),
        "{e}"
    );
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GStreamer's RTSP server (through Debian's Python bindings) serving a live test pattern.
fn rtsp_server(port: u16) -> Sender {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rtsp_server.py");
    spawn("/usr/bin/python3", &[script.into(), port.to_string()])
}

#[test]
fn an_rtsp_camera_streams_stops_and_comes_back() {
    let port = free_tcp_port();
    let mut server = Some(rtsp_server(port));
    let rig = Rig::start(config(vec![CameraSpec {
        id: "rtsp".into(),
        source: SourceSpec::Launch {
            description: format!(
                "rtspsrc location=rtsp://127.0.0.1:{port}/cam latency=50 protocols=tcp ! rtph264depay"
            ),
            raw: false,
        },
    }]))
    .unwrap();
    let up = |rig: &Rig| rig.status().iter().any(|s| s.id == "rtsp" && s.up);
    wait_for(Duration::from_secs(20), "rtsp up", || up(&rig));
    std::thread::sleep(Duration::from_secs(3));
    let clip = last_two_seconds(&rig);
    assert!(clip.down.is_empty(), "{:?}", clip.down);
    assert!(clip.sets.len() >= 40, "{} sets in 2 s", clip.sets.len());
    for (_, frame) in clip.sets.iter().flat_map(|s| s.frames.iter().flatten()) {
        assert_eq!((frame.width, frame.height), (320, 180));
    }
    let rate = rig.status()[0].stats.rate;
    assert!((rate - 25.0).abs() < 3.0, "{rate:.1} fps");

    // The server goes away: down within a second; back when it returns.
    drop(server.take());
    let detected = wait_for(Duration::from_secs(3), "rtsp down", || !up(&rig));
    assert!(
        detected <= Duration::from_secs(1),
        "detected after {detected:?}"
    );
    server = Some(rtsp_server(port));
    wait_for(Duration::from_secs(20), "rtsp back up", || up(&rig));
    drop(server);
    rig.stop();
}
