//! Sandbox test program: a tagger whose `tag` panics with a distinctive message.
//!
//! The modules are built with `panic = "abort"`, so the message goes to stderr and the
//! guest then traps; the host should report a panic and may show the message.

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
        panic!("hostile panic: rule table is empty")
    }
}

export!(Hostile);
