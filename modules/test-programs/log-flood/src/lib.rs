//! Sandbox test program: a tagger whose `tag` calls the host `log` import ten million
//! times with 1 KiB messages (10 GB of log text).
//!
//! The host must rate-limit the records and stop the module rather than write them all.

use piste::module::host::{Level, log};

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

/// How many records to write.
const RECORDS: u32 = 10_000_000;
/// Length of each message, in bytes.
const MESSAGE_LEN: usize = 1024;

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let message = "flood ".repeat(MESSAGE_LEN / 6 + 1)[..MESSAGE_LEN].to_string();
        for _ in 0..RECORDS {
            log(Level::Info, &message, &[]);
        }
        Ok(Vec::new())
    }
}

export!(Hostile);
