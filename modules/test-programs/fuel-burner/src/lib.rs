//! Sandbox test program: a tagger whose `tag` runs a finite but long loop of two billion
//! iterations (a few seconds), then returns normally.
//!
//! With a fuel budget the host must stop it for running out of fuel; without one, its
//! deadline stops it. If it finishes, the budget was not enforced.

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

/// How many iterations to run.
const ITERATIONS: u64 = 2_000_000_000;

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let mut sum = 0u64;
        for i in 0..black_box(ITERATIONS) {
            sum = black_box(sum.wrapping_add(i));
        }
        Ok(vec![Tag {
            name: "burnt".to_string(),
            confidence: 1.0,
            detail: Some(sum.to_string()),
        }])
    }
}

export!(Hostile);
