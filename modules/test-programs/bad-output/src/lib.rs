//! Sandbox test program: a tagger that returns a tag breaking the contract of `tag`: an
//! empty name and a confidence of 7.5, outside 0 to 1.
//!
//! The host must reject the result when it validates it. The module uses no std I/O, so its
//! imports are those of a plain, healthy guest.

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
        Ok(vec![Tag {
            name: String::new(),
            confidence: 7.5,
            detail: None,
        }])
    }
}

export!(Hostile);
