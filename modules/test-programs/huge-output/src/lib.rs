//! Sandbox test program: a tagger whose `tag` returns about 200,000 tags with long names,
//! some 25 MB in all.
//!
//! The host must refuse the result as too large rather than copy it into its own memory.

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

/// How many tags to return.
const TAGS: usize = 200_000;
/// Length of each tag name, in bytes.
const NAME_LEN: usize = 128;

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let tags = (0..TAGS)
            .map(|i| {
                let mut name = format!("hostile-tag-{i:06}-");
                name.extend(std::iter::repeat_n('x', NAME_LEN - name.len()));
                Tag {
                    name,
                    confidence: 0.5,
                    detail: None,
                }
            })
            .collect();
        Ok(tags)
    }
}

export!(Hostile);
