//! Sizes of call inputs and outputs as they cross the boundary, and the rules a module's
//! output must follow before the host accepts it.

use crate::bindings::{
    Asset, Athlete, Caption, Decision, Destination, Detection, Event, Moment, Rendition, Tag,
};
use crate::error::ErrorKind;

/// Approximate bytes a value occupies in the guest's memory: string bytes plus fixed-size
/// fields. Cheap enough to compute on every call.
pub trait WireSize {
    /// The size in bytes.
    fn wire_size(&self) -> usize;
}

impl WireSize for str {
    fn wire_size(&self) -> usize {
        self.len() + 8
    }
}

impl WireSize for String {
    fn wire_size(&self) -> usize {
        self.as_str().wire_size()
    }
}

impl<T: WireSize> WireSize for Option<T> {
    fn wire_size(&self) -> usize {
        8 + self.as_ref().map_or(0, WireSize::wire_size)
    }
}

impl<T: WireSize> WireSize for [T] {
    fn wire_size(&self) -> usize {
        8 + self.iter().map(WireSize::wire_size).sum::<usize>()
    }
}

impl<T: WireSize> WireSize for Vec<T> {
    fn wire_size(&self) -> usize {
        self.as_slice().wire_size()
    }
}

impl WireSize for Athlete {
    fn wire_size(&self) -> usize {
        self.name.wire_size() + self.nation.wire_size() + 8
    }
}

impl WireSize for Event {
    fn wire_size(&self) -> usize {
        self.name.wire_size() + self.phase.wire_size() + self.venue.wire_size() + 32
    }
}

impl WireSize for Detection {
    fn wire_size(&self) -> usize {
        self.label.wire_size() + 16
    }
}

impl WireSize for Moment {
    fn wire_size(&self) -> usize {
        self.id.wire_size()
            + self.discipline.wire_size()
            + self.event.wire_size()
            + self.athletes.wire_size()
            + self.result.wire_size()
            + self.detections.wire_size()
            + 160
    }
}

impl WireSize for Tag {
    fn wire_size(&self) -> usize {
        self.name.wire_size() + self.detail.wire_size() + 4
    }
}

impl WireSize for Rendition {
    fn wire_size(&self) -> usize {
        self.name.wire_size() + self.media_type.wire_size() + 24
    }
}

impl WireSize for Asset {
    fn wire_size(&self) -> usize {
        self.id.wire_size()
            + self.moment.wire_size()
            + self.renditions.wire_size()
            + self.tags.wire_size()
            + 16
    }
}

impl WireSize for Destination {
    fn wire_size(&self) -> usize {
        self.id.wire_size() + self.territories.wire_size() + self.home_nations.wire_size() + 8
    }
}

impl WireSize for Decision {
    fn wire_size(&self) -> usize {
        self.destination.wire_size() + self.rendition.wire_size() + self.reason.wire_size() + 24
    }
}

impl WireSize for Caption {
    fn wire_size(&self) -> usize {
        self.language.wire_size() + self.text.wire_size()
    }
}

type Verdict = Result<(), (ErrorKind, String)>;

fn bad(message: String) -> (ErrorKind, String) {
    (ErrorKind::BadOutput, message)
}

/// Refuses an output over the cap before looking inside it.
fn within(size: usize, max: usize) -> Verdict {
    if size > max {
        return Err((
            ErrorKind::OutputTooLarge,
            format!("returned {size} bytes, over the {max}-byte output cap"),
        ));
    }
    Ok(())
}

/// Longest tag name accepted.
const MAX_TAG_NAME: usize = 64;

/// Tags must be named in kebab-case and carry a confidence between 0 and 1.
pub fn check_tags(tags: &Vec<Tag>, max: usize) -> Verdict {
    within(tags.wire_size(), max)?;
    for (i, tag) in tags.iter().enumerate() {
        let valid_name = !tag.name.is_empty()
            && tag.name.len() <= MAX_TAG_NAME
            && tag
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_name {
            return Err(bad(format!(
                "tag {i} has name {:?}; a tag name is 1 to {MAX_TAG_NAME} characters of a-z, 0-9 and -",
                truncate(&tag.name)
            )));
        }
        if !(0.0..=1.0).contains(&tag.confidence) {
            return Err(bad(format!(
                "tag `{}` has confidence {}, outside 0..=1",
                tag.name, tag.confidence
            )));
        }
    }
    Ok(())
}

/// A caption must be in the language asked for and not empty.
pub fn check_caption(caption: &Caption, language: &str, max: usize) -> Verdict {
    within(caption.wire_size(), max)?;
    if caption.language != language {
        return Err(bad(format!(
            "asked for language `{language}`, returned `{}`",
            truncate(&caption.language)
        )));
    }
    if caption.text.trim().is_empty() {
        return Err(bad("returned an empty caption".into()));
    }
    Ok(())
}

/// Decisions must name destinations and renditions that exist.
pub fn check_decisions(
    decisions: &Vec<Decision>,
    asset: &Asset,
    destinations: &[Destination],
    max: usize,
) -> Verdict {
    within(decisions.wire_size(), max)?;
    for d in decisions {
        if !destinations.iter().any(|x| x.id == d.destination) {
            return Err(bad(format!(
                "routes to unknown destination `{}`",
                truncate(&d.destination)
            )));
        }
        if !asset.renditions.iter().any(|r| r.name == d.rendition) {
            return Err(bad(format!(
                "routes unknown rendition `{}`",
                truncate(&d.rendition)
            )));
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}
