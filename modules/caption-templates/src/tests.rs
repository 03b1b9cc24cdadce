//! Native tests of the templates and the module, through the SDK's test host.

use piste_guest::testing::{self, TestHost};
use piste_guest::{Athlete, Captioner, Landing, Moment, Tag};

use crate::{CaptionTemplates, Lang, Settings, caption};

fn tags(names: &[&str]) -> Vec<Tag> {
    names.iter().map(|n| Tag::new(*n, 0.9)).collect()
}

/// The caption in each of en, fr, it. No-break spaces are shown as `_` and
/// narrow no-break spaces as `^`, so the expectations show where they are.
fn check(moment: &Moment, tag_names: &[&str], expected: [&str; 3]) {
    let tags = tags(tag_names);
    let actual = Lang::ALL.map(|lang| {
        caption(moment, &tags, lang, &Settings::default())
            .replace('\u{a0}', "_")
            .replace('\u{202f}', "^")
    });
    assert_eq!(actual, expected);
}

fn after_the_event(mut moment: Moment) -> Moment {
    moment.at_ms = moment.event.ends_at_ms + 1;
    moment
}

#[test]
fn a_hill_record_that_wins_gold() {
    let mut jump = after_the_event(testing::ski_jump());
    jump.kinematics.distance_m = Some(144.5);
    check(
        &jump,
        &[
            "hill-record",
            "telemark-landing",
            "medal-moment",
            "gold-medal",
        ],
        [
            "Hill record! Ryōyū Kobayashi (Japan) flies 144.5_m, beyond the old record of 143.5_m. Gold for Japan.",
            "Record du tremplin^! Ryōyū Kobayashi (Japon) s’envole à 144,5_m, au-delà de l’ancien record de 143,5_m. L’or pour le Japon.",
            "Record del trampolino! Ryōyū Kobayashi (Giappone) vola a 144,5_m, oltre il vecchio record di 143,5_m. Oro per il Giappone.",
        ],
    );
}

#[test]
fn a_provisional_telemark() {
    check(
        &testing::ski_jump(),
        &["telemark-landing", "medal-moment"],
        [
            "Ryōyū Kobayashi (Japan) lands 141.0_m with a telemark. Provisionally in 1st place.",
            "Ryōyū Kobayashi (Japon) se pose à 141,0_m en télémark. Provisoirement à la 1re place.",
            "Ryōyū Kobayashi (Giappone) atterra a 141,0_m con il telemark. Provvisoriamente al 1º posto.",
        ],
    );
}

#[test]
fn diacritics_and_french_elision() {
    let mut jump = testing::ski_jump();
    jump.athletes = vec![Athlete {
        name: "Anže Lanišek".into(),
        nation: "SLO".into(),
        bib: Some(44),
    }];
    jump.kinematics.landing = Some(Landing::Fall);
    check(
        &jump,
        &["fall"],
        [
            "Anže Lanišek (Slovenia) falls on the landing.",
            "Chute d’Anže Lanišek (Slovénie) à la réception.",
            "Caduta in atterraggio per Anže Lanišek (Slovenia).",
        ],
    );
}

#[test]
fn a_quad_bronze_for_the_united_states() {
    let mut jump = after_the_event(testing::figure_skating_jump());
    jump.rank = Some(3);
    check(
        &jump,
        &["quadruple-jump", "medal-moment", "bronze-medal"],
        [
            "Quadruple jump from Ilia Malinin (United States): 3.9 revolutions. Bronze for the United States.",
            "Quadruple saut d’Ilia Malinin (États-Unis)_: 3,9 rotations. Le bronze pour les États-Unis.",
            "Salto quadruplo di Ilia Malinin (Stati Uniti): 3,9 rotazioni. Bronzo per gli Stati Uniti.",
        ],
    );
}

#[test]
fn an_aerial_triple_flip_high_above_the_kicker() {
    check(
        &testing::aerial(),
        &["triple-flip", "high-amplitude"],
        [
            "Xu Mengtao (China) lands a triple flip, 11.2_m above the kicker.",
            "Triple saut périlleux pour Xu Mengtao (Chine), à 11,2_m au-dessus du tremplin.",
            "Triplo salto mortale per Xu Mengtao (Cina), a 11,2_m sopra il trampolino.",
        ],
    );
}

#[test]
fn an_alpine_crash_outranks_the_speed() {
    check(
        &testing::alpine_run(),
        &["high-speed", "crash"],
        [
            "Dominik Paris (Italy) crashes at 131.6_km/h.",
            "Chute de Dominik Paris (Italie) à 131,6_km/h.",
            "Caduta per Dominik Paris (Italia) a 131,6_km/h.",
        ],
    );
    check(
        &testing::alpine_run(),
        &["high-speed"],
        [
            "Dominik Paris (Italy) hits 131.6_km/h.",
            "Dominik Paris (Italie) atteint 131,6_km/h.",
            "Dominik Paris (Italia) tocca i 131,6_km/h.",
        ],
    );
}

#[test]
fn race_times_and_scores_when_no_tag_applies() {
    check(
        &testing::alpine_run(),
        &[],
        [
            "Dominik Paris (Italy) finishes in 1:51.61.",
            "Dominik Paris (Italie) termine en 1_min 51_s 61.",
            "Dominik Paris (Italia) chiude in 1'51\"61.",
        ],
    );
    check(
        &testing::big_air(),
        &["personal-best"],
        [
            "Su Yiming (China) scores 182.50 points. Personal best.",
            "Su Yiming (Chine) obtient 182,50 points. Record personnel.",
            "Su Yiming (Cina) ottiene 182,50 punti. Primato personale.",
        ],
    );
}

#[test]
fn weak_tags_do_not_choose_the_template() {
    let weak = vec![Tag::new("crash", 0.3)];
    let text = caption(
        &testing::alpine_run(),
        &weak,
        Lang::En,
        &Settings::default(),
    );
    assert_eq!(text, "Dominik Paris (Italy) finishes in 1:51.61.");
}

#[test]
fn the_module_answers_in_the_primary_language_and_refuses_others() {
    TestHost::new().config("nation_style", "code").install();
    CaptionTemplates::init().unwrap();
    let caption =
        CaptionTemplates::caption(testing::aerial(), tags(&["triple-flip"]), "fr-CH".into())
            .unwrap();
    assert_eq!(
        caption.language, "fr-CH",
        "the host wants the language it asked for"
    );
    assert_eq!(caption.text, "Triple saut périlleux pour Xu Mengtao (CHN).");
    assert_eq!(testing::counter("captions-fr"), 1);
    let error = CaptionTemplates::caption(testing::aerial(), vec![], "de".into()).unwrap_err();
    assert_eq!(
        error.message,
        "unsupported language `de`; this module writes en, fr, it"
    );
}

#[test]
fn init_refuses_a_bad_config() {
    TestHost::new().config("nation_style", "flag").install();
    assert_eq!(
        CaptionTemplates::init().unwrap_err().message,
        "config key `nation_style` must be `name`, `code` or `hidden`, but it is \"flag\""
    );
    TestHost::new().config("min_confidence", 2_i64).install();
    assert!(
        CaptionTemplates::init()
            .unwrap_err()
            .message
            .contains("between 0 and 1")
    );
}

/// `fixtures/`, the cases `piste module test` runs in the sandbox, run natively.
#[test]
fn fixtures() {
    piste_guest::testing::fixtures::check_captioner::<CaptionTemplates>(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    ));
}
