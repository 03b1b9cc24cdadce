//! Any bytes as an asset manifest: decoding never panics, and what decodes and validates
//! re-encodes to the same canonical bytes' manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piste_store::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::from_bytes(data) {
        assert_eq!(Manifest::from_bytes(&m.to_bytes()).ok().as_ref(), Some(&m));
    }
});
