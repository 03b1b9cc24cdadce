//! Sandbox test program: a tagger whose `tag` calls `std::process::exit(3)`.
//!
//! Every guest built with std already imports `wasi:cli/exit`, so the exit cannot be refused
//! at load by its import; the host must turn it into a failure of the call (wasmtime-wasi
//! reports it as an `I32Exit(3)` error) and never exit itself.

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
        std::process::exit(3)
    }
}

export!(Hostile);
