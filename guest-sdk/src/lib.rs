//! The Rust SDK for piste module authors.
//!
//! A piste module is a WebAssembly component that targets one world of
//! `wit/piste.wit`: a **tagger** gets a [`Moment`] and returns [`Tag`]s, a
//! **captioner** gets a moment, its tags and a language and returns a
//! [`Caption`], a **distributor** gets an [`Asset`] and the [`Destination`]s and
//! returns routing [`Decision`]s. With this crate a module is a type that
//! implements one of the traits [`Tagger`], [`Captioner`] or [`Distributor`],
//! and one line, [`export_tagger!`], [`export_captioner!`] or
//! [`export_distributor!`], that makes it the component's export.
//!
//! What the host offers a module is here too: [`log`], [`config`] and
//! [`counter`]. On wasm32 they call the host; on any other target they go to
//! the thread-local test host in [`testing`] (a native-only module), so a
//! module's logic is unit-tested natively with plain `cargo test`.
//!
//! What this crate is not: a host. It cannot load or run a module; `piste
//! module test` does that, against fixtures. Nor does it give a module any
//! capability beyond its world: no files, sockets, environment or clocks.
//!
//! ```
//! use piste_guest::{Error, Moment, Sport, Tag, Tagger};
//!
//! struct LongJumps;
//!
//! impl Tagger for LongJumps {
//!     fn tag(moment: Moment) -> Result<Vec<Tag>, Error> {
//!         let min = piste_guest::config::number("min_distance_m")?.unwrap_or(130.0);
//!         let far = moment.sport == Sport::SkiJumping
//!             && moment.kinematics.distance_m.is_some_and(|d| d >= min);
//!         Ok(if far { vec![Tag::new("long-jump", 0.9)] } else { Vec::new() })
//!     }
//! }
//!
//! piste_guest::export_tagger!(LongJumps);
//! # fn main() {
//! #     let tags = LongJumps::tag(piste_guest::testing::ski_jump()).unwrap();
//! #     assert_eq!(tags[0].name, "long-jump");
//! # }
//! ```

pub mod bindings;
pub mod config;
pub mod counter;
mod error;
mod host;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use bindings::common::piste::module::types::{
    Asset, Athlete, Caption, ConfigValue, Decision, Destination, DestinationKind, Detection, Event,
    Kinematics, Landing, Moment, Rendition, Sport, Tag,
};
pub use error::Error;

/// A tagging rule set: the `tagger` world.
pub trait Tagger {
    /// Checks the configuration; called once per fresh instance, before any
    /// other call. An error here refuses the module at load.
    fn init() -> Result<(), Error> {
        Ok(())
    }

    /// Returns the tags that apply to `moment`, each with a confidence from 0 to 1.
    ///
    /// The host accepts a tag only if its name is 1 to 64 characters of
    /// `a-z`, `0-9` and `-`, and its confidence is within 0..=1.
    fn tag(moment: Moment) -> Result<Vec<Tag>, Error>;
}

/// A caption template set: the `captioner` world.
pub trait Captioner {
    /// Checks the configuration; called once per fresh instance, before any
    /// other call. An error here refuses the module at load.
    fn init() -> Result<(), Error> {
        Ok(())
    }

    /// Writes the caption for `moment` and its `tags` in `language` (a BCP 47 tag).
    ///
    /// The host accepts the caption only if its `language` is the one asked
    /// for, exactly (`fr-CH` stays `fr-CH`), and its text is not empty.
    fn caption(moment: Moment, tags: Vec<Tag>, language: String) -> Result<Caption, Error>;
}

/// A distribution policy: the `distributor` world.
pub trait Distributor {
    /// Checks the configuration; called once per fresh instance, before any
    /// other call. An error here refuses the module at load.
    fn init() -> Result<(), Error> {
        Ok(())
    }

    /// Decides where `asset` goes, in what priority and from when, at instant `now_ms`.
    ///
    /// The host accepts a decision only if it names a destination and a
    /// rendition that were in the input.
    fn route(
        asset: Asset,
        destinations: Vec<Destination>,
        now_ms: u64,
    ) -> Result<Vec<Decision>, Error>;
}

/// Makes a type that implements [`Tagger`] the module's export:
/// `piste_guest::export_tagger!(MyRules);`, once, at the crate's top level.
///
/// On wasm32 this writes the component's `lifecycle` and `tagging` exports. On
/// other targets it only checks that the type implements the trait, so the
/// crate can also be built natively (for tests, or beside other modules in a
/// benchmark) without exporting symbols that would clash.
#[macro_export]
macro_rules! export_tagger {
    ($ty:ty) => {
        const _: () = {
            #[allow(dead_code)]
            struct PisteExport;

            impl $crate::bindings::common::exports::piste::module::lifecycle::Guest for PisteExport {
                fn init() -> ::core::result::Result<(), $crate::Error> {
                    <$ty as $crate::Tagger>::init()
                }
            }

            impl $crate::bindings::tagger::exports::piste::module::tagging::Guest for PisteExport {
                fn tag(
                    moment: $crate::Moment,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Tag>, $crate::Error> {
                    <$ty as $crate::Tagger>::tag(moment)
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::bindings::common::export!(PisteExport with_types_in $crate::bindings::common);
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::tagger::export!(PisteExport with_types_in $crate::bindings::tagger);
        };
    };
}

/// Makes a type that implements [`Captioner`] the module's export:
/// `piste_guest::export_captioner!(MyTemplates);`, once, at the crate's top level.
///
/// As [`export_tagger!`]: exports on wasm32, only a trait check elsewhere.
#[macro_export]
macro_rules! export_captioner {
    ($ty:ty) => {
        const _: () = {
            #[allow(dead_code)]
            struct PisteExport;

            impl $crate::bindings::common::exports::piste::module::lifecycle::Guest for PisteExport {
                fn init() -> ::core::result::Result<(), $crate::Error> {
                    <$ty as $crate::Captioner>::init()
                }
            }

            impl $crate::bindings::captioner::exports::piste::module::captioning::Guest
                for PisteExport
            {
                fn caption(
                    moment: $crate::Moment,
                    tags: ::std::vec::Vec<$crate::Tag>,
                    language: ::std::string::String,
                ) -> ::core::result::Result<$crate::Caption, $crate::Error> {
                    <$ty as $crate::Captioner>::caption(moment, tags, language)
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::bindings::common::export!(PisteExport with_types_in $crate::bindings::common);
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::captioner::export!(PisteExport with_types_in $crate::bindings::captioner);
        };
    };
}

/// Makes a type that implements [`Distributor`] the module's export:
/// `piste_guest::export_distributor!(MyPolicy);`, once, at the crate's top level.
///
/// As [`export_tagger!`]: exports on wasm32, only a trait check elsewhere.
#[macro_export]
macro_rules! export_distributor {
    ($ty:ty) => {
        const _: () = {
            #[allow(dead_code)]
            struct PisteExport;

            impl $crate::bindings::common::exports::piste::module::lifecycle::Guest for PisteExport {
                fn init() -> ::core::result::Result<(), $crate::Error> {
                    <$ty as $crate::Distributor>::init()
                }
            }

            impl $crate::bindings::distributor::exports::piste::module::routing::Guest
                for PisteExport
            {
                fn route(
                    asset: $crate::Asset,
                    destinations: ::std::vec::Vec<$crate::Destination>,
                    now_ms: u64,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Decision>, $crate::Error> {
                    <$ty as $crate::Distributor>::route(asset, destinations, now_ms)
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::bindings::common::export!(PisteExport with_types_in $crate::bindings::common);
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::distributor::export!(
                PisteExport with_types_in $crate::bindings::distributor
            );
        };
    };
}

impl Tag {
    /// A tag `name` (kebab-case) with `confidence` (clamped to 0..=1) and no detail.
    pub fn new(name: impl Into<String>, confidence: f32) -> Self {
        Tag {
            name: name.into(),
            confidence: confidence.clamp(0.0, 1.0),
            detail: None,
        }
    }

    /// The same tag with `detail`, a short explanation for the operator.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl Moment {
    /// The main subject of the moment: the first athlete, if there is one.
    pub fn athlete(&self) -> Option<&Athlete> {
        self.athletes.first()
    }
}

impl Caption {
    /// A caption in `language` with `text`.
    pub fn new(language: impl Into<String>, text: impl Into<String>) -> Self {
        Caption {
            language: language.into(),
            text: text.into(),
        }
    }
}

/// Nothing measured: every field `None`.
impl Default for Kinematics {
    fn default() -> Self {
        Kinematics {
            air_time_s: None,
            max_height_m: None,
            distance_m: None,
            takeoff_speed_kmh: None,
            max_speed_kmh: None,
            rotations: None,
            flips: None,
            takeoff_ms: None,
            landing_ms: None,
            landing_impact_g: None,
            landing: None,
        }
    }
}
