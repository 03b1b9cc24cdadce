//! Sandbox test program: a valid captioner that the host tries to load as a tagger.
//!
//! Nothing is wrong with the module itself; the host must refuse it because it exports
//! `captioning`, not the `tagging` interface of the world it was asked to load.

wit_bindgen::generate!({ path: "../../../wit", world: "captioner" });

use exports::piste::module::captioning::Guest as Captioning;
use exports::piste::module::lifecycle::Guest as Lifecycle;
use piste::module::types::{Caption, Error, Moment, Tag};

struct Hostile;

impl Lifecycle for Hostile {
    fn init() -> Result<(), Error> {
        Ok(())
    }
}

impl Captioning for Hostile {
    fn caption(moment: Moment, _tags: Vec<Tag>, language: String) -> Result<Caption, Error> {
        let who = moment
            .athletes
            .first()
            .map_or("someone", |a| a.name.as_str());
        Ok(Caption {
            text: format!("{who} at {}", moment.event.venue),
            language,
        })
    }
}

export!(Hostile);
