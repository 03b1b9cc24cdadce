//! Native tests of the policy and the module, through the SDK's test host.

use piste_guest::testing::{self, TestHost};
use piste_guest::{Asset, Distributor, Tag};

use crate::{DistributionPolicy, Policy, route};

const NOW: u64 = testing::samples::SAMPLE_AT_MS + 10_000;

fn jump_asset(tags: Vec<Tag>) -> Asset {
    testing::sample_asset(testing::ski_jump(), tags)
}

/// The decisions as `destination rendition priority hold` lines, where hold is
/// `now`, `end` (the event's end) or the instant.
fn check(asset: &Asset, policy: &Policy, expected: &[&str]) {
    let decisions = route(asset, &testing::sample_destinations(), NOW, policy);
    let actual: Vec<String> = decisions
        .iter()
        .map(|d| {
            let hold = match d.not_before_ms {
                None => "now".to_owned(),
                Some(t) if t == asset.moment.event.ends_at_ms => "end".to_owned(),
                Some(t) => t.to_string(),
            };
            format!("{} {} {} {hold}", d.destination, d.rendition, d.priority)
        })
        .collect();
    assert_eq!(actual, expected, "{decisions:#?}");
}

#[test]
fn a_medal_moment_goes_first_everywhere_but_the_archive() {
    check(
        &jump_asset(vec![Tag::new("medal-moment", 0.7)]),
        &Policy::default(),
        &[
            "eurosport orbit-1080p 0 end",
            "nhk orbit-720p 0 end",
            "nrk orbit-1080p 0 end",
            "rai orbit-2160p 0 end",
            "venue-screen slice-still 0 now",
            "world-feed orbit-2160p 0 now",
            "archive orbit-2160p 200 now",
        ],
    );
}

#[test]
fn otherwise_feeds_then_the_home_nation_then_other_rights_holders() {
    check(
        &jump_asset(vec![Tag::new("telemark-landing", 0.9)]),
        &Policy::default(),
        &[
            "nhk orbit-720p 10 end",
            "venue-screen slice-still 10 now",
            "world-feed orbit-2160p 10 now",
            "eurosport orbit-1080p 20 end",
            "nrk orbit-1080p 20 end",
            "rai orbit-2160p 20 end",
            "archive orbit-2160p 200 now",
        ],
    );
}

#[test]
fn reasons_say_why() {
    let asset = jump_asset(vec![Tag::new("medal-moment", 0.95)]);
    let decisions = route(
        &asset,
        &testing::sample_destinations(),
        NOW,
        &Policy::default(),
    );
    let reason = |id: &str| {
        decisions
            .iter()
            .find(|d| d.destination == id)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason("nhk"),
        "rights in JP; medal moment first; home nation JPN; 6000 kbps fits 6400 of 8000 kbps; held until event end"
    );
    assert_eq!(
        reason("venue-screen"),
        "medal moment first; no video fits 2400 of 3000 kbps, still instead"
    );
    assert_eq!(reason("archive"), "archive; best rendition orbit-2160p");
}

#[test]
fn the_asset_embargo_holds_feeds_too_but_not_the_archive() {
    let mut asset = jump_asset(vec![]);
    let later = asset.moment.event.ends_at_ms + 3_600_000;
    asset.embargo_until_ms = Some(later);
    let policy = Policy {
        licensed_territories: Some(vec!["NO".into()]),
        ..Policy::default()
    };
    let later = later.to_string();
    let expected = [
        format!("venue-screen slice-still 10 {later}"),
        format!("world-feed orbit-2160p 10 {later}"),
        format!("nrk orbit-1080p 20 {later}"),
        "archive orbit-2160p 200 now".to_owned(),
    ];
    check(&asset, &policy, &expected.each_ref().map(String::as_str));
}

#[test]
fn past_embargoes_and_the_event_end_switch() {
    let mut asset = jump_asset(vec![]);
    asset.embargo_until_ms = Some(NOW - 1);
    let policy = Policy {
        embargo_until_event_end: false,
        ..Policy::default()
    };
    let decisions = route(&asset, &testing::sample_destinations(), NOW, &policy);
    assert!(
        decisions.iter().all(|d| d.not_before_ms.is_none()),
        "{decisions:#?}"
    );
    // After the event has ended, nothing is held either.
    let decisions = route(
        &asset,
        &testing::sample_destinations(),
        asset.moment.event.ends_at_ms,
        &Policy::default(),
    );
    assert!(
        decisions.iter().all(|d| d.not_before_ms.is_none()),
        "{decisions:#?}"
    );
}

#[test]
fn a_destination_with_nothing_that_fits_is_skipped_and_counted() {
    TestHost::new()
        .config("licensed_territories", ["JP", "IT"])
        .install();
    let mut asset = jump_asset(vec![]);
    asset.renditions.retain(|r| r.bitrate_kbps > 0);
    let decisions = DistributionPolicy::route(asset, testing::sample_destinations(), NOW).unwrap();
    let ids: Vec<&str> = decisions.iter().map(|d| d.destination.as_str()).collect();
    assert_eq!(ids, ["nhk", "world-feed", "rai", "archive"]);
    assert_eq!(
        testing::counter("skipped-territory"),
        2,
        "nrk and eurosport"
    );
    assert_eq!(
        testing::counter("skipped-no-rendition"),
        1,
        "the venue screen"
    );
    assert_eq!(testing::counter("held"), 2);
    let warning = &testing::logs()[0];
    assert_eq!(warning.field("destination"), Some("venue-screen"));
}

#[test]
fn config_is_checked() {
    TestHost::new()
        .config("bandwidth_fraction", 0.5)
        .config("feed_priority", 5_i64)
        .config("embargo_until_event_end", false)
        .install();
    let policy = Policy::from_config().unwrap();
    assert_eq!(
        (
            policy.bandwidth_fraction,
            policy.feed_priority,
            policy.embargo_until_event_end
        ),
        (0.5, 5, false)
    );

    let refused = |key: &str, value: piste_guest::ConfigValue| {
        TestHost::new().config(key, value).install();
        DistributionPolicy::init().unwrap_err().message
    };
    assert_eq!(
        refused("archive_priority", 300_i64.into()),
        "config key `archive_priority` must be between 0 and 255, but it is 300"
    );
    assert!(refused("bandwidth_fraction", 0.0.into()).contains("more than 0 and at most 1"));
    assert!(refused("licensed_territories", ["Italy"].into()).contains("\"Italy\""));
    assert!(refused("embargo", true.into()).starts_with("unknown config key `embargo`"));
}

/// `fixtures/`, the cases `piste module test` runs in the sandbox, run natively.
#[test]
fn fixtures() {
    piste_guest::testing::fixtures::check_distributor::<DistributionPolicy>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    ));
}
