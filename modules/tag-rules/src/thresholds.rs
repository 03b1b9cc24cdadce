//! The thresholds the rules use, their defaults, and reading them from the module's config.

use piste_guest::{Error, config};

/// Every threshold of the rules. [`Thresholds::default`] holds values that suit
/// Olympic-level competition; the operator overrides any of them with the
/// config key of the same name.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Detections below this confidence (0 to 1) are ignored.
    pub min_detection_confidence: f64,
    /// A jump beats the hill record when it is at least this much longer, in metres.
    pub hill_record_margin_m: f64,
    /// A jump this close to the hill record (metres short of it) is `near-hill-record`.
    pub near_hill_record_m: f64,
    /// Air time that makes a `long-flight` on a normal hill, in seconds.
    pub long_flight_normal_hill_s: f64,
    /// Air time that makes a `long-flight` on a large hill, in seconds.
    pub long_flight_large_hill_s: f64,
    /// Air time that makes a `long-flight` in ski flying, in seconds.
    pub long_flight_ski_flying_s: f64,
    /// Landing deceleration above which a ski-jumping landing is `hard-landing`, in g.
    pub hard_landing_g: f64,
    /// Revolutions from which a skating jump counts as a quadruple (ISU: at most a quarter short).
    pub quad_min_rotations: f64,
    /// Revolutions from which a skating jump below a quad reads as a triple Axel (3.5 turns).
    pub triple_axel_min_rotations: f64,
    /// Height above which a skating jump is a `big-jump`, in metres.
    pub skating_big_jump_m: f64,
    /// Flips from which an aerial is a `triple-flip`.
    pub triple_flip_min_flips: f64,
    /// Height above the kicker that makes an aerial `high-amplitude`, in metres.
    pub high_amplitude_m: f64,
    /// Highest landing deceleration of a `clean-landing` in aerials, in g.
    pub clean_landing_max_g: f64,
    /// Speed that makes a downhill or super-G moment `high-speed`, in km/h.
    pub high_speed_kmh: f64,
    /// Landing deceleration that reads as a crash in alpine skiing, in g.
    pub crash_impact_g: f64,
    /// Distance that makes an alpine jump a `long-jump`, in metres.
    pub alpine_long_jump_m: f64,
    /// Revolutions from which a snowboard trick is a `big-spin` (4.5 is a 1620).
    pub big_spin_min_rotations: f64,
    /// The worst rank that still wins a medal.
    pub medal_max_rank: u32,
    /// Phases in which a rank is a medal rank (`final`, and the last segment
    /// of sports that have no phase called final).
    pub final_phases: Vec<String>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_detection_confidence: 0.5,
            hill_record_margin_m: 0.0,
            near_hill_record_m: 1.5,
            long_flight_normal_hill_s: 4.6,
            long_flight_large_hill_s: 5.8,
            long_flight_ski_flying_s: 7.5,
            hard_landing_g: 4.5,
            quad_min_rotations: 3.75,
            triple_axel_min_rotations: 3.25,
            skating_big_jump_m: 0.65,
            triple_flip_min_flips: 2.75,
            high_amplitude_m: 10.0,
            clean_landing_max_g: 4.5,
            high_speed_kmh: 125.0,
            crash_impact_g: 8.0,
            alpine_long_jump_m: 50.0,
            big_spin_min_rotations: 4.5,
            medal_max_rank: 3,
            final_phases: ["final", "free-skating", "free-dance"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// The numeric keys, each with a setter, so reading and checking them is one loop.
type NumberField = (&'static str, fn(&mut Thresholds) -> &mut f64);

const NUMBER_FIELDS: &[NumberField] = &[
    ("min_detection_confidence", |t| {
        &mut t.min_detection_confidence
    }),
    ("hill_record_margin_m", |t| &mut t.hill_record_margin_m),
    ("near_hill_record_m", |t| &mut t.near_hill_record_m),
    ("long_flight_normal_hill_s", |t| {
        &mut t.long_flight_normal_hill_s
    }),
    ("long_flight_large_hill_s", |t| {
        &mut t.long_flight_large_hill_s
    }),
    ("long_flight_ski_flying_s", |t| {
        &mut t.long_flight_ski_flying_s
    }),
    ("hard_landing_g", |t| &mut t.hard_landing_g),
    ("quad_min_rotations", |t| &mut t.quad_min_rotations),
    ("triple_axel_min_rotations", |t| {
        &mut t.triple_axel_min_rotations
    }),
    ("skating_big_jump_m", |t| &mut t.skating_big_jump_m),
    ("triple_flip_min_flips", |t| &mut t.triple_flip_min_flips),
    ("high_amplitude_m", |t| &mut t.high_amplitude_m),
    ("clean_landing_max_g", |t| &mut t.clean_landing_max_g),
    ("high_speed_kmh", |t| &mut t.high_speed_kmh),
    ("crash_impact_g", |t| &mut t.crash_impact_g),
    ("alpine_long_jump_m", |t| &mut t.alpine_long_jump_m),
    ("big_spin_min_rotations", |t| &mut t.big_spin_min_rotations),
];

impl Thresholds {
    /// Every config key the module reads.
    pub fn keys() -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = NUMBER_FIELDS.iter().map(|(key, _)| *key).collect();
        keys.extend(["medal_max_rank", "final_phases"]);
        keys
    }

    /// The defaults, overridden by whatever the operator set; an error names
    /// the first key that is unknown, of the wrong type or out of range.
    pub fn from_config() -> Result<Thresholds, Error> {
        config::expect_only(&Thresholds::keys())?;
        let mut thresholds = Thresholds::default();
        for (key, field) in NUMBER_FIELDS {
            if let Some(value) = config::number(key)? {
                *field(&mut thresholds) = value;
            }
        }
        if let Some(rank) = config::integer("medal_max_rank")? {
            thresholds.medal_max_rank = u32::try_from(rank).map_err(|_| {
                Error::new(format!(
                    "config key `medal_max_rank` must be 0 or more, but it is {rank}"
                ))
            })?;
        }
        if let Some(phases) = config::texts("final_phases")? {
            thresholds.final_phases = phases;
        }
        thresholds.check()?;
        Ok(thresholds)
    }

    /// Checks that every value is in range.
    pub fn check(&self) -> Result<(), Error> {
        let mut copy = self.clone();
        for (key, field) in NUMBER_FIELDS {
            let value = *field(&mut copy);
            let in_range = match *key {
                "min_detection_confidence" => (0.0..=1.0).contains(&value),
                "hill_record_margin_m" | "near_hill_record_m" => value >= 0.0,
                _ => value > 0.0,
            };
            if !value.is_finite() || !in_range {
                let expected = match *key {
                    "min_detection_confidence" => "between 0 and 1",
                    "hill_record_margin_m" | "near_hill_record_m" => "0 or more",
                    _ => "more than 0",
                };
                return Err(Error::new(format!(
                    "config key `{key}` must be {expected}, but it is {value}"
                )));
            }
        }
        if self.triple_axel_min_rotations >= self.quad_min_rotations {
            return Err(Error::new(format!(
                "config key `triple_axel_min_rotations` ({}) must be below `quad_min_rotations` ({})",
                self.triple_axel_min_rotations, self.quad_min_rotations
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use piste_guest::testing::TestHost;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        TestHost::new().install();
        assert_eq!(Thresholds::from_config(), Ok(Thresholds::default()));
        assert_eq!(Thresholds::default().check(), Ok(()));
    }

    #[test]
    fn config_overrides_defaults_and_integers_are_numbers() {
        TestHost::new()
            .config("high_speed_kmh", 110_i64)
            .config("quad_min_rotations", 3.9)
            .config("medal_max_rank", 1_i64)
            .config("final_phases", ["final", "run-3"])
            .install();
        let thresholds = Thresholds::from_config().unwrap();
        assert_eq!(thresholds.high_speed_kmh, 110.0);
        assert_eq!(thresholds.quad_min_rotations, 3.9);
        assert_eq!(thresholds.medal_max_rank, 1);
        assert_eq!(thresholds.final_phases, ["final", "run-3"]);
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let refused = |key: &str, value: piste_guest::ConfigValue| {
            TestHost::new().config(key, value).install();
            Thresholds::from_config().unwrap_err().message
        };
        assert_eq!(
            refused("high_speed_kmh", (-5.0).into()),
            "config key `high_speed_kmh` must be more than 0, but it is -5"
        );
        assert_eq!(
            refused("min_detection_confidence", 1.5.into()),
            "config key `min_detection_confidence` must be between 0 and 1, but it is 1.5"
        );
        assert!(refused("high_speed_kmh", "fast".into()).contains("must be a number"));
        assert!(refused("medal_max_rank", (-1_i64).into()).contains("`medal_max_rank`"));
        assert!(refused("triple_axel_min_rotations", 3.8.into()).contains("must be below"));
        assert!(
            refused("high_sped_kmh", 1.0.into()).starts_with("unknown config key `high_sped_kmh`")
        );
    }
}
