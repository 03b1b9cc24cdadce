//! Any bytes as a sync frame body: decoding never panics, and what decodes re-encodes to a
//! frame that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = piste_sync::decode(data) {
        let again = piste_sync::encode(&frame);
        assert_eq!(piste_sync::decode(&again[4..]).as_ref(), Ok(&frame));
    }
});
