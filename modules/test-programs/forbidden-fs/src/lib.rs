//! Sandbox test program: a tagger that reads `/etc/passwd`.
//!
//! The read pulls a `wasi:filesystem` import into the component, which the host must refuse
//! at load, before any code runs.

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
        let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| Error {
            message: format!("cannot read /etc/passwd: {e}"),
        })?;
        Ok(vec![Tag {
            name: format!("passwd-{}", passwd.len()),
            confidence: 1.0,
            detail: None,
        }])
    }
}

export!(Hostile);
