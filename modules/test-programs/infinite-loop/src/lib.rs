//! Sandbox test program: a tagger whose `tag` loops forever without calling the host.
//!
//! The host must stop it with its deadline (epoch interruption); nothing in the loop
//! yields, so only an interruption inside pure wasm code can end it.

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
        let mut spins = 0u64;
        loop {
            // black_box keeps the loop body, so the loop is a real spin, not an empty one.
            spins = black_box(spins.wrapping_add(1));
        }
    }
}

export!(Hostile);
