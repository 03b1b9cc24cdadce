//! Sandbox test program: a tagger that traps on every other call of an instance.
//!
//! Calls to `tag` are counted from zero in a static, so the state lives and dies with the
//! instance: call 0 (the first of a fresh instance) succeeds, call 1 traps, call 2 succeeds,
//! and so on. The host uses it to test that a trapped instance is replaced by a fresh one
//! (whose first call succeeds again) and that a module that keeps trapping is quarantined.

use std::sync::atomic::{AtomicU32, Ordering};

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

/// How many times `tag` has been called on this instance.
static CALLS: AtomicU32 = AtomicU32::new(0);

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        if call % 2 == 1 {
            core::arch::wasm32::unreachable();
        }
        Ok(vec![Tag {
            name: "survived".to_string(),
            confidence: 1.0,
            detail: Some(format!("call {call} of this instance")),
        }])
    }
}

export!(Hostile);
