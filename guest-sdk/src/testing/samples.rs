//! Realistic moments, assets and destinations for tests and examples.
//!
//! The numbers are in the range the reconstruction reports for real
//! competitions (a large-hill jump of 141 m in 5.6 s, a quadruple Lutz of 3.9
//! revolutions, a triple-flip aerial 11 m above the kicker), so rules written
//! against them behave as they will on the appliance. Each function returns a
//! fresh value; change the public fields to build the case under test:
//!
//! ```
//! use piste_guest::{Landing, testing};
//!
//! let mut jump = testing::ski_jump();
//! jump.kinematics.distance_m = Some(146.0);
//! jump.kinematics.landing = Some(Landing::Fall);
//! ```
//!
//! Names keep their diacritics (`Ryōyū Kobayashi`, `Anže Lanišek`) so
//! captioners see what the results system sends.

use crate::{
    Asset, Athlete, Destination, DestinationKind, Detection, Event, Kinematics, Landing, Moment,
    Rendition, Sport, Tag,
};

/// 2026-02-14 17:00:00 UTC, the instant every sample moment happens at.
pub const SAMPLE_AT_MS: u64 = 1_771_088_400_000;

/// A moment of `sport`: the sample below for that sport, or a plain one for
/// [`Sport::Other`].
pub fn sample_moment(sport: Sport) -> Moment {
    match sport {
        Sport::SkiJumping => ski_jump(),
        Sport::FigureSkating => figure_skating_jump(),
        Sport::FreestyleAerials => aerial(),
        Sport::Alpine => alpine_run(),
        Sport::Snowboard => big_air(),
        Sport::Other => Moment {
            id: "moment-other-0001".to_owned(),
            sport: Sport::Other,
            discipline: "team-relay".to_owned(),
            event: event(
                "Mixed Team Relay",
                "final",
                "Anterselva Biathlon Arena",
                true,
                None,
            ),
            athletes: vec![athlete("Lisa Vittozzi", "ITA", Some(4))],
            at_ms: SAMPLE_AT_MS,
            rank: Some(2),
            result: Some("1:07:32.4".to_owned()),
            kinematics: Kinematics::default(),
            detections: Vec::new(),
        },
    }
}

/// A large-hill ski jump in a final: 141 m with a telemark landing, on a hill
/// whose record is 143.5 m; rank 1.
pub fn ski_jump() -> Moment {
    Moment {
        id: "moment-ski-jumping-0001".to_owned(),
        sport: Sport::SkiJumping,
        discipline: "large-hill".to_owned(),
        event: event(
            "Men's Large Hill Individual",
            "final",
            "Predazzo Ski Jumping Stadium",
            true,
            Some(143.5),
        ),
        athletes: vec![athlete("Ryōyū Kobayashi", "JPN", Some(48))],
        at_ms: SAMPLE_AT_MS,
        rank: Some(1),
        result: Some("148.7".to_owned()),
        kinematics: Kinematics {
            air_time_s: Some(5.6),
            max_height_m: Some(3.4),
            distance_m: Some(141.0),
            takeoff_speed_kmh: Some(92.4),
            max_speed_kmh: Some(104.8),
            takeoff_ms: Some(SAMPLE_AT_MS - 5_600),
            landing_ms: Some(SAMPLE_AT_MS),
            landing_impact_g: Some(2.9),
            landing: Some(Landing::Telemark),
            ..Kinematics::default()
        },
        detections: Vec::new(),
    }
}

/// A quadruple Lutz in a men's free skating: 3.9 revolutions, landed cleanly; rank 1.
pub fn figure_skating_jump() -> Moment {
    Moment {
        id: "moment-figure-skating-0001".to_owned(),
        sport: Sport::FigureSkating,
        discipline: "men-free-skating".to_owned(),
        event: event(
            "Men's Single Skating",
            "free-skating",
            "Milano Ice Skating Arena",
            true,
            None,
        ),
        athletes: vec![athlete("Ilia Malinin", "USA", Some(24))],
        at_ms: SAMPLE_AT_MS,
        rank: Some(1),
        result: Some("227.79".to_owned()),
        kinematics: Kinematics {
            air_time_s: Some(0.71),
            max_height_m: Some(0.62),
            distance_m: Some(3.1),
            takeoff_speed_kmh: Some(24.5),
            rotations: Some(3.9),
            takeoff_ms: Some(SAMPLE_AT_MS - 710),
            landing_ms: Some(SAMPLE_AT_MS),
            landing_impact_g: Some(4.8),
            ..Kinematics::default()
        },
        detections: Vec::new(),
    }
}

/// A freestyle aerial in a final: three flips and four twists, 11.2 m above
/// the kicker, landed on two feet; rank 1.
pub fn aerial() -> Moment {
    Moment {
        id: "moment-aerials-0001".to_owned(),
        sport: Sport::FreestyleAerials,
        discipline: "aerials".to_owned(),
        event: event(
            "Women's Aerials",
            "final",
            "Livigno Aerials & Moguls Park",
            true,
            None,
        ),
        athletes: vec![athlete("Xu Mengtao", "CHN", Some(3))],
        at_ms: SAMPLE_AT_MS,
        rank: Some(1),
        result: Some("112.90".to_owned()),
        kinematics: Kinematics {
            air_time_s: Some(3.3),
            max_height_m: Some(11.2),
            distance_m: Some(21.5),
            takeoff_speed_kmh: Some(63.0),
            rotations: Some(4.0),
            flips: Some(3.0),
            takeoff_ms: Some(SAMPLE_AT_MS - 3_300),
            landing_ms: Some(SAMPLE_AT_MS),
            landing_impact_g: Some(3.6),
            landing: Some(Landing::TwoFeet),
            ..Kinematics::default()
        },
        detections: Vec::new(),
    }
}

/// A downhill run crossing the San Pietro jump at 131.6 km/h; rank 2, "1:51.61".
pub fn alpine_run() -> Moment {
    Moment {
        id: "moment-alpine-0001".to_owned(),
        sport: Sport::Alpine,
        discipline: "downhill".to_owned(),
        event: event("Men's Downhill", "final", "Stelvio, Bormio", true, None),
        athletes: vec![athlete("Dominik Paris", "ITA", Some(7))],
        at_ms: SAMPLE_AT_MS,
        rank: Some(2),
        result: Some("1:51.61".to_owned()),
        kinematics: Kinematics {
            air_time_s: Some(1.9),
            max_height_m: Some(2.4),
            distance_m: Some(48.0),
            takeoff_speed_kmh: Some(118.0),
            max_speed_kmh: Some(131.6),
            takeoff_ms: Some(SAMPLE_AT_MS - 1_900),
            landing_ms: Some(SAMPLE_AT_MS),
            landing_impact_g: Some(3.1),
            landing: Some(Landing::TwoFeet),
            ..Kinematics::default()
        },
        detections: vec![Detection {
            at_ms: SAMPLE_AT_MS - 2_000,
            label: "gate-passed".to_owned(),
            confidence: 0.97,
        }],
    }
}

/// A snowboard big-air jump: a 1800 (five revolutions) with two flips, rank 1.
pub fn big_air() -> Moment {
    Moment {
        id: "moment-snowboard-0001".to_owned(),
        sport: Sport::Snowboard,
        discipline: "big-air".to_owned(),
        event: event("Men's Big Air", "final", "Livigno Snow Park", true, None),
        athletes: vec![athlete("Su Yiming", "CHN", Some(1))],
        at_ms: SAMPLE_AT_MS,
        rank: Some(1),
        result: Some("182.50".to_owned()),
        kinematics: Kinematics {
            air_time_s: Some(3.0),
            max_height_m: Some(7.5),
            distance_m: Some(24.0),
            takeoff_speed_kmh: Some(68.0),
            rotations: Some(5.0),
            flips: Some(2.0),
            takeoff_ms: Some(SAMPLE_AT_MS - 3_000),
            landing_ms: Some(SAMPLE_AT_MS),
            landing_impact_g: Some(3.2),
            landing: Some(Landing::TwoFeet),
            ..Kinematics::default()
        },
        detections: Vec::new(),
    }
}

/// An asset made from `moment`, with `tags`, in the usual renditions: 2160p,
/// 1080p, 720p and 480p orbits and a still; no embargo of its own.
pub fn sample_asset(moment: Moment, tags: Vec<Tag>) -> Asset {
    let rendition =
        |name: &str, media_type: &str, width, height, bitrate_kbps, seconds: u64| Rendition {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            width,
            height,
            bitrate_kbps,
            size_bytes: if bitrate_kbps == 0 {
                1_850_000
            } else {
                u64::from(bitrate_kbps) * 1000 / 8 * seconds
            },
        };
    Asset {
        id: "blake3:9f2c4e1ab07d3c55e6f8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e".to_owned(),
        moment,
        renditions: vec![
            rendition("orbit-2160p", "video/mp4", 3840, 2160, 40_000, 8),
            rendition("orbit-1080p", "video/mp4", 1920, 1080, 12_000, 8),
            rendition("orbit-720p", "video/mp4", 1280, 720, 6_000, 8),
            rendition("orbit-480p", "video/mp4", 854, 480, 2_500, 8),
            rendition("slice-still", "image/png", 3840, 2160, 0, 0),
        ],
        tags,
        embargo_until_ms: None,
    }
}

/// The destinations of a typical venue: Italian, Norwegian and Japanese rights
/// holders, a pan-European one, the world feed, a venue screen and the archive.
pub fn sample_destinations() -> Vec<Destination> {
    let destination =
        |id: &str, kind, territories: &[&str], home: &[&str], bandwidth_kbps| Destination {
            id: id.to_owned(),
            kind,
            territories: territories.iter().map(|t| (*t).to_owned()).collect(),
            home_nations: home.iter().map(|n| (*n).to_owned()).collect(),
            bandwidth_kbps,
        };
    vec![
        destination(
            "rai",
            DestinationKind::RightsHolder,
            &["IT", "SM", "VA"],
            &["ITA"],
            60_000,
        ),
        destination(
            "nrk",
            DestinationKind::RightsHolder,
            &["NO"],
            &["NOR"],
            20_000,
        ),
        destination(
            "nhk",
            DestinationKind::RightsHolder,
            &["JP"],
            &["JPN"],
            8_000,
        ),
        destination(
            "eurosport",
            DestinationKind::RightsHolder,
            &["AT", "DE", "FR", "ES", "PL", "SI"],
            &[],
            30_000,
        ),
        destination("world-feed", DestinationKind::Feed, &[], &[], 100_000),
        destination("venue-screen", DestinationKind::Feed, &[], &[], 3_000),
        destination("archive", DestinationKind::Archive, &[], &[], 1_000_000),
    ]
}

fn event(
    name: &str,
    phase: &str,
    venue: &str,
    medal_event: bool,
    hill_record_m: Option<f64>,
) -> Event {
    Event {
        name: name.to_owned(),
        phase: phase.to_owned(),
        venue: venue.to_owned(),
        medal_event,
        // The event ends two hours after the sample moment.
        ends_at_ms: SAMPLE_AT_MS + 2 * 3_600_000,
        hill_record_m,
    }
}

fn athlete(name: &str, nation: &str, bib: Option<u32>) -> Athlete {
    Athlete {
        name: name.to_owned(),
        nation: nation.to_owned(),
        bib,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sport_has_a_sample_with_its_own_sport() {
        for sport in [
            Sport::SkiJumping,
            Sport::FigureSkating,
            Sport::FreestyleAerials,
            Sport::Alpine,
            Sport::Snowboard,
            Sport::Other,
        ] {
            let moment = sample_moment(sport);
            assert_eq!(moment.sport, sport);
            assert!(!moment.athletes.is_empty());
            assert!(moment.event.ends_at_ms > moment.at_ms);
        }
        assert_eq!(ski_jump().athletes[0].name, "Ryōyū Kobayashi");
    }
}
