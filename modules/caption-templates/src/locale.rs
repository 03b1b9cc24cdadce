//! Languages and how each writes numbers, units, times, ordinals and punctuation.
//!
//! The conventions, chosen to match what broadcasters in each language put on screen:
//!
//! | | English | French | Italian |
//! |---|---|---|---|
//! | decimal mark | `142.5` | `142,5` | `142,5` |
//! | number and unit | `142.5 m` | `142,5 m` | `142,5 m` |
//! | speed | `131.6 km/h` | `131,6 km/h` | `131,6 km/h` |
//! | race time | `1:51.61` | `1 min 51 s 61` | `1'51"61` |
//! | long race time | `1:07:32.4` | `1 h 07 min 32 s 4` | `1h07'32"4` |
//! | place | `1st`, `2nd`, `3rd`, `11th` | `1re`, `2e` (of *place*, feminine) | `1º`, `2º` (of *posto*) |
//! | before `!` `?` `;` | nothing | narrow no-break space (U+202F) | nothing |
//! | before `:` | nothing | no-break space (U+00A0) | nothing |
//! | apostrophe | — | `’` (U+2019) | `’` (U+2019) |
//!
//! A number and its unit are always joined by a no-break space (U+00A0), in
//! every language, so a caption never wraps between `142,5` and `m`.

use piste_guest::Error;

/// No-break space: between a number and its unit, and before `:` in French.
pub const NBSP: char = '\u{a0}';
/// Narrow no-break space: before `!`, `?` and `;` in French.
pub const NNBSP: char = '\u{202f}';

/// A language the templates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
    /// Italian.
    It,
}

impl Lang {
    /// Every language, in the order error messages list them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::It];

    /// The language of a BCP 47 tag, by its primary subtag: `fr-CH` is French.
    pub fn from_tag(tag: &str) -> Result<Lang, Error> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Ok(Lang::En),
            "fr" => Ok(Lang::Fr),
            "it" => Ok(Lang::It),
            _ => Err(Error::new(format!(
                "unsupported language `{tag}`; this module writes {}",
                Lang::ALL.map(Lang::code).join(", ")
            ))),
        }
    }

    /// The BCP 47 code written in the caption.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::It => "it",
        }
    }

    /// `value` with `decimals` digits after this language's decimal mark.
    pub fn number(self, value: f64, decimals: usize) -> String {
        let text = format!("{value:.decimals$}");
        self.decimal_mark(&text)
    }

    /// `value` and `unit` joined by a no-break space: `142,5 m`.
    pub fn quantity(self, value: f64, decimals: usize, unit: &str) -> String {
        format!("{}{NBSP}{unit}", self.number(value, decimals))
    }

    /// A number the results system wrote with a `.` (for example a score
    /// "182.50"), its digits kept exactly, with this language's decimal mark.
    pub fn decimal_mark(self, text: &str) -> String {
        match self {
            Lang::En => text.to_owned(),
            Lang::Fr | Lang::It => text.replace('.', ","),
        }
    }

    /// A race time the results system wrote as `m:ss.cc` or `h:mm:ss.t`, in
    /// this language's form; `None` when `text` is not such a time.
    pub fn race_time(self, text: &str) -> Option<String> {
        let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
        let parts: Vec<&str> = clock.split(':').collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !(2..=3).contains(&parts.len())
            || !parts.iter().all(|p| numeric(p))
            || !(fraction.is_empty() || numeric(fraction))
        {
            return None;
        }
        Some(match self {
            Lang::En => text.to_owned(),
            Lang::Fr => {
                let units = if parts.len() == 3 {
                    &["h", "min", "s"][..]
                } else {
                    &["min", "s"][..]
                };
                let mut out: Vec<String> = parts
                    .iter()
                    .zip(units)
                    .map(|(p, u)| format!("{p}{NBSP}{u}"))
                    .collect();
                if !fraction.is_empty() {
                    out.push(fraction.to_owned());
                }
                out.join(" ")
            }
            Lang::It => {
                let (hours, rest) = if parts.len() == 3 {
                    (format!("{}h", parts[0]), &parts[1..])
                } else {
                    (String::new(), &parts[..])
                };
                format!("{hours}{}'{}\"{fraction}", rest[0], rest[1])
            }
        })
    }

    /// A place in a ranking: `1st`, `1re`, `1º`.
    pub fn ordinal(self, n: u32) -> String {
        match self {
            Lang::En => {
                let suffix = match (n % 10, n % 100) {
                    (_, 11..=13) => "th",
                    (1, _) => "st",
                    (2, _) => "nd",
                    (3, _) => "rd",
                    _ => "th",
                };
                format!("{n}{suffix}")
            }
            // Feminine, agreeing with "place".
            Lang::Fr => format!("{n}{}", if n == 1 { "re" } else { "e" }),
            // Masculine, agreeing with "posto".
            Lang::It => format!("{n}º"),
        }
    }

    /// `sentence` ended with `mark` (`!`, `?`, `:` or `;`) as this language spaces it.
    pub fn punct(self, sentence: &str, mark: char) -> String {
        match (self, mark) {
            (Lang::Fr, '!' | '?' | ';') => format!("{sentence}{NNBSP}{mark}"),
            (Lang::Fr, ':') => format!("{sentence}{NBSP}{mark}"),
            _ => format!("{sentence}{mark}"),
        }
    }
}

/// French `de` before a name: `d’` before a vowel sound (`d’Ilia Malinin`).
pub fn fr_de(name: &str) -> String {
    let elides = name
        .chars()
        .next()
        .is_some_and(|c| "AEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜaeiouyàâäéèêëîïôöùûü".contains(c));
    if elides {
        format!("d’{name}")
    } else {
        format!("de {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        assert_eq!(Lang::En.quantity(142.5, 1, "m"), "142.5\u{a0}m");
        assert_eq!(Lang::Fr.quantity(142.5, 1, "m"), "142,5\u{a0}m");
        assert_eq!(Lang::It.quantity(131.64, 1, "km/h"), "131,6\u{a0}km/h");
        assert_eq!(Lang::Fr.decimal_mark("182.50"), "182,50");
    }

    #[test]
    fn race_times() {
        assert_eq!(Lang::En.race_time("1:51.61").unwrap(), "1:51.61");
        assert_eq!(
            Lang::Fr.race_time("1:51.61").unwrap(),
            "1\u{a0}min 51\u{a0}s 61"
        );
        assert_eq!(Lang::It.race_time("1:51.61").unwrap(), "1'51\"61");
        assert_eq!(
            Lang::Fr.race_time("1:07:32.4").unwrap(),
            "1\u{a0}h 07\u{a0}min 32\u{a0}s 4"
        );
        assert_eq!(Lang::It.race_time("1:07:32.4").unwrap(), "1h07'32\"4");
        assert_eq!(Lang::It.race_time("0:58").unwrap(), "0'58\"");
        assert_eq!(Lang::En.race_time("148.7"), None);
        assert_eq!(Lang::En.race_time("DNF"), None);
        assert_eq!(Lang::En.race_time("1:xx.2"), None);
    }

    #[test]
    fn ordinals() {
        let en: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111]
            .map(|n| Lang::En.ordinal(n))
            .into();
        assert_eq!(
            en,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
        assert_eq!(Lang::Fr.ordinal(1), "1re");
        assert_eq!(Lang::Fr.ordinal(2), "2e");
        assert_eq!(Lang::It.ordinal(3), "3º");
    }

    #[test]
    fn languages_by_tag() {
        assert_eq!(Lang::from_tag("fr-CH"), Ok(Lang::Fr));
        assert_eq!(Lang::from_tag("IT"), Ok(Lang::It));
        assert_eq!(Lang::from_tag("en_GB"), Ok(Lang::En));
        assert_eq!(
            Lang::from_tag("de-AT").unwrap_err().message,
            "unsupported language `de-AT`; this module writes en, fr, it"
        );
    }

    #[test]
    fn french_spacing_and_elision() {
        assert_eq!(
            Lang::Fr.punct("Record du tremplin", '!'),
            "Record du tremplin\u{202f}!"
        );
        assert_eq!(Lang::En.punct("Hill record", '!'), "Hill record!");
        assert_eq!(fr_de("Ilia Malinin"), "d’Ilia Malinin");
        assert_eq!(fr_de("Éric Frenzel"), "d’Éric Frenzel");
        assert_eq!(fr_de("Ryōyū Kobayashi"), "de Ryōyū Kobayashi");
    }
}
