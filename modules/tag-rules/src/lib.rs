//! `tag-rules`: an example tagger with threshold rules for winter sports.
//!
//! It tags ski jumps (hill record, long flight, telemark, fall), figure-skating
//! jumps (quadruple, triple or quadruple Axel, fall, two-footed landing),
//! aerials (triple flip, high amplitude, landing quality), alpine runs (high
//! speed, crash, missed gate, long jump) and snowboard tricks (big spin,
//! triple cork), and, for every sport, medal moments and the records the
//! results feed flags.
//!
//! The rules are plain functions ([`evaluate`]) over a [`Moment`] and
//! [`Thresholds`], reachable from the `rlib`, so the host can benchmark the same
//! code compiled natively beside the module. [`TagRules`] is the module: it
//! reads the thresholds from the operator's config (every field of
//! [`Thresholds`] is a config key of the same name) and calls [`evaluate`].

mod rules;
mod thresholds;

use std::cell::RefCell;

use piste_guest::{Error, Moment, Tag, Tagger, counter};

pub use rules::evaluate;
pub use thresholds::Thresholds;

/// The module: [`evaluate`] with the thresholds from the config.
pub struct TagRules;

thread_local! {
    /// The thresholds read by `init`. An instance's config does not change
    /// while it lives, and reading 19 keys per moment would cost more than the
    /// rules themselves. (A module instance is single-threaded; natively, each
    /// test thread has its own.)
    static THRESHOLDS: RefCell<Option<Thresholds>> = const { RefCell::new(None) };
}

impl Tagger for TagRules {
    fn init() -> Result<(), Error> {
        let thresholds = Thresholds::from_config()?;
        THRESHOLDS.with(|cell| *cell.borrow_mut() = Some(thresholds));
        Ok(())
    }

    fn tag(moment: Moment) -> Result<Vec<Tag>, Error> {
        let tags = THRESHOLDS.with(|cell| -> Result<Vec<Tag>, Error> {
            let mut cell = cell.borrow_mut();
            let thresholds = match cell.as_ref() {
                Some(thresholds) => thresholds,
                None => cell.insert(Thresholds::from_config()?),
            };
            Ok(evaluate(&moment, thresholds))
        })?;
        counter::increment("moments");
        counter::add("tags", tags.len() as u64);
        Ok(tags)
    }
}

piste_guest::export_tagger!(TagRules);

#[cfg(test)]
mod tests;
