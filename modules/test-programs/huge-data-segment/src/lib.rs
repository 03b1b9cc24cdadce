//! Sandbox test program: a tagger with a 96 MiB static array of non-zero bytes.
//!
//! The array becomes an active data segment, so the memory it needs is claimed at
//! instantiation; the host must refuse the instance at its memory limit. `tag` reads the
//! array at an opaque index so that the linker keeps it.

use std::hint::black_box;

wit_bindgen::generate!({ path: "../../../wit", world: "tagger" });

use exports::piste::module::lifecycle::Guest as Lifecycle;
use exports::piste::module::tagging::Guest as Tagging;
use piste::module::types::{Error, Moment, Tag};

struct Hostile;

impl Lifecycle for Hostile {
    fn init() -> Result<(), Error> {
        Ok(())
    }
}

/// Size of the blob: 96 MiB.
const BLOB_LEN: usize = 96 << 20;
/// The blob; non-zero so that it cannot live in zero-initialised memory.
static BLOB: [u8; BLOB_LEN] = [7; BLOB_LEN];

impl Tagging for Hostile {
    fn tag(moment: Moment) -> Result<Vec<Tag>, Error> {
        let index = black_box(moment.at_ms as usize) % BLOB_LEN;
        let byte = black_box(&BLOB)[index];
        Ok(vec![Tag {
            name: format!("blob-{byte}"),
            confidence: 1.0,
            detail: None,
        }])
    }
}

export!(Hostile);
