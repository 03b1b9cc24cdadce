//! A hostile archive: a stream of length-prefixed frames into the appliance's session with
//! one offered asset. The session must never panic or hand out a chunk outside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piste_store::{Hash, Priority};
use piste_sync::{Backlog, BlobOffer, EdgeConfig, EdgeSession, Offer, Transmit};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut e = EdgeSession::new(EdgeConfig::default(), Backlog::default(), now);
    let size = 3 * piste_store::CHUNK_SIZE as u64 + 17;
    let blob = BlobOffer { hash: Hash::of(b"f"), size, chunks: vec![Hash::of(b"c"); 4] };
    e.offer(Offer { asset: Hash::of(b"a"), priority: Priority::Render, manifest: vec![1, 2, 3], blobs: vec![blob] });
    let mut rest = data;
    let mut t = now;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let body = &rest[..len.min(rest.len())];
        rest = &rest[body.len()..];
        if let Ok(frame) = piste_sync::decode(body) {
            e.handle_frame(frame, t);
        }
        t += Duration::from_millis(10);
        for _ in 0..8 {
            match e.poll_transmit(t) {
                Some(Transmit::Chunk { offset, len, .. }) => assert!(offset + len as u64 <= size),
                Some(Transmit::Frame(_)) => {}
                None => break,
            }
        }
        while e.poll_event().is_some() {}
    }
});
