//! Choosing the template from the tags, and writing it in each language.

use piste_guest::{Landing, Moment, Sport, Tag};

use crate::locale::{Lang, fr_de};
use crate::nations;

/// How the athlete's nation follows their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NationStyle {
    /// The nation's name in the caption's language: "Ryōyū Kobayashi (Japon)".
    Name,
    /// The IOC code: "Ryōyū Kobayashi (JPN)".
    Code,
    /// No nation.
    Hidden,
}

/// What the operator can change about the captions.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Tags below this confidence do not choose a template.
    pub min_confidence: f32,
    /// How the athlete's nation is shown.
    pub nation_style: NationStyle,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_confidence: 0.5,
            nation_style: NationStyle::Name,
        }
    }
}

/// The headline of the caption: what the moment is about, chosen from the tags
/// in this order of precedence (a crash matters more than the speed before it).
#[derive(Debug, Clone, PartialEq)]
enum Headline {
    Crash { speed_kmh: Option<f64> },
    Fall,
    HillRecord { distance_m: f64, record_m: f64 },
    QuadAxel,
    Quad { turns: f64 },
    TripleAxel,
    Flips { count: u32, height_m: Option<f64> },
    BigSpin { degrees: u32 },
    HighSpeed { speed_kmh: f64 },
    GateMissed,
    NearRecord { distance_m: f64, short_m: f64 },
    Telemark { distance_m: f64 },
    LongFlight { air_s: f64 },
    Jump { distance_m: f64 },
    Time { time: String },
    Score { score: String },
    Plain,
}

fn headline(moment: &Moment, has: &dyn Fn(&str) -> bool) -> Headline {
    let k = &moment.kinematics;
    let distance = k.distance_m;
    let record = moment.event.hill_record_m;
    if has("crash") {
        return Headline::Crash {
            speed_kmh: k.max_speed_kmh,
        };
    }
    if has("fall") || k.landing == Some(Landing::Fall) {
        return Headline::Fall;
    }
    if let (true, Some(distance_m), Some(record_m)) = (has("hill-record"), distance, record) {
        return Headline::HillRecord {
            distance_m,
            record_m,
        };
    }
    if has("quadruple-axel") {
        return Headline::QuadAxel;
    }
    if let (true, Some(turns)) = (has("quadruple-jump"), k.rotations) {
        return Headline::Quad { turns };
    }
    if has("triple-axel") {
        return Headline::TripleAxel;
    }
    let height_m = if has("high-amplitude") {
        k.max_height_m
    } else {
        None
    };
    if has("quadruple-flip") {
        return Headline::Flips { count: 4, height_m };
    }
    if has("triple-flip") {
        return Headline::Flips { count: 3, height_m };
    }
    if let (true, Some(turns)) = (has("big-spin"), k.rotations) {
        // Spins are named in half turns of 180 degrees; the value is small and positive.
        let degrees = ((turns * 2.0).round().max(0.0) as u32) * 180;
        return Headline::BigSpin { degrees };
    }
    if let (true, Some(speed_kmh)) = (has("high-speed"), k.max_speed_kmh) {
        return Headline::HighSpeed { speed_kmh };
    }
    if has("gate-missed") {
        return Headline::GateMissed;
    }
    if let (true, Some(distance_m), Some(record_m)) = (has("near-hill-record"), distance, record) {
        return Headline::NearRecord {
            distance_m,
            short_m: record_m - distance_m,
        };
    }
    if let (true, Some(distance_m)) = (has("telemark-landing"), distance) {
        return Headline::Telemark { distance_m };
    }
    if let (true, Some(air_s)) = (has("long-flight"), k.air_time_s) {
        return Headline::LongFlight { air_s };
    }
    if let (Sport::SkiJumping, Some(distance_m)) = (moment.sport, distance) {
        return Headline::Jump { distance_m };
    }
    match &moment.result {
        Some(result) if Lang::En.race_time(result).is_some() => Headline::Time {
            time: result.clone(),
        },
        Some(result) if result.parse::<f64>().is_ok() => Headline::Score {
            score: result.clone(),
        },
        _ => Headline::Plain,
    }
}

/// The caption text for `moment` and `tags` in `lang`.
pub fn caption(moment: &Moment, tags: &[Tag], lang: Lang, settings: &Settings) -> String {
    let has = |name: &str| {
        tags.iter()
            .any(|t| t.name == name && t.confidence >= settings.min_confidence)
    };
    let Some(athlete) = moment.athlete() else {
        // Nobody to name: the event is the caption.
        return moment.event.name.clone();
    };
    let who = match settings.nation_style {
        NationStyle::Name => format!(
            "{} ({})",
            athlete.name,
            nations::name(&athlete.nation, lang)
        ),
        NationStyle::Code => format!("{} ({})", athlete.name, athlete.nation),
        NationStyle::Hidden => athlete.name.clone(),
    };
    let mut sentences = vec![sentence(&headline(moment, &has), &who, moment, lang)];
    if let Some(standing) = standing(moment, &athlete.nation, lang, &has) {
        sentences.push(standing);
    }
    if has("personal-best") {
        sentences.push(
            match lang {
                Lang::En => "Personal best.",
                Lang::Fr => "Record personnel.",
                Lang::It => "Primato personale.",
            }
            .to_owned(),
        );
    }
    sentences.join(" ")
}

fn sentence(headline: &Headline, who: &str, moment: &Moment, lang: Lang) -> String {
    let m = |v: f64| lang.quantity(v, 1, "m");
    let kmh = |v: f64| lang.quantity(v, 1, "km/h");
    match (headline, lang) {
        (Headline::Crash { speed_kmh: Some(v) }, Lang::En) => {
            format!("{who} crashes at {}.", kmh(*v))
        }
        (Headline::Crash { speed_kmh: Some(v) }, Lang::Fr) => {
            format!("Chute {} à {}.", fr_de(who), kmh(*v))
        }
        (Headline::Crash { speed_kmh: Some(v) }, Lang::It) => {
            format!("Caduta per {who} a {}.", kmh(*v))
        }
        (Headline::Crash { speed_kmh: None }, Lang::En) => format!("{who} crashes."),
        (Headline::Crash { speed_kmh: None }, Lang::Fr) => format!("Chute {}.", fr_de(who)),
        (Headline::Crash { speed_kmh: None }, Lang::It) => format!("Caduta per {who}."),

        (Headline::Fall, Lang::En) => format!("{who} falls on the landing."),
        (Headline::Fall, Lang::Fr) => format!("Chute {} à la réception.", fr_de(who)),
        (Headline::Fall, Lang::It) => format!("Caduta in atterraggio per {who}."),

        (
            Headline::HillRecord {
                distance_m,
                record_m,
            },
            Lang::En,
        ) => format!(
            "Hill record! {who} flies {}, beyond the old record of {}.",
            m(*distance_m),
            m(*record_m)
        ),
        (
            Headline::HillRecord {
                distance_m,
                record_m,
            },
            Lang::Fr,
        ) => format!(
            "{} {who} s’envole à {}, au-delà de l’ancien record de {}.",
            lang.punct("Record du tremplin", '!'),
            m(*distance_m),
            m(*record_m)
        ),
        (
            Headline::HillRecord {
                distance_m,
                record_m,
            },
            Lang::It,
        ) => format!(
            "Record del trampolino! {who} vola a {}, oltre il vecchio record di {}.",
            m(*distance_m),
            m(*record_m)
        ),

        (Headline::QuadAxel, Lang::En) => format!("Quadruple Axel from {who}!"),
        (Headline::QuadAxel, Lang::Fr) => {
            lang.punct(&format!("Quadruple axel {}", fr_de(who)), '!')
        }
        (Headline::QuadAxel, Lang::It) => format!("Quadruplo axel di {who}!"),

        (Headline::Quad { turns }, Lang::En) => {
            format!(
                "Quadruple jump from {who}: {} revolutions.",
                lang.number(*turns, 1)
            )
        }
        (Headline::Quad { turns }, Lang::Fr) => format!(
            "{} {} rotations.",
            lang.punct(&format!("Quadruple saut {}", fr_de(who)), ':'),
            lang.number(*turns, 1)
        ),
        (Headline::Quad { turns }, Lang::It) => {
            format!(
                "Salto quadruplo di {who}: {} rotazioni.",
                lang.number(*turns, 1)
            )
        }

        (Headline::TripleAxel, Lang::En) => format!("Triple Axel from {who}."),
        (Headline::TripleAxel, Lang::Fr) => format!("Triple axel {}.", fr_de(who)),
        (Headline::TripleAxel, Lang::It) => format!("Triplo axel di {who}."),

        (Headline::Flips { count, height_m }, _) => {
            let trick = match (count, lang) {
                (4, Lang::En) => "a quadruple flip",
                (_, Lang::En) => "a triple flip",
                (4, Lang::Fr) => "Quadruple saut périlleux",
                (_, Lang::Fr) => "Triple saut périlleux",
                (4, Lang::It) => "Quadruplo salto mortale",
                (_, Lang::It) => "Triplo salto mortale",
            };
            let height = height_m.map(|h| match lang {
                Lang::En => format!(", {} above the kicker", m(h)),
                Lang::Fr => format!(", à {} au-dessus du tremplin", m(h)),
                Lang::It => format!(", a {} sopra il trampolino", m(h)),
            });
            let height = height.unwrap_or_default();
            match lang {
                Lang::En => format!("{who} lands {trick}{height}."),
                Lang::Fr => format!("{trick} pour {who}{height}."),
                Lang::It => format!("{trick} per {who}{height}."),
            }
        }

        (Headline::BigSpin { degrees }, Lang::En) => format!("{who} lands a {degrees}."),
        (Headline::BigSpin { degrees }, Lang::Fr) => format!("{who} réussit un {degrees}."),
        (Headline::BigSpin { degrees }, Lang::It) => format!("{who} chiude un {degrees}."),

        (Headline::HighSpeed { speed_kmh }, Lang::En) => format!("{who} hits {}.", kmh(*speed_kmh)),
        (Headline::HighSpeed { speed_kmh }, Lang::Fr) => {
            format!("{who} atteint {}.", kmh(*speed_kmh))
        }
        (Headline::HighSpeed { speed_kmh }, Lang::It) => {
            format!("{who} tocca i {}.", kmh(*speed_kmh))
        }

        (Headline::GateMissed, Lang::En) => format!("{who} misses a gate."),
        (Headline::GateMissed, Lang::Fr) => format!("{who} manque une porte."),
        (Headline::GateMissed, Lang::It) => format!("{who} salta una porta."),

        (
            Headline::NearRecord {
                distance_m,
                short_m,
            },
            Lang::En,
        ) => format!(
            "{who} lands {}, {} short of the hill record.",
            m(*distance_m),
            m(*short_m)
        ),
        (
            Headline::NearRecord {
                distance_m,
                short_m,
            },
            Lang::Fr,
        ) => format!(
            "{who} atterrit à {}, à {} du record du tremplin.",
            m(*distance_m),
            m(*short_m)
        ),
        (
            Headline::NearRecord {
                distance_m,
                short_m,
            },
            Lang::It,
        ) => format!(
            "{who} atterra a {}, a {} dal record del trampolino.",
            m(*distance_m),
            m(*short_m)
        ),

        (Headline::Telemark { distance_m }, Lang::En) => {
            format!("{who} lands {} with a telemark.", m(*distance_m))
        }
        (Headline::Telemark { distance_m }, Lang::Fr) => {
            format!("{who} se pose à {} en télémark.", m(*distance_m))
        }
        (Headline::Telemark { distance_m }, Lang::It) => {
            format!("{who} atterra a {} con il telemark.", m(*distance_m))
        }

        (Headline::LongFlight { air_s }, Lang::En) => {
            format!("{who} stays {} in the air.", lang.quantity(*air_s, 1, "s"))
        }
        (Headline::LongFlight { air_s }, Lang::Fr) => {
            format!("{who} reste {} en l’air.", lang.quantity(*air_s, 1, "s"))
        }
        (Headline::LongFlight { air_s }, Lang::It) => {
            format!("{who} resta in volo per {}.", lang.quantity(*air_s, 1, "s"))
        }

        (Headline::Jump { distance_m }, Lang::En) => format!("{who} jumps {}.", m(*distance_m)),
        (Headline::Jump { distance_m }, Lang::Fr) => format!("{who} saute à {}.", m(*distance_m)),
        (Headline::Jump { distance_m }, Lang::It) => format!("{who} salta a {}.", m(*distance_m)),

        (Headline::Time { time }, _) => {
            let time = lang.race_time(time).unwrap_or_else(|| time.clone());
            match lang {
                Lang::En => format!("{who} finishes in {time}."),
                Lang::Fr => format!("{who} termine en {time}."),
                Lang::It => format!("{who} chiude in {time}."),
            }
        }
        (Headline::Score { score }, _) => {
            let score = lang.decimal_mark(score);
            match lang {
                Lang::En => format!("{who} scores {score} points."),
                Lang::Fr => format!("{who} obtient {score} points."),
                Lang::It => format!("{who} ottiene {score} punti."),
            }
        }
        (Headline::Plain, _) => format!("{who} — {}.", moment.event.name),
    }
}

/// "Gold for Japan." once the event is over; "Provisionally in 1st place."
/// before; nothing without a medal tag.
fn standing(
    moment: &Moment,
    nation: &str,
    lang: Lang,
    has: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if !has("medal-moment") {
        return None;
    }
    let rank = moment.rank?;
    if moment.at_ms < moment.event.ends_at_ms {
        let place = lang.ordinal(rank);
        return Some(match lang {
            Lang::En => format!("Provisionally in {place} place."),
            Lang::Fr => format!("Provisoirement à la {place} place."),
            Lang::It => format!("Provvisoriamente al {place} posto."),
        });
    }
    let medal = match rank {
        1 => 0,
        2 => 1,
        3 => 2,
        _ => {
            let place = lang.ordinal(rank);
            return Some(match lang {
                Lang::En => format!("Finishes in {place} place."),
                Lang::Fr => format!("Termine à la {place} place."),
                Lang::It => format!("Chiude al {place} posto."),
            });
        }
    };
    Some(match nations::with_article(nation, lang) {
        Some(the_nation) => {
            let metal = match lang {
                Lang::En => ["Gold", "Silver", "Bronze"][medal],
                Lang::Fr => ["L’or", "L’argent", "Le bronze"][medal],
                Lang::It => ["Oro", "Argento", "Bronzo"][medal],
            };
            match lang {
                Lang::En => format!("{metal} for {the_nation}."),
                Lang::Fr => format!("{metal} pour {the_nation}."),
                Lang::It => format!("{metal} per {the_nation}."),
            }
        }
        None => match lang {
            Lang::En => ["Gold medal.", "Silver medal.", "Bronze medal."][medal].to_owned(),
            Lang::Fr => [
                "Médaille d’or.",
                "Médaille d’argent.",
                "Médaille de bronze.",
            ][medal]
                .to_owned(),
            Lang::It => [
                "Medaglia d’oro.",
                "Medaglia d’argento.",
                "Medaglia di bronzo.",
            ][medal]
                .to_owned(),
        },
    })
}
