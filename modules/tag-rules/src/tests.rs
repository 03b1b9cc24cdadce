//! Native tests of the rules and the module, through the SDK's test host.

use piste_guest::testing::{self, TestHost};
use piste_guest::{Detection, Landing, Moment, Tagger};

use crate::{TagRules, Thresholds, evaluate};

/// The tags of `moment` under the default thresholds, as `name confidence` lines.
fn check(moment: &Moment, expected: &[&str]) {
    let tags = evaluate(moment, &Thresholds::default());
    let actual: Vec<String> = tags
        .iter()
        .map(|t| format!("{} {:.2}", t.name, t.confidence))
        .collect();
    assert_eq!(actual, expected, "tags: {tags:#?}");
}

fn detection(label: &str, confidence: f32) -> Detection {
    Detection {
        at_ms: testing::samples::SAMPLE_AT_MS,
        label: label.to_owned(),
        confidence,
    }
}

#[test]
fn a_telemark_jump_near_the_record_in_a_final() {
    // 141.0 m on a 143.5 m hill record: 2.5 m short, outside the 1.5 m "near" band.
    check(
        &testing::ski_jump(),
        &[
            "telemark-landing 0.90",
            "gold-medal 0.70",
            "medal-moment 0.70",
        ],
    );
}

#[test]
fn a_jump_beyond_the_hill_record() {
    let mut jump = testing::ski_jump();
    jump.kinematics.distance_m = Some(144.5);
    jump.kinematics.air_time_s = Some(6.1);
    let tags = evaluate(&jump, &Thresholds::default());
    let record = tags
        .iter()
        .find(|t| t.name == "hill-record")
        .expect("hill-record");
    assert_eq!(record.confidence, 0.95);
    assert_eq!(
        record.detail.as_deref(),
        Some("144.5 m beats the hill record of 143.5 m")
    );
    let flight = tags
        .iter()
        .find(|t| t.name == "long-flight")
        .expect("long-flight");
    assert!(
        flight.confidence > 0.7 && flight.confidence < 0.95,
        "{flight:?}"
    );
}

#[test]
fn a_jump_just_short_of_the_record_is_near_it() {
    let mut jump = testing::ski_jump();
    jump.kinematics.distance_m = Some(143.0);
    let tags = evaluate(&jump, &Thresholds::default());
    let near = tags
        .iter()
        .find(|t| t.name == "near-hill-record")
        .expect("near-hill-record");
    assert_eq!(
        near.detail.as_deref(),
        Some("143.0 m, 0.5 m short of the hill record of 143.5 m")
    );
    assert!(!tags.iter().any(|t| t.name == "hill-record"));
}

#[test]
fn a_fall_is_not_also_a_hard_landing() {
    let mut jump = testing::ski_jump();
    jump.kinematics.landing = Some(Landing::Fall);
    jump.kinematics.landing_impact_g = Some(7.0);
    jump.rank = None;
    check(&jump, &["fall 0.95"]);
}

#[test]
fn ski_flying_has_its_own_long_flight_threshold() {
    let mut jump = testing::ski_jump();
    jump.discipline = "ski-flying".to_owned();
    jump.kinematics.air_time_s = Some(6.5);
    assert!(
        !evaluate(&jump, &Thresholds::default())
            .iter()
            .any(|t| t.name == "long-flight")
    );
    jump.discipline = "normal-hill".to_owned();
    assert!(
        evaluate(&jump, &Thresholds::default())
            .iter()
            .any(|t| t.name == "long-flight")
    );
}

#[test]
fn a_quad_in_the_free_skating() {
    check(
        &testing::figure_skating_jump(),
        &[
            "quadruple-jump 0.95",
            "gold-medal 0.70",
            "medal-moment 0.70",
        ],
    );
}

#[test]
fn a_quad_just_at_the_quarter_is_less_certain() {
    let mut jump = testing::figure_skating_jump();
    jump.kinematics.rotations = Some(3.76);
    jump.rank = None;
    let tags = evaluate(&jump, &Thresholds::default());
    assert_eq!(tags[0].name, "quadruple-jump");
    assert!(tags[0].confidence < 0.65, "{:?}", tags[0]);
}

#[test]
fn three_and_a_half_turns_read_as_a_triple_axel() {
    let mut jump = testing::figure_skating_jump();
    jump.kinematics.rotations = Some(3.45);
    jump.kinematics.landing = Some(Landing::TwoFeet);
    jump.rank = None;
    check(&jump, &["two-footed-landing 0.80", "triple-axel 0.55"]);
    jump.detections.push(detection("forward-takeoff", 0.8));
    check(&jump, &["triple-axel 0.90", "two-footed-landing 0.80"]);
}

#[test]
fn a_quadruple_axel_is_also_a_quad() {
    let mut jump = testing::figure_skating_jump();
    jump.kinematics.rotations = Some(4.45);
    jump.detections.push(detection("axel-takeoff", 0.9));
    jump.rank = None;
    check(&jump, &["quadruple-jump 0.95", "quadruple-axel 0.90"]);
}

#[test]
fn an_aerial_triple_flip_with_a_clean_landing() {
    check(
        &testing::aerial(),
        &[
            "triple-flip 0.95",
            "clean-landing 0.85",
            "high-amplitude 0.81",
            "gold-medal 0.70",
            "medal-moment 0.70",
        ],
    );
}

#[test]
fn a_heavy_aerial_landing_is_not_clean() {
    let mut aerial = testing::aerial();
    aerial.kinematics.landing_impact_g = Some(6.5);
    let tags = evaluate(&aerial, &Thresholds::default());
    assert!(
        tags.iter()
            .any(|t| t.name == "hard-landing" && t.confidence >= 0.95)
    );
    assert!(!tags.iter().any(|t| t.name == "clean-landing"));
}

#[test]
fn a_downhill_at_speed_that_ends_in_a_crash() {
    let mut run = testing::alpine_run();
    run.kinematics.landing_impact_g = Some(10.0);
    run.kinematics.distance_m = Some(30.0);
    run.rank = None;
    run.detections.push(detection("ski-lost", 0.8));
    run.detections.push(detection("gate-missed", 0.3));
    check(&run, &["high-speed 0.83", "ski-lost 0.80", "crash 0.75"]);
    run.detections.push(detection("fall", 0.92));
    check(&run, &["crash 0.92", "high-speed 0.83", "ski-lost 0.80"]);
}

#[test]
fn a_missed_gate_and_a_slalom_is_never_high_speed() {
    let mut run = testing::alpine_run();
    run.discipline = "slalom".to_owned();
    run.rank = None;
    run.kinematics.distance_m = None;
    run.detections.push(detection("gate-missed", 0.91));
    check(&run, &["gate-missed 0.91"]);
}

#[test]
fn a_big_air_1800() {
    let tags = evaluate(&testing::big_air(), &Thresholds::default());
    let spin = tags
        .iter()
        .find(|t| t.name == "big-spin")
        .expect("big-spin");
    assert_eq!(spin.detail.as_deref(), Some("1800 (5.0 revolutions)"));
}

#[test]
fn medals_only_in_finals_of_medal_events_and_firm_after_the_end() {
    let mut jump = testing::ski_jump();
    jump.kinematics.landing = None;
    jump.rank = Some(3);
    jump.at_ms = jump.event.ends_at_ms;
    check(&jump, &["bronze-medal 0.95", "medal-moment 0.95"]);
    jump.rank = Some(4);
    check(&jump, &[]);
    jump.rank = Some(1);
    jump.event.phase = "qualification".to_owned();
    check(&jump, &[]);
    jump.event.phase = "Final".to_owned();
    jump.event.medal_event = false;
    check(&jump, &[]);
}

#[test]
fn results_flags_and_weak_detections() {
    let mut moment = testing::sample_moment(piste_guest::Sport::Other);
    moment.rank = None;
    moment.detections = vec![
        detection("personal-best", 0.99),
        detection("fall", 0.2),
        detection("banner", 0.9),
    ];
    check(&moment, &["personal-best 0.99"]);
}

#[test]
fn the_module_reads_its_thresholds_once_and_counts() {
    TestHost::new().config("high_speed_kmh", 140_i64).install();
    TagRules::init().unwrap();
    let tags = TagRules::tag(testing::alpine_run()).unwrap();
    assert!(
        !tags.iter().any(|t| t.name == "high-speed"),
        "131.6 km/h is under 140: {tags:?}"
    );
    TagRules::tag(testing::ski_jump()).unwrap();
    assert_eq!(testing::counter("moments"), 2);
    assert_eq!(
        testing::counter("tags"),
        5,
        "2 for the run (silver, medal), 3 for the jump"
    );
}

#[test]
fn init_refuses_a_bad_config() {
    TestHost::new()
        .config("quad_min_rotations", "four")
        .install();
    let error = TagRules::init().unwrap_err();
    assert_eq!(
        error.message,
        "config key `quad_min_rotations` must be a number, but it is the text \"four\""
    );
}

/// `fixtures/`, the cases `piste module test` runs in the sandbox, run natively.
#[test]
fn fixtures() {
    piste_guest::testing::fixtures::check_tagger::<TagRules>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    ));
}
