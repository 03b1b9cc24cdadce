//! Sandbox test program: a tagger whose `init` loops forever.
//!
//! The host must stop it with its deadline during load and refuse the module.

use std::hint::black_box;

wit_bindgen::generate!({ path: "../../../wit", world: "tagger" });

use exports::piste::module::lifecycle::Guest as Lifecycle;
use exports::piste::module::tagging::Guest as Tagging;
use piste::module::types::{Error, Moment, Tag};

struct Hostile;

impl Lifecycle for Hostile {
    fn init() -> Result<(), Error> {
        let mut spins = 0u64;
        loop {
            // black_box keeps the loop body, so the loop is a real spin, not an empty one.
            spins = black_box(spins.wrapping_add(1));
        }
    }
}

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        Ok(Vec::new())
    }
}

export!(Hostile);
