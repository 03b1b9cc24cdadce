//! The three example modules in the sandbox, on the sample moments: real rules, three
//! languages, and routing.

use piste_sandbox::bindings::Tag;
use piste_sandbox::{Limits, World};

use crate::common::{Bench, asset, destinations, moments};

fn names(tags: &[Tag]) -> Vec<&str> {
    tags.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn tag_rules_recognise_each_sport() {
    let bench = Bench::new();
    let module = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    let moments = moments();
    let tags: Vec<Vec<Tag>> = moments.iter().map(|m| module.tag(m).unwrap()).collect();
    // Ski jump: 142.5 m on a hill whose record is 141.0 m, a telemark, a medal.
    assert!(
        names(&tags[0]).contains(&"hill-record"),
        "{:?}",
        names(&tags[0])
    );
    assert!(
        names(&tags[0]).contains(&"telemark-landing"),
        "{:?}",
        names(&tags[0])
    );
    // Figure skating: 3.92 revolutions is a quadruple.
    assert!(
        names(&tags[1]).contains(&"quadruple-jump"),
        "{:?}",
        names(&tags[1])
    );
    // Aerials: three flips.
    assert!(
        names(&tags[2]).contains(&"triple-flip"),
        "{:?}",
        names(&tags[2])
    );
    // Alpine: a fall at 9.6 g.
    assert!(names(&tags[3]).contains(&"crash"), "{:?}", names(&tags[3]));
    for tag in tags.iter().flatten() {
        assert!((0.0..=1.0).contains(&tag.confidence));
    }
}

#[test]
fn tag_rules_thresholds_come_from_the_config() {
    use piste_sandbox::bindings::ConfigValue;
    let bench = Bench::new();
    let strict = std::collections::BTreeMap::from([(
        "quad_min_rotations".to_string(),
        ConfigValue::Number(3.95),
    )]);
    let module = bench
        .load_with("tag-rules", World::Tagger, Limits::default(), strict)
        .unwrap();
    let tags = module.tag(&moments()[1]).unwrap();
    assert!(
        !names(&tags).contains(&"quadruple-jump"),
        "{:?}",
        names(&tags)
    );
}

#[test]
fn captions_in_three_languages_keep_names_and_use_local_numbers() {
    let bench = Bench::new();
    let tagger = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    let captioner = bench
        .load("caption-templates", World::Captioner, Limits::default())
        .unwrap();
    let jump = &moments()[0];
    let tags = tagger.tag(jump).unwrap();
    let en = captioner.caption(jump, &tags, "en").unwrap().text;
    let fr = captioner.caption(jump, &tags, "fr").unwrap().text;
    let it = captioner.caption(jump, &tags, "it").unwrap().text;
    for text in [&en, &fr, &it] {
        assert!(
            text.contains("Ryōyū Kobayashi"),
            "the name keeps its diacritics: {text}"
        );
    }
    assert!(en.contains("142.5"), "{en}");
    assert!(fr.contains("142,5"), "{fr}");
    assert!(it.contains("142,5"), "{it}");
    let skater = &moments()[1];
    let text = captioner
        .caption(skater, &tagger.tag(skater).unwrap(), "fr")
        .unwrap()
        .text;
    assert!(text.contains("Léa Müller-Štěpánková"), "{text}");

    let error = captioner.caption(jump, &tags, "de").unwrap_err();
    assert_eq!(error.kind, piste_sandbox::ErrorKind::ModuleError);
    assert!(error.message.contains("de"), "{error}");
}

#[test]
fn routing_respects_territories_embargo_and_medal_priority() {
    let bench = Bench::new();
    let tagger = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    let distributor = bench
        .load("distribution-policy", World::Distributor, Limits::default())
        .unwrap();
    let destinations = destinations();
    let jump = &moments()[0];
    let mut medal = asset(jump);
    medal.tags = tagger.tag(jump).unwrap();
    let now = jump.at_ms + 2_000;
    let decisions = distributor.route(&medal, &destinations, now).unwrap();
    let feed = decisions
        .iter()
        .find(|d| d.destination == "world-feed")
        .expect("the world feed gets it");
    assert_eq!(
        feed.not_before_ms.filter(|t| *t > now),
        None,
        "feeds are not embargoed"
    );
    let rights: Vec<_> = decisions
        .iter()
        .filter(|d| ["rai-it", "nhk-jp", "nrk-no"].contains(&d.destination.as_str()))
        .collect();
    assert!(!rights.is_empty());
    for d in &rights {
        assert!(
            d.not_before_ms.is_some_and(|t| t >= jump.event.ends_at_ms),
            "rights holders wait for the end: {d:?}"
        );
    }
    assert!(decisions.iter().any(|d| d.destination == "archive"));
    // A medal moment outranks an ordinary one at the same destination.
    let aerial = &moments()[2];
    let mut ordinary = asset(aerial);
    ordinary.tags = tagger.tag(aerial).unwrap();
    let other = distributor
        .route(&ordinary, &destinations, aerial.at_ms)
        .unwrap();
    let priority = |ds: &[piste_sandbox::bindings::Decision]| {
        ds.iter()
            .find(|d| d.destination == "world-feed")
            .unwrap()
            .priority
    };
    assert!(priority(&decisions) < priority(&other));
    // The low-bandwidth destination never gets a rendition above its bandwidth.
    let nrk = decisions
        .iter()
        .find(|d| d.destination == "nrk-no")
        .unwrap();
    assert_eq!(nrk.rendition, "slice-still");
}
