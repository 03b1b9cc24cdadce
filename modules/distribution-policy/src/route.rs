//! The routing itself: a pure function from an asset, destinations, an instant
//! and a policy to decisions.
//!
//! - **Who.** Feeds and the archive always get the asset. A rights holder gets
//!   it when it holds rights worldwide (no territories) or in a territory the
//!   content is licensed for ([`Policy::licensed_territories`]).
//! - **When.** The asset's own embargo holds for rights holders and feeds; the
//!   archive stores at once (storing is not publishing). Rights holders also
//!   wait until the event ends, unless [`Policy::embargo_until_event_end`] is
//!   off. Feeds get the asset immediately otherwise.
//! - **How urgent.** A medal moment goes first: priority 0 to every feed and
//!   rights holder. Otherwise feeds come before rights holders, and a rights
//!   holder that follows the athlete's nation is boosted. The archive is last.
//! - **Which rendition.** The video with the largest bit rate that fits within
//!   [`Policy::bandwidth_fraction`] of the destination's bandwidth; the largest
//!   still when no video fits. The archive gets the best rendition whatever its
//!   bandwidth. A destination with nothing that fits is skipped.
//!
//! Every decision's reason says which of these applied.

use piste_guest::{Asset, Decision, Destination, DestinationKind, Rendition};

use crate::Policy;

/// The decisions for `asset` at `now_ms`, most urgent first (then by destination id).
pub fn route(
    asset: &Asset,
    destinations: &[Destination],
    now_ms: u64,
    policy: &Policy,
) -> Vec<Decision> {
    let medal = is_medal_moment(asset, policy);
    let nation = asset.moment.athlete().map(|a| a.nation.as_str());
    let mut decisions: Vec<Decision> = destinations
        .iter()
        .filter_map(|d| decide(asset, d, now_ms, policy, medal, nation))
        .collect();
    decisions.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    decisions
}

/// Why a destination got nothing, for the module's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A rights holder without rights in a licensed territory.
    Territory,
    /// No rendition fits the destination's bandwidth and there is no still.
    NoRendition,
}

/// Why `destination` gets nothing from `asset` under `policy`, if it does not.
pub fn skipped(asset: &Asset, destination: &Destination, policy: &Policy) -> Option<Skip> {
    if destination.kind == DestinationKind::RightsHolder && territory(destination, policy).is_none()
    {
        return Some(Skip::Territory);
    }
    if rendition(asset, destination, policy).is_none() {
        return Some(Skip::NoRendition);
    }
    None
}

fn decide(
    asset: &Asset,
    destination: &Destination,
    now_ms: u64,
    policy: &Policy,
    medal: bool,
    nation: Option<&str>,
) -> Option<Decision> {
    let mut reasons: Vec<String> = Vec::new();
    if destination.kind == DestinationKind::RightsHolder {
        reasons.push(territory(destination, policy)?);
    }
    let (chosen, why) = rendition(asset, destination, policy)?;

    let home = nation.is_some_and(|n| {
        destination
            .home_nations
            .iter()
            .any(|h| h.eq_ignore_ascii_case(n))
    });
    let priority = match destination.kind {
        DestinationKind::Archive => policy.archive_priority,
        _ if medal => 0,
        DestinationKind::Feed => policy.feed_priority,
        DestinationKind::RightsHolder if home => policy
            .rights_holder_priority
            .saturating_sub(policy.home_nation_boost),
        DestinationKind::RightsHolder => policy.rights_holder_priority,
    };
    match destination.kind {
        DestinationKind::Archive => reasons.push("archive".to_owned()),
        _ if medal => reasons.push("medal moment first".to_owned()),
        _ => {}
    }
    if home && destination.kind == DestinationKind::RightsHolder {
        reasons.push(format!("home nation {}", nation.unwrap_or_default()));
    }
    reasons.push(why);

    let mut holds: Vec<(u64, &str)> = Vec::new();
    if destination.kind != DestinationKind::Archive
        && let Some(until) = asset.embargo_until_ms
    {
        holds.push((until, "asset embargo"));
    }
    if destination.kind == DestinationKind::RightsHolder && policy.embargo_until_event_end {
        holds.push((asset.moment.event.ends_at_ms, "event end"));
    }
    let hold = holds
        .into_iter()
        .filter(|(until, _)| *until > now_ms)
        .max_by_key(|(until, _)| *until);
    if let Some((_, what)) = hold {
        reasons.push(format!("held until {what}"));
    }

    Some(Decision {
        destination: destination.id.clone(),
        rendition: chosen.name.clone(),
        priority,
        not_before_ms: hold.map(|(until, _)| until),
        reason: reasons.join("; "),
    })
}

fn is_medal_moment(asset: &Asset, policy: &Policy) -> bool {
    asset
        .tags
        .iter()
        .any(|t| t.name == "medal-moment" && f64::from(t.confidence) >= policy.medal_min_confidence)
}

/// The reason a rights holder may have the asset, or `None` if it may not.
fn territory(destination: &Destination, policy: &Policy) -> Option<String> {
    if destination.territories.is_empty() {
        return Some("worldwide rights".to_owned());
    }
    let Some(licensed) = &policy.licensed_territories else {
        return Some(format!("rights in {}", destination.territories.join(", ")));
    };
    let held: Vec<&str> = destination
        .territories
        .iter()
        .filter(|t| licensed.iter().any(|l| l.eq_ignore_ascii_case(t)))
        .map(String::as_str)
        .collect();
    (!held.is_empty()).then(|| format!("rights in licensed {}", held.join(", ")))
}

/// The rendition for `destination` and why, or `None` if nothing fits.
fn rendition<'a>(
    asset: &'a Asset,
    destination: &Destination,
    policy: &Policy,
) -> Option<(&'a Rendition, String)> {
    let videos = asset.renditions.iter().filter(|r| r.bitrate_kbps > 0);
    let still = asset
        .renditions
        .iter()
        .filter(|r| r.bitrate_kbps == 0)
        .max_by_key(|r| pixels(r));
    if destination.kind == DestinationKind::Archive {
        let best = videos
            .max_by_key(|r| (pixels(r), r.bitrate_kbps))
            .or(still)?;
        return Some((best, format!("best rendition {}", best.name)));
    }
    let budget = f64::from(destination.bandwidth_kbps) * policy.bandwidth_fraction;
    let fitting = videos
        .filter(|r| f64::from(r.bitrate_kbps) <= budget)
        .max_by_key(|r| r.bitrate_kbps);
    match (fitting, still) {
        (Some(video), _) => {
            let why = format!(
                "{} kbps fits {budget:.0} of {} kbps",
                video.bitrate_kbps, destination.bandwidth_kbps
            );
            Some((video, why))
        }
        (None, Some(still)) => {
            let why = format!(
                "no video fits {budget:.0} of {} kbps, still instead",
                destination.bandwidth_kbps
            );
            Some((still, why))
        }
        (None, None) => None,
    }
}

fn pixels(rendition: &Rendition) -> u64 {
    u64::from(rendition.width) * u64::from(rendition.height)
}
