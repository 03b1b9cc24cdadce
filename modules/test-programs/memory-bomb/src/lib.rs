//! Sandbox test program: a tagger whose `tag` grows a vector and touches every page until
//! memory runs out.
//!
//! The host must refuse the growth at its memory limit; the allocation failure then aborts
//! the guest with a trap.

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

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let mut hoard: Vec<u8> = Vec::new();
        let page = [0xA5u8; 4096];
        loop {
            // Writing real bytes (not zeroes) makes every page resident, not just reserved.
            hoard.extend_from_slice(&page);
            black_box(&mut hoard);
        }
    }
}

export!(Hostile);
