//! Sandbox test program: a tagger whose `tag` recurses without bound.
//!
//! The recursion is not a tail call (the result is rotated after the call returns) and its
//! end depends on an opaque value, so the optimiser can neither turn it into a loop nor
//! remove it. Frames keep their state in wasm locals, not on the shadow stack in linear
//! memory, so it is the wasm stack that overflows, not the shadow stack.

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
        // u64::MAX is never reached: the stack overflows long before.
        let depth = descend(0, black_box(u64::MAX));
        Ok(vec![Tag {
            name: "bottomless".to_string(),
            confidence: 1.0,
            detail: Some(depth.to_string()),
        }])
    }
}

#[inline(never)]
fn descend(depth: u64, stop: u64) -> u64 {
    if depth == stop {
        return depth;
    }
    descend(depth + 1, stop).rotate_left(7) ^ depth
}

export!(Hostile);
