//! The rules: pure functions from a moment and thresholds to tags.
//!
//! Nothing here calls the host, so the same code runs inside the module and
//! natively, beside it, in the host's benchmarks.
//!
//! Confidence means "how sure the rule is that the tag applies", not how
//! impressive the moment is. A value measured well past its threshold earns
//! about 0.95; one just over it about 0.6, because the reconstruction's error
//! (about half a metre, a tenth of a revolution) could put it on either side.
//! A classification the vision pipeline made (a landing, a detection) carries
//! the pipeline's own confidence or a fixed 0.9.

use piste_guest::{Detection, Landing, Moment, Sport, Tag};

use crate::Thresholds;

/// The tags that apply to `moment`, at most one per name, most confident first.
pub fn evaluate(moment: &Moment, thresholds: &Thresholds) -> Vec<Tag> {
    let mut tags = Tags::default();
    match moment.sport {
        Sport::SkiJumping => ski_jumping(moment, thresholds, &mut tags),
        Sport::FigureSkating => figure_skating(moment, thresholds, &mut tags),
        Sport::FreestyleAerials => aerials(moment, thresholds, &mut tags),
        Sport::Alpine => alpine(moment, thresholds, &mut tags),
        Sport::Snowboard => snowboard(moment, thresholds, &mut tags),
        Sport::Other => {}
    }
    detections(moment, thresholds, &mut tags);
    medal(moment, thresholds, &mut tags);
    tags.finish()
}

fn ski_jumping(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let k = &moment.kinematics;
    if let (Some(distance), Some(record)) = (k.distance_m, moment.event.hill_record_m) {
        let beat_by = distance - record;
        if beat_by >= t.hill_record_margin_m {
            tags.add(
                "hill-record",
                graded(beat_by - t.hill_record_margin_m, 0.0, 1.0),
                format!("{distance:.1} m beats the hill record of {record:.1} m"),
            );
        } else if -beat_by <= t.near_hill_record_m {
            tags.add(
                "near-hill-record",
                graded(distance, record - t.near_hill_record_m, record),
                format!(
                    "{distance:.1} m, {:.1} m short of the hill record of {record:.1} m",
                    -beat_by
                ),
            );
        }
    }
    if let Some(air) = k.air_time_s {
        let threshold = long_flight_threshold(&moment.discipline, t);
        if air >= threshold {
            tags.add(
                "long-flight",
                graded(air, threshold, threshold + 0.5),
                format!("{air:.1} s in the air (threshold {threshold:.1} s)"),
            );
        }
    }
    match k.landing {
        Some(Landing::Telemark) => tags.add("telemark-landing", 0.9, "telemark landing".into()),
        Some(Landing::TouchDown) => tags.add("touch-down", 0.9, "touched down on landing".into()),
        Some(Landing::Fall) => tags.add("fall", 0.95, "fell on landing".into()),
        Some(Landing::TwoFeet) | None => {}
    }
    if let Some(g) = k.landing_impact_g
        && g >= t.hard_landing_g
        && k.landing != Some(Landing::Fall)
    {
        tags.add(
            "hard-landing",
            graded(g, t.hard_landing_g, t.hard_landing_g + 2.0),
            format!("landed at {g:.1} g"),
        );
    }
}

fn long_flight_threshold(discipline: &str, t: &Thresholds) -> f64 {
    if discipline.contains("flying") {
        t.long_flight_ski_flying_s
    } else if discipline.contains("normal") {
        t.long_flight_normal_hill_s
    } else {
        t.long_flight_large_hill_s
    }
}

fn figure_skating(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let k = &moment.kinematics;
    if let Some(turns) = k.rotations {
        if turns >= t.quad_min_rotations {
            tags.add(
                "quadruple-jump",
                graded(turns, t.quad_min_rotations, t.quad_min_rotations + 0.15),
                format!("{turns:.2} revolutions"),
            );
            // An Axel is the only jump with a forward takeoff, so it has half a
            // revolution more than its name: a quadruple Axel is 4.5 turns.
            if (4.25..4.75).contains(&turns) {
                let confidence = if has_axel_takeoff(moment, t) {
                    0.9
                } else {
                    0.6
                };
                tags.add(
                    "quadruple-axel",
                    confidence,
                    format!("{turns:.2} revolutions"),
                );
            }
        } else if turns >= t.triple_axel_min_rotations {
            let (confidence, detail) = if has_axel_takeoff(moment, t) {
                (
                    0.9,
                    format!("{turns:.2} revolutions from a forward takeoff"),
                )
            } else {
                (
                    0.55,
                    format!(
                        "{turns:.2} revolutions: a triple Axel, or a quadruple jump short by half a turn"
                    ),
                )
            };
            tags.add("triple-axel", confidence, detail);
        }
    }
    if let Some(height) = k.max_height_m
        && height >= t.skating_big_jump_m
    {
        tags.add(
            "big-jump",
            graded(height, t.skating_big_jump_m, t.skating_big_jump_m + 0.15),
            format!("{height:.2} m high"),
        );
    }
    match k.landing {
        Some(Landing::Fall) => tags.add("fall", 0.95, "fell on landing".into()),
        Some(Landing::TouchDown) => tags.add("touch-down", 0.9, "hand down on landing".into()),
        // A skater lands on one foot; two feet on the ice is a fault.
        Some(Landing::TwoFeet) => tags.add("two-footed-landing", 0.8, "landed on two feet".into()),
        Some(Landing::Telemark) | None => {}
    }
}

fn has_axel_takeoff(moment: &Moment, t: &Thresholds) -> bool {
    confident(moment, t).any(|d| d.label == "forward-takeoff" || d.label == "axel-takeoff")
}

fn aerials(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let k = &moment.kinematics;
    if let Some(flips) = k.flips {
        let twists = k
            .rotations
            .map(|r| format!(", {r:.0} twists"))
            .unwrap_or_default();
        if flips >= t.triple_flip_min_flips + 1.0 {
            let min = t.triple_flip_min_flips + 1.0;
            tags.add(
                "quadruple-flip",
                graded(flips, min, min + 0.2),
                format!("{flips:.1} flips{twists}"),
            );
        } else if flips >= t.triple_flip_min_flips {
            let min = t.triple_flip_min_flips;
            tags.add(
                "triple-flip",
                graded(flips, min, min + 0.2),
                format!("{flips:.1} flips{twists}"),
            );
        }
    }
    if let Some(height) = k.max_height_m
        && height >= t.high_amplitude_m
    {
        tags.add(
            "high-amplitude",
            graded(height, t.high_amplitude_m, t.high_amplitude_m + 2.0),
            format!("{height:.1} m above the kicker"),
        );
    }
    match (k.landing, k.landing_impact_g) {
        (Some(Landing::TwoFeet | Landing::Telemark), Some(g)) if g <= t.clean_landing_max_g => {
            tags.add(
                "clean-landing",
                0.85,
                format!("stood the landing at {g:.1} g"),
            );
        }
        (Some(Landing::TwoFeet | Landing::Telemark), Some(g)) => tags.add(
            "hard-landing",
            graded(g, t.clean_landing_max_g, t.clean_landing_max_g + 2.0),
            format!("landed at {g:.1} g"),
        ),
        // Classified as standing, but the impact was not measured.
        (Some(Landing::TwoFeet | Landing::Telemark), None) => {
            tags.add("clean-landing", 0.7, "stood the landing".into());
        }
        (Some(Landing::TouchDown), _) => tags.add("touch-down", 0.9, "hand down on landing".into()),
        (Some(Landing::Fall), _) => tags.add("fall", 0.95, "fell on landing".into()),
        (None, _) => {}
    }
}

fn alpine(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let k = &moment.kinematics;
    // Only the speed events reach speeds worth a tag; a fast slalom is not news.
    let speed_event = moment.discipline.contains("downhill") || moment.discipline.contains("super");
    if let Some(speed) = k.max_speed_kmh
        && speed_event
        && speed >= t.high_speed_kmh
    {
        tags.add(
            "high-speed",
            graded(speed, t.high_speed_kmh, t.high_speed_kmh + 10.0),
            format!("{speed:.1} km/h"),
        );
    }
    if let Some(distance) = k.distance_m
        && distance >= t.alpine_long_jump_m
    {
        tags.add(
            "long-jump",
            graded(distance, t.alpine_long_jump_m, t.alpine_long_jump_m + 10.0),
            format!("{distance:.1} m jump"),
        );
    }
    if k.landing == Some(Landing::Fall) {
        tags.add("crash", 0.95, "fell on landing".into());
    }
    if let Some(g) = k.landing_impact_g
        && g >= t.crash_impact_g
    {
        // A deceleration this sharp is a crash or a violent recovery; the
        // rule is less sure than a classified fall.
        tags.add(
            "crash",
            0.6 + 0.3 * ramp(g, t.crash_impact_g, t.crash_impact_g + 4.0),
            format!("decelerated at {g:.1} g"),
        );
    }
}

fn snowboard(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let k = &moment.kinematics;
    if let Some(turns) = k.rotations
        && turns >= t.big_spin_min_rotations
    {
        // Spins are named in degrees, in steps of a half turn: 5 turns is a 1800.
        let degrees = (turns * 2.0).round() * 180.0;
        tags.add(
            "big-spin",
            graded(
                turns,
                t.big_spin_min_rotations,
                t.big_spin_min_rotations + 0.2,
            ),
            format!("{degrees:.0} ({turns:.1} revolutions)"),
        );
    }
    if let Some(flips) = k.flips
        && flips >= t.triple_flip_min_flips
    {
        let min = t.triple_flip_min_flips;
        tags.add(
            "triple-cork",
            graded(flips, min, min + 0.2),
            format!("{flips:.1} off-axis flips"),
        );
    }
    if k.landing == Some(Landing::Fall) {
        tags.add("fall", 0.95, "fell on landing".into());
    }
}

/// Labels of the vision pipeline and the results feed that become tags as they are.
fn detections(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    for detection in confident(moment, t) {
        let name = match detection.label.as_str() {
            "fall" | "crash" if moment.sport == Sport::Alpine => "crash",
            "fall" => "fall",
            "crash" => "crash",
            "hand-down" | "touch-down" => "touch-down",
            "ski-lost" => "ski-lost",
            "gate-missed" => "gate-missed",
            "personal-best" | "season-best" | "world-record" | "olympic-record" => {
                detection.label.as_str()
            }
            _ => continue,
        };
        tags.add(
            name,
            detection.confidence,
            format!(
                "detected {} (confidence {:.2})",
                detection.label, detection.confidence
            ),
        );
    }
}

fn medal(moment: &Moment, t: &Thresholds, tags: &mut Tags) {
    let event = &moment.event;
    let Some(rank) = moment.rank else { return };
    let final_phase = t
        .final_phases
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&event.phase));
    if !event.medal_event || !final_phase || rank == 0 || rank > t.medal_max_rank {
        return;
    }
    // Before the event ends the rank is provisional: someone may still jump further.
    let provisional = moment.at_ms < event.ends_at_ms;
    let confidence = if provisional { 0.7 } else { 0.95 };
    let standing = if provisional {
        "provisional rank"
    } else {
        "rank"
    };
    tags.add(
        "medal-moment",
        confidence,
        format!("{standing} {rank} in the {} of {}", event.phase, event.name),
    );
    let colour = match rank {
        1 => "gold-medal",
        2 => "silver-medal",
        3 => "bronze-medal",
        _ => return,
    };
    tags.add(colour, confidence, format!("{standing} {rank}"));
}

fn confident<'m>(moment: &'m Moment, t: &Thresholds) -> impl Iterator<Item = &'m Detection> {
    let min = t.min_detection_confidence;
    moment
        .detections
        .iter()
        .filter(move |d| f64::from(d.confidence) >= min)
}

/// 0 at `start`, 1 at `full` and beyond.
fn ramp(value: f64, start: f64, full: f64) -> f64 {
    if full <= start {
        return 1.0;
    }
    ((value - start) / (full - start)).clamp(0.0, 1.0)
}

/// The confidence of a measured value past its threshold: 0.6 just over, 0.95 well over.
fn graded(value: f64, start: f64, full: f64) -> f32 {
    (0.6 + 0.35 * ramp(value, start, full)) as f32
}

/// Tags being collected: one per name, the most confident wins.
#[derive(Default)]
struct Tags(Vec<Tag>);

impl Tags {
    fn add(&mut self, name: &str, confidence: impl Into<f64>, detail: String) {
        let confidence = confidence.into() as f32;
        match self.0.iter_mut().find(|tag| tag.name == name) {
            Some(tag) if tag.confidence >= confidence => {}
            Some(tag) => *tag = Tag::new(name, confidence).with_detail(detail),
            None => self.0.push(Tag::new(name, confidence).with_detail(detail)),
        }
    }

    fn finish(mut self) -> Vec<Tag> {
        self.0.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then_with(|| a.name.cmp(&b.name))
        });
        self.0
    }
}
