//! Both ends of the protocol over a simulated lossy network with a simulated clock: a link
//! with latency and bandwidth that corrupts chunks and drops the connection at random, a
//! real `piste-store` on the edge, and an in-memory archive that keeps what it staged.

use piste_store::{CHUNK_SIZE, Hash, Manifest, Priority, Rendition, Store, StoreOptions};
use piste_sync::{
    Backlog, EdgeConfig, EdgeEvent, EdgeSession, ErrorCode, Frame, Have, IngestOutput,
    IngestSession, Offer, Transmit, decode, encode, encode_chunk_header,
};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

/// A small deterministic generator, so every run of a seed is the same run.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..8 {
            r.next();
        }
        r
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1e6 < p
    }
}

/// The archive's durable state: it outlives connections.
#[derive(Default)]
struct Archive {
    stored: BTreeMap<Hash, Vec<u8>>,
    staging: BTreeMap<Hash, Vec<u8>>,
    catalog: BTreeMap<Hash, Vec<u8>>,
    commits: BTreeMap<Hash, u32>,
    receipt_order: Vec<Hash>,
    refused_chunks: u64,
}

impl Archive {
    /// Carries out the session's work, feeding answers back, and returns frames to send.
    fn drive(&mut self, s: &mut IngestSession) -> Vec<Frame> {
        let mut send = Vec::new();
        while let Some(out) = s.poll_output() {
            match out {
                IngestOutput::Send(f) => {
                    if let Frame::Receipt { asset } = &f {
                        self.receipt_order.push(*asset);
                    }
                    send.push(f)
                }
                IngestOutput::Lookup { asset, blobs } => {
                    let have: Vec<Have> = blobs
                        .iter()
                        .map(|b| {
                            match (self.stored.contains_key(&b.hash), self.staging.get(&b.hash)) {
                                (true, _) => Have::Stored,
                                (false, Some(st)) => Have::Staged(
                                    (st.len() / CHUNK_SIZE) as u32
                                        + u32::from(
                                            st.len() as u64 == b.size
                                                && b.size % CHUNK_SIZE as u64 != 0,
                                        ),
                                ),
                                (false, None) => Have::Staged(0),
                            }
                        })
                        .collect();
                    s.handle_lookup(asset, self.catalog.contains_key(&asset), &have);
                }
                IngestOutput::WriteChunk {
                    blob, offset, data, ..
                } => {
                    let st = self.staging.entry(blob).or_default();
                    assert_eq!(st.len() as u64, offset, "chunks are staged in order");
                    st.extend_from_slice(&data);
                }
                IngestOutput::FinishBlob(b) => {
                    let st = self.staging.remove(&b.hash).unwrap_or_default();
                    if Hash::of(&st) == b.hash {
                        self.stored.entry(b.hash).or_insert(st);
                        s.handle_blob_stored(b.hash, Ok(()));
                    } else {
                        s.handle_blob_stored(b.hash, Err("whole-file hash differs".into()));
                    }
                }
                IngestOutput::Commit {
                    asset,
                    bytes,
                    manifest,
                } => {
                    assert!(
                        manifest
                            .renditions
                            .iter()
                            .all(|r| self.stored.contains_key(&r.hash)),
                        "files before the row"
                    );
                    if self.catalog.insert(asset, bytes).is_none() {
                        *self.commits.entry(asset).or_default() += 1;
                    }
                    s.handle_committed(asset);
                }
                IngestOutput::Refused { .. }
                | IngestOutput::Backlog(_)
                | IngestOutput::Closed { .. } => {}
            }
        }
        self.refused_chunks += s.chunks_refused;
        s.chunks_refused = 0;
        send
    }
}

fn offer_for(store: &Store, id: Hash) -> Offer {
    piste_sync::client::offer_for(store, &id).unwrap()
}

fn read_chunk(store: &Store, blob: &Hash, offset: u64, len: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(store.blob_path(blob)).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

fn add_asset(store: &Store, event: &str, priority: Priority, sizes: &[usize], seed: u64) -> Hash {
    let mut rng = Rng::new(seed);
    let mut infos = Vec::new();
    let mut renditions = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let info = store.put_bytes(&data).unwrap();
        renditions.push(Rendition {
            name: format!("r{i}.bin"),
            media_type: "application/octet-stream".into(),
            size: info.size,
            hash: info.hash,
        });
        infos.push(info);
    }
    let m = Manifest {
        venue: "cortina".into(),
        event: event.into(),
        captured_ms: seed,
        created_ms: seed,
        priority,
        renditions,
        tags: vec![],
        captions: vec![],
        routes: vec![],
    };
    store.add(&m, &infos).unwrap()
}

struct Net {
    latency: Duration,
    /// Bytes per second each way.
    bandwidth: f64,
    corrupt: f64,
    drop: f64,
}

struct Outcome {
    archive: Archive,
    elapsed: Duration,
    sent_bytes: u64,
    chunk_bytes: u64,
    connections: u32,
}

/// Runs the edge against the archive until the outbox is empty (or the time limit).
fn run(store: &Store, net: Net, config: EdgeConfig, seed: u64, limit: Duration) -> Outcome {
    let start = Instant::now();
    let mut now = start;
    let mut rng = Rng::new(seed);
    let mut archive = Archive::default();
    let mut out = Outcome {
        archive: Archive::default(),
        elapsed: Duration::ZERO,
        sent_bytes: 0,
        chunk_bytes: 0,
        connections: 0,
    };
    let step = Duration::from_micros(200);
    while now - start < limit && !store.pending(1).unwrap().is_empty() {
        out.connections += 1;
        let mut edge = EdgeSession::new(config.clone(), Backlog::default(), now);
        let mut ingest = IngestSession::new("cortina", "sim-archive");
        // In-flight frames each way: (arrival time, encoded bytes).
        let mut up: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let mut down: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let mut up_free = now;
        let mut down_free = now;
        let mut broken = false;
        while !broken && now - start < limit {
            // Edge: keep the pipeline of offers full, then send what the rate cap allows,
            // while the link's send buffer (a stand-in for QUIC flow control) has room.
            for (id, _) in store.pending(64).unwrap() {
                if edge.wants_offers() == 0 {
                    break;
                }
                if !edge.is_offered(&id) {
                    edge.offer(offer_for(store, id));
                }
            }
            while up_free < now + Duration::from_millis(20) {
                let Some(t) = edge.poll_transmit(now) else {
                    break;
                };
                let mut bytes = match t {
                    Transmit::Frame(f) => encode(&f),
                    Transmit::Chunk {
                        blob,
                        index,
                        offset,
                        len,
                    } => {
                        out.chunk_bytes += len as u64;
                        let mut b = encode_chunk_header(&blob, index, len);
                        b.extend_from_slice(&read_chunk(store, &blob, offset, len));
                        b
                    }
                };
                if bytes.len() > 1000 && rng.chance(net.corrupt) {
                    let n = bytes.len();
                    let at = n - 1 - (rng.next() as usize % 500);
                    bytes[at] ^= 0x5a;
                }
                out.sent_bytes += bytes.len() as u64;
                up_free =
                    up_free.max(now) + Duration::from_secs_f64(bytes.len() as f64 / net.bandwidth);
                up.push_back((up_free + net.latency, bytes));
                if rng.chance(net.drop) {
                    broken = true;
                    break;
                }
            }
            // Deliver what has arrived.
            while up.front().is_some_and(|(t, _)| *t <= now) {
                let (_, bytes) = up.pop_front().unwrap();
                ingest.handle_frame(decode(&bytes[4..]).expect("frames decode"));
                for f in archive.drive(&mut ingest) {
                    let bytes = encode(&f);
                    down_free = down_free.max(now)
                        + Duration::from_secs_f64(bytes.len() as f64 / net.bandwidth);
                    down.push_back((down_free + net.latency, bytes));
                }
            }
            while down.front().is_some_and(|(t, _)| *t <= now) {
                let (_, bytes) = down.pop_front().unwrap();
                edge.handle_frame(decode(&bytes[4..]).unwrap(), now);
            }
            while let Some(ev) = edge.poll_event() {
                match ev {
                    EdgeEvent::Archived(id) => {
                        store.mark_archived(&id, 1).unwrap();
                    }
                    EdgeEvent::Closed { code, message } => {
                        panic!("session closed: {code:?} {message}")
                    }
                    EdgeEvent::Refused { reason, .. } => panic!("refused: {reason}"),
                    EdgeEvent::Welcomed { .. } => {}
                }
            }
            if store.pending(1).unwrap().is_empty() {
                break;
            }
            now += step;
        }
        // A broken connection loses everything in flight; reconnecting takes a while.
        now += Duration::from_millis(300);
    }
    out.elapsed = now - start;
    out.archive = archive;
    out
}

fn check_exactly_once(store: &Store, archive: &Archive, ids: &[Hash]) {
    assert!(store.pending(1).unwrap().is_empty(), "the outbox is empty");
    for id in ids {
        assert_eq!(
            archive.commits.get(id),
            Some(&1),
            "asset {} committed exactly once",
            id.short()
        );
        let m = Manifest::from_bytes(&archive.catalog[id]).unwrap();
        for r in &m.renditions {
            assert_eq!(
                Hash::of(&archive.stored[&r.hash]),
                r.hash,
                "file {} verifies",
                r.name
            );
        }
    }
}

#[test]
fn everything_arrives_exactly_once_through_a_lossy_network() {
    for seed in [1u64, 7, 42] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let mut ids = Vec::new();
        for i in 0..12u64 {
            let sizes: &[usize] = match i % 3 {
                0 => &[],
                1 => &[3 * CHUNK_SIZE + 1234, 5000],
                _ => &[700_000],
            };
            let priority = Priority::ALL[(i % 3) as usize];
            ids.push(add_asset(
                &store,
                &format!("e{i}"),
                priority,
                sizes,
                seed * 100 + i,
            ));
        }
        let net = Net {
            latency: Duration::from_millis(25),
            bandwidth: 50e6,
            corrupt: 0.1,
            drop: 0.08,
        };
        let out = run(
            &store,
            net,
            EdgeConfig::default(),
            seed,
            Duration::from_secs(120),
        );
        check_exactly_once(&store, &out.archive, &ids);
        assert!(
            out.connections > 1,
            "seed {seed}: the connection broke at least once"
        );
        assert!(
            out.archive.refused_chunks > 0,
            "seed {seed}: corrupted chunks were refused"
        );
    }
}

#[test]
fn metadata_overtakes_bulk_and_the_rate_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let bulk = add_asset(&store, "raw", Priority::Bulk, &[12 * CHUNK_SIZE], 5);
    let tags: Vec<Hash> = (0..5)
        .map(|i| {
            add_asset(
                &store,
                &format!("tags{i}"),
                Priority::Metadata,
                &[300],
                10 + i,
            )
        })
        .collect();
    let render = add_asset(&store, "orbit", Priority::Render, &[2 * CHUNK_SIZE], 20);
    let rate = 4_000_000u64;
    let net = Net {
        latency: Duration::from_millis(10),
        bandwidth: 100e6,
        corrupt: 0.0,
        drop: 0.0,
    };
    let config = EdgeConfig {
        rate: Some(rate),
        ..EdgeConfig::default()
    };
    let out = run(&store, net, config, 3, Duration::from_secs(60));
    let mut all = tags.clone();
    all.extend([bulk, render]);
    check_exactly_once(&store, &out.archive, &all);
    let order = &out.archive.receipt_order;
    let pos = |id: &Hash| order.iter().position(|x| x == id).unwrap();
    assert!(
        tags.iter().all(|t| pos(t) < pos(&render)) && pos(&render) < pos(&bulk),
        "metadata, then renders, then bulk: {order:?}"
    );
    // The cap: no more than rate × time plus one burst.
    let allowed = rate as f64 * out.elapsed.as_secs_f64() + (CHUNK_SIZE as f64 + 64.0) * 2.0;
    assert!(
        (out.sent_bytes as f64) <= allowed,
        "{} bytes in {:?} at {rate} B/s",
        out.sent_bytes,
        out.elapsed
    );
    // And it is a cap, not a stall: within 15 % of the rate.
    let achieved = out.sent_bytes as f64 / out.elapsed.as_secs_f64();
    assert!(
        achieved > 0.85 * rate as f64,
        "achieved {achieved:.0} B/s of {rate}"
    );
}

#[test]
fn a_resumed_file_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let id = add_asset(&store, "big", Priority::Render, &[40 * CHUNK_SIZE], 9);
    // Drops only, no corruption: every chunk that arrived stays staged.
    let net = Net {
        latency: Duration::from_millis(5),
        bandwidth: 200e6,
        corrupt: 0.0,
        drop: 0.05,
    };
    let out = run(
        &store,
        net,
        EdgeConfig::default(),
        11,
        Duration::from_secs(60),
    );
    check_exactly_once(&store, &out.archive, &[id]);
    let size = 40 * CHUNK_SIZE as u64;
    let resent = out.chunk_bytes - size;
    // What is re-sent is only what was in flight when the link broke: at most the send
    // buffer and the bytes on the wire (25 ms at 200 MB/s), and a chunk, per broken connection.
    let per_break = (0.025 * 200e6) as u64 + CHUNK_SIZE as u64;
    assert!(out.connections > 1);
    assert!(
        resent <= per_break * (out.connections as u64 - 1),
        "{resent} bytes re-sent over {} connections",
        out.connections
    );
}

#[test]
fn versions_that_do_not_meet_are_refused_clearly() {
    let mut s = IngestSession::new("cortina", "a1");
    s.handle_frame(Frame::Hello {
        min_version: 2,
        max_version: 3,
        backlog: Backlog::default(),
    });
    let Some(IngestOutput::Send(Frame::Goodbye { code, message })) = s.poll_output() else {
        panic!()
    };
    assert_eq!(code, ErrorCode::VersionMismatch);
    assert!(
        message.contains("2 to 3") && message.contains("1 to 1") && message.contains("update"),
        "{message}"
    );
    assert!(s.is_closed());
    // The edge reports the archive's message as it is.
    let mut e = EdgeSession::new(EdgeConfig::default(), Backlog::default(), Instant::now());
    e.handle_frame(
        Frame::Goodbye {
            code,
            message: message.clone(),
        },
        Instant::now(),
    );
    assert_eq!(e.poll_event(), Some(EdgeEvent::Closed { code, message }));
}

#[test]
fn an_appliance_may_write_only_its_own_venue() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let id = add_asset(&store, "x", Priority::Render, &[1000], 1);
    let mut s = IngestSession::new("val-di-fiemme", "a1");
    s.handle_frame(Frame::Hello {
        min_version: 1,
        max_version: 1,
        backlog: Backlog::default(),
    });
    s.handle_frame(Frame::Offer(offer_for(&store, id)));
    let outputs: Vec<IngestOutput> = std::iter::from_fn(|| s.poll_output()).collect();
    assert!(outputs.iter().any(|o| matches!(o, IngestOutput::Send(Frame::Refused { asset, reason }) if *asset == id && reason.contains("\"val-di-fiemme\" may not write assets of venue \"cortina\""))), "{outputs:?}");
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o, IngestOutput::Lookup { .. }))
    );
}

#[test]
fn frames_out_of_turn_end_the_session() {
    let mut s = IngestSession::new("cortina", "a1");
    s.handle_frame(Frame::Chunk {
        blob: Hash::of(b""),
        index: 0,
        data: vec![1],
    });
    assert!(s.is_closed());
    let outputs: Vec<IngestOutput> = std::iter::from_fn(|| s.poll_output()).collect();
    assert!(
        matches!(&outputs[0], IngestOutput::Send(Frame::Goodbye { code: ErrorCode::ProtocolViolation, message }) if message.contains("Chunk")),
        "{outputs:?}"
    );
}

#[test]
fn a_truncated_or_corrupt_chunk_is_refused_and_asked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let id = add_asset(&store, "x", Priority::Render, &[CHUNK_SIZE + 10], 3);
    let offer = offer_for(&store, id);
    let blob = offer.blobs[0].hash;
    let mut s = IngestSession::new("cortina", "a1");
    s.handle_frame(Frame::Hello {
        min_version: 1,
        max_version: 1,
        backlog: Backlog::default(),
    });
    s.handle_frame(Frame::Offer(offer));
    let mut archive = Archive::default();
    archive.drive(&mut s);
    let good = read_chunk(&store, &blob, 0, CHUNK_SIZE);
    // Cut short on the way.
    s.handle_frame(Frame::Chunk {
        blob,
        index: 0,
        data: good[..CHUNK_SIZE / 2].to_vec(),
    });
    let out: Vec<IngestOutput> = std::iter::from_fn(|| s.poll_output()).collect();
    assert_eq!(
        out,
        vec![IngestOutput::Send(Frame::Nack { blob, index: 0 })]
    );
    // One bit flipped on the way.
    let mut flipped = good.clone();
    flipped[777] ^= 1;
    s.handle_frame(Frame::Chunk {
        blob,
        index: 0,
        data: flipped,
    });
    let out: Vec<IngestOutput> = std::iter::from_fn(|| s.poll_output()).collect();
    assert_eq!(
        out,
        vec![IngestOutput::Send(Frame::Nack { blob, index: 0 })]
    );
    assert_eq!(s.chunks_refused, 2);
    // Sent again whole, it is taken.
    s.handle_frame(Frame::Chunk {
        blob,
        index: 0,
        data: good,
    });
    assert!(matches!(
        s.poll_output(),
        Some(IngestOutput::WriteChunk { index: 0, .. })
    ));
}
