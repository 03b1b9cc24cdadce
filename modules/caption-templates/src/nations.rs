//! Nation names by IOC code, in each language, bare and with the definite article.

use crate::locale::Lang;

/// A nation's names: bare ("Japon") for after an athlete's name, and with the
/// article ("le Japon") for "gold for …". In English only a few names take
/// one ("the Netherlands"); the others are written bare in both places.
struct Names {
    en: &'static str,
    fr: &'static str,
    fr_the: &'static str,
    it: &'static str,
    it_the: &'static str,
}

const fn names(
    en: &'static str,
    fr: &'static str,
    fr_the: &'static str,
    it: &'static str,
    it_the: &'static str,
) -> Names {
    Names {
        en,
        fr,
        fr_the,
        it,
        it_the,
    }
}

/// The usual winter-sports nations. Codes not listed are shown as the code.
const NATIONS: &[(&str, Names)] = &[
    (
        "AUS",
        names(
            "Australia",
            "Australie",
            "l’Australie",
            "Australia",
            "l’Australia",
        ),
    ),
    (
        "AUT",
        names("Austria", "Autriche", "l’Autriche", "Austria", "l’Austria"),
    ),
    (
        "BEL",
        names("Belgium", "Belgique", "la Belgique", "Belgio", "il Belgio"),
    ),
    (
        "CAN",
        names("Canada", "Canada", "le Canada", "Canada", "il Canada"),
    ),
    (
        "CHN",
        names("China", "Chine", "la Chine", "Cina", "la Cina"),
    ),
    (
        "CZE",
        names("Czechia", "Tchéquie", "la Tchéquie", "Cechia", "la Cechia"),
    ),
    (
        "ESP",
        names("Spain", "Espagne", "l’Espagne", "Spagna", "la Spagna"),
    ),
    (
        "EST",
        names("Estonia", "Estonie", "l’Estonie", "Estonia", "l’Estonia"),
    ),
    (
        "FIN",
        names(
            "Finland",
            "Finlande",
            "la Finlande",
            "Finlandia",
            "la Finlandia",
        ),
    ),
    (
        "FRA",
        names("France", "France", "la France", "Francia", "la Francia"),
    ),
    (
        "GBR",
        names(
            "Great Britain",
            "Grande-Bretagne",
            "la Grande-Bretagne",
            "Gran Bretagna",
            "la Gran Bretagna",
        ),
    ),
    (
        "GER",
        names(
            "Germany",
            "Allemagne",
            "l’Allemagne",
            "Germania",
            "la Germania",
        ),
    ),
    (
        "ITA",
        names("Italy", "Italie", "l’Italie", "Italia", "l’Italia"),
    ),
    (
        "JPN",
        names("Japan", "Japon", "le Japon", "Giappone", "il Giappone"),
    ),
    (
        "KOR",
        names(
            "South Korea",
            "Corée du Sud",
            "la Corée du Sud",
            "Corea del Sud",
            "la Corea del Sud",
        ),
    ),
    (
        "NED",
        names(
            "Netherlands",
            "Pays-Bas",
            "les Pays-Bas",
            "Paesi Bassi",
            "i Paesi Bassi",
        ),
    ),
    (
        "NOR",
        names("Norway", "Norvège", "la Norvège", "Norvegia", "la Norvegia"),
    ),
    (
        "NZL",
        names(
            "New Zealand",
            "Nouvelle-Zélande",
            "la Nouvelle-Zélande",
            "Nuova Zelanda",
            "la Nuova Zelanda",
        ),
    ),
    (
        "POL",
        names("Poland", "Pologne", "la Pologne", "Polonia", "la Polonia"),
    ),
    (
        "SLO",
        names(
            "Slovenia",
            "Slovénie",
            "la Slovénie",
            "Slovenia",
            "la Slovenia",
        ),
    ),
    (
        "SUI",
        names(
            "Switzerland",
            "Suisse",
            "la Suisse",
            "Svizzera",
            "la Svizzera",
        ),
    ),
    (
        "SWE",
        names("Sweden", "Suède", "la Suède", "Svezia", "la Svezia"),
    ),
    (
        "UKR",
        names("Ukraine", "Ukraine", "l’Ukraine", "Ucraina", "l’Ucraina"),
    ),
    (
        "USA",
        names(
            "United States",
            "États-Unis",
            "les États-Unis",
            "Stati Uniti",
            "gli Stati Uniti",
        ),
    ),
];

fn lookup(code: &str) -> Option<&'static Names> {
    NATIONS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, names)| names)
}

/// The nation's name in `lang` ("Japon"), or the code itself when unknown.
pub fn name(code: &str, lang: Lang) -> String {
    match (lookup(code), lang) {
        (Some(n), Lang::En) => n.en.to_owned(),
        (Some(n), Lang::Fr) => n.fr.to_owned(),
        (Some(n), Lang::It) => n.it.to_owned(),
        (None, _) => code.to_owned(),
    }
}

/// The nation's name with its article in `lang` ("le Japon"), or `None` when unknown.
pub fn with_article(code: &str, lang: Lang) -> Option<String> {
    lookup(code).map(|n| match lang {
        Lang::En if matches!(code.to_ascii_uppercase().as_str(), "NED" | "USA") => {
            format!("the {}", n.en)
        }
        Lang::En => n.en.to_owned(),
        Lang::Fr => n.fr_the.to_owned(),
        Lang::It => n.it_the.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_articles() {
        assert_eq!(name("JPN", Lang::Fr), "Japon");
        assert_eq!(
            with_article("usa", Lang::It).as_deref(),
            Some("gli Stati Uniti")
        );
        assert_eq!(with_article("ITA", Lang::Fr).as_deref(), Some("l’Italie"));
        assert_eq!(
            with_article("USA", Lang::En).as_deref(),
            Some("the United States")
        );
        assert_eq!(with_article("NOR", Lang::En).as_deref(), Some("Norway"));
        assert_eq!(name("LIE", Lang::En), "LIE");
        assert_eq!(with_article("LIE", Lang::En), None);
    }

    #[test]
    fn codes_are_sorted_and_unique() {
        assert!(NATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
