//! `caption-templates`: an example captioner writing English, French and Italian.
//!
//! The moment's tags choose the template (a crash outranks a hill record,
//! which outranks a telemark, …; see [`templates`]), and each language writes
//! numbers, units, race times and places its own way (see [`locale`] for the
//! conventions). Athletes' names are used exactly as the results system sends
//! them, diacritics included. A language other than `en`, `fr` or `it` (with
//! any region: `fr-CH` is French) is an error that names the languages this
//! module writes.
//!
//! Config keys: `min_confidence` (number, 0 to 1, default 0.5: weaker tags do
//! not choose a template) and `nation_style` (text: `name`, `code` or
//! `hidden`, default `name`).

pub mod locale;
mod nations;
pub mod templates;

use piste_guest::{Caption, Captioner, Error, Moment, Tag, config, counter};

pub use locale::Lang;
pub use templates::{NationStyle, Settings, caption};

/// The module: [`caption`] with the [`Settings`] from the config.
pub struct CaptionTemplates;

impl Settings {
    /// The settings the operator configured, defaults for the rest.
    pub fn from_config() -> Result<Settings, Error> {
        config::expect_only(&["min_confidence", "nation_style"])?;
        let mut settings = Settings::default();
        if let Some(min) = config::number("min_confidence")? {
            if !(0.0..=1.0).contains(&min) {
                return Err(Error::new(format!(
                    "config key `min_confidence` must be between 0 and 1, but it is {min}"
                )));
            }
            settings.min_confidence = min as f32;
        }
        if let Some(style) = config::text("nation_style")? {
            settings.nation_style = match style.as_str() {
                "name" => NationStyle::Name,
                "code" => NationStyle::Code,
                "hidden" => NationStyle::Hidden,
                other => {
                    return Err(Error::new(format!(
                        "config key `nation_style` must be `name`, `code` or `hidden`, but it is {other:?}"
                    )));
                }
            };
        }
        Ok(settings)
    }
}

impl Captioner for CaptionTemplates {
    fn init() -> Result<(), Error> {
        Settings::from_config().map(drop)
    }

    fn caption(moment: Moment, tags: Vec<Tag>, language: String) -> Result<Caption, Error> {
        let lang = Lang::from_tag(&language)?;
        let settings = Settings::from_config()?;
        let text = caption(&moment, &tags, lang, &settings);
        counter::increment(&format!("captions-{}", lang.code()));
        // The host accepts a caption only in the language it asked for, so the
        // tag goes back as it came (`fr-CH`), though the text is plain French.
        Ok(Caption::new(language, text))
    }
}

piste_guest::export_captioner!(CaptionTemplates);

#[cfg(test)]
mod tests;
