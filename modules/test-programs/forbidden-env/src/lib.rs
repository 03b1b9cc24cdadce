//! Sandbox test program: a tagger that reads the `HOME` environment variable.
//!
//! Every guest built with std already imports `wasi:cli/environment` (std links it in, for
//! example for the panic hook's `RUST_BACKTRACE`), so this read adds no import; the host must
//! instead hand modules an empty environment. The call fails when `HOME` is unset and
//! otherwise leaks it in a tag.

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
        let home = std::env::var("HOME").map_err(|e| Error {
            message: format!("cannot read HOME: {e}"),
        })?;
        Ok(vec![Tag {
            name: "home".to_string(),
            confidence: 1.0,
            detail: Some(home),
        }])
    }
}

export!(Hostile);
