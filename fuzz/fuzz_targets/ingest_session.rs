//! A hostile appliance: a stream of length-prefixed frames into the archive's session after
//! a valid hello. The session must never panic, and never ask to write a chunk that does not
//! match an offered hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piste_sync::{Backlog, Frame, Have, IngestOutput, IngestSession};

fuzz_target!(|data: &[u8]| {
    let mut s = IngestSession::new("cortina", "fuzz");
    s.handle_frame(Frame::Hello { min_version: 1, max_version: 1, backlog: Backlog::default() });
    let mut rest = data;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let body = &rest[..len.min(rest.len())];
        rest = &rest[body.len()..];
        if let Ok(frame) = piste_sync::decode(body) {
            s.handle_frame(frame);
        }
        while let Some(out) = s.poll_output() {
            match out {
                IngestOutput::Lookup { asset, blobs } => {
                    let have: Vec<Have> = blobs.iter().map(|_| Have::Staged(0)).collect();
                    s.handle_lookup(asset, false, &have);
                }
                IngestOutput::WriteChunk { data, .. } => assert!(data.len() <= piste_store::CHUNK_SIZE),
                IngestOutput::FinishBlob(b) => s.handle_blob_stored(b.hash, Ok(())),
                IngestOutput::Commit { asset, .. } => s.handle_committed(asset),
                _ => {}
            }
        }
    }
});
