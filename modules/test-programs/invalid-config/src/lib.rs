//! Sandbox test program: a tagger whose `init` requires the config key `threshold` to be a
//! number.
//!
//! Loaded without it (or with another kind of value), `init` returns an error and the host
//! must refuse the module at load, showing the message.

use piste::module::host::get_config;
use piste::module::types::ConfigValue;

wit_bindgen::generate!({ path: "../../../wit", world: "tagger" });

use exports::piste::module::lifecycle::Guest as Lifecycle;
use exports::piste::module::tagging::Guest as Tagging;
use piste::module::types::{Error, Moment, Tag};

struct Hostile;

impl Lifecycle for Hostile {
    fn init() -> Result<(), Error> {
        match get_config("threshold") {
            Some(ConfigValue::Number(_)) => Ok(()),
            _ => Err(Error {
                message: "config key `threshold` must be a number".to_string(),
            }),
        }
    }
}

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        Ok(Vec::new())
    }
}

export!(Hostile);
