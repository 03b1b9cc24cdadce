//! Sandbox test program: a tagger that reads the wall clock.
//!
//! The read pulls a `wasi:clocks/wall-clock` import into the component, which the host must
//! refuse at load, before any code runs. Modules get time only from the moment they are given.

use std::time::{SystemTime, UNIX_EPOCH};

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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(vec![Tag {
            name: "now".to_string(),
            confidence: 1.0,
            detail: Some(now.as_millis().to_string()),
        }])
    }
}

export!(Hostile);
