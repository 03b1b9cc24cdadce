//! The policy's settings, their defaults, and reading them from the module's config.

use piste_guest::{Error, config};

/// What the operator can change about routing. Every field is a config key of
/// the same name.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Share of a destination's bandwidth a video rendition may use (0 to 1).
    pub bandwidth_fraction: f64,
    /// Whether rights holders wait until the event ends (on top of any embargo the asset carries).
    pub embargo_until_event_end: bool,
    /// Territories (ISO 3166-1 alpha-2) the content is licensed for; a rights
    /// holder gets the asset only if it holds rights in one of them or
    /// worldwide. `None`: licensed everywhere.
    pub licensed_territories: Option<Vec<String>>,
    /// Priority of a feed, for a moment that is not a medal moment.
    pub feed_priority: u8,
    /// Priority of a rights holder, for a moment that is not a medal moment.
    pub rights_holder_priority: u8,
    /// How much more urgent (lower) a rights holder's priority is when it
    /// follows the athlete's nation.
    pub home_nation_boost: u8,
    /// Priority of the archive: last, it can wait.
    pub archive_priority: u8,
    /// Confidence from which a `medal-moment` tag makes the asset urgent.
    pub medal_min_confidence: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            bandwidth_fraction: 0.8,
            embargo_until_event_end: true,
            licensed_territories: None,
            feed_priority: 10,
            rights_holder_priority: 20,
            home_nation_boost: 10,
            archive_priority: 200,
            medal_min_confidence: 0.5,
        }
    }
}

const KEYS: &[&str] = &[
    "bandwidth_fraction",
    "embargo_until_event_end",
    "licensed_territories",
    "feed_priority",
    "rights_holder_priority",
    "home_nation_boost",
    "archive_priority",
    "medal_min_confidence",
];

impl Policy {
    /// The defaults, overridden by whatever the operator set; an error names
    /// the first key that is unknown, of the wrong type or out of range.
    pub fn from_config() -> Result<Policy, Error> {
        config::expect_only(KEYS)?;
        let mut policy = Policy::default();
        if let Some(fraction) = config::number("bandwidth_fraction")? {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return Err(Error::new(format!(
                    "config key `bandwidth_fraction` must be more than 0 and at most 1, but it is {fraction}"
                )));
            }
            policy.bandwidth_fraction = fraction;
        }
        if let Some(flag) = config::flag("embargo_until_event_end")? {
            policy.embargo_until_event_end = flag;
        }
        if let Some(territories) = config::texts("licensed_territories")? {
            if let Some(bad) = territories
                .iter()
                .find(|t| t.len() != 2 || !t.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(Error::new(format!(
                    "config key `licensed_territories` must hold ISO 3166-1 alpha-2 codes such as \"IT\", but it has {bad:?}"
                )));
            }
            policy.licensed_territories =
                Some(territories.iter().map(|t| t.to_ascii_uppercase()).collect());
        }
        for (key, field) in [
            ("feed_priority", &mut policy.feed_priority),
            ("rights_holder_priority", &mut policy.rights_holder_priority),
            ("home_nation_boost", &mut policy.home_nation_boost),
            ("archive_priority", &mut policy.archive_priority),
        ] {
            if let Some(value) = config::integer(key)? {
                *field = u8::try_from(value).map_err(|_| {
                    Error::new(format!(
                        "config key `{key}` must be between 0 and 255, but it is {value}"
                    ))
                })?;
            }
        }
        if let Some(min) = config::number("medal_min_confidence")? {
            if !(0.0..=1.0).contains(&min) {
                return Err(Error::new(format!(
                    "config key `medal_min_confidence` must be between 0 and 1, but it is {min}"
                )));
            }
            policy.medal_min_confidence = min;
        }
        Ok(policy)
    }
}
