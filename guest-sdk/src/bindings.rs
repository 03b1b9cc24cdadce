//! The bindings `wit_bindgen::generate!` writes from `wit/piste.wit`.
//!
//! Every world of `piste:module` exports `lifecycle`, and wit-bindgen emits a
//! crate-level (`#[macro_export]`) macro per exported interface. Generating the
//! three worlds as they are would therefore define the `lifecycle` export macro
//! three times in this crate, which Rust rejects. So the bindings are cut along
//! the exports instead, with small worlds of this crate's own (written inline,
//! over the package in `../wit`):
//!
//! - [`common`]: imports `host`, exports `lifecycle`. The shared
//!   `piste:module/types` and `piste:module/host` interfaces are generated here,
//!   once, and the other three modules reuse them through the `with:` option, so
//!   a [`crate::Moment`] is the same Rust type everywhere.
//! - [`tagger`], [`captioner`], [`distributor`]: import `host`, export the one
//!   entry interface of that world.
//!
//! Each part's export macro embeds the part's world in the module; the
//! component tooling unions those pieces, so a module that invokes the `common`
//! and `tagger` macros is exactly a `piste:module/tagger` component. The
//! crate's `export_*!` macros do that pairing; module authors never call these
//! macros directly.

/// Imports `host`, exports `lifecycle`; home of the shared `types` and `host` bindings.
#[allow(missing_docs)]
pub mod common {
    wit_bindgen::generate!({
        path: "../wit",
        inline: "
            package piste:guest-sdk;

            world common {
                import piste:module/host@0.1.0;
                export piste:module/lifecycle@0.1.0;
            }
        ",
        world: "piste:guest-sdk/common",
        // Captions, assets and the routing types are not used by this part, but
        // the other parts take every type from here, so generate them all.
        generate_unused_types: true,
        generate_all,
        // The WIT `error` record is this crate's own `Error` (same layout, one
        // `message` string), so it can have a readable `Display` and constructors.
        with: {
            "piste:module/types@0.1.0/error": crate::Error,
        },
        additional_derives: [PartialEq],
        // With the `serde` feature the types (de)serialize in the host's JSON
        // form (snake_case fields, enum cases named as the Rust variants), the
        // form of `piste module test` fixtures.
        additional_type_attributes: {
            "piste:module/types@0.1.0/sport": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/athlete": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/event": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/landing": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/kinematics": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/detection": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/moment": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/tag": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/caption": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/rendition": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/asset": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/destination-kind": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/destination": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/decision": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
            "piste:module/types@0.1.0/config-value": [#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]],
        },
        pub_export_macro: true,
        default_bindings_module: "piste_guest::bindings::common",
    });
}

/// Imports `host`, exports `tagging`: the rest of the `tagger` world.
#[allow(missing_docs)]
pub mod tagger {
    wit_bindgen::generate!({
        path: "../wit",
        inline: "
            package piste:guest-sdk;

            world tagger {
                import piste:module/host@0.1.0;
                export piste:module/tagging@0.1.0;
            }
        ",
        world: "piste:guest-sdk/tagger",
        with: {
            "piste:module/types@0.1.0": crate::bindings::common::piste::module::types,
            "piste:module/types@0.1.0/error": crate::Error,
            "piste:module/host@0.1.0": crate::bindings::common::piste::module::host,
        },
        pub_export_macro: true,
        default_bindings_module: "piste_guest::bindings::tagger",
    });
}

/// Imports `host`, exports `captioning`: the rest of the `captioner` world.
#[allow(missing_docs)]
pub mod captioner {
    wit_bindgen::generate!({
        path: "../wit",
        inline: "
            package piste:guest-sdk;

            world captioner {
                import piste:module/host@0.1.0;
                export piste:module/captioning@0.1.0;
            }
        ",
        world: "piste:guest-sdk/captioner",
        with: {
            "piste:module/types@0.1.0": crate::bindings::common::piste::module::types,
            "piste:module/types@0.1.0/error": crate::Error,
            "piste:module/host@0.1.0": crate::bindings::common::piste::module::host,
        },
        pub_export_macro: true,
        default_bindings_module: "piste_guest::bindings::captioner",
    });
}

/// Imports `host`, exports `routing`: the rest of the `distributor` world.
#[allow(missing_docs)]
pub mod distributor {
    wit_bindgen::generate!({
        path: "../wit",
        inline: "
            package piste:guest-sdk;

            world distributor {
                import piste:module/host@0.1.0;
                export piste:module/routing@0.1.0;
            }
        ",
        world: "piste:guest-sdk/distributor",
        with: {
            "piste:module/types@0.1.0": crate::bindings::common::piste::module::types,
            "piste:module/types@0.1.0/error": crate::Error,
            "piste:module/host@0.1.0": crate::bindings::common::piste::module::host,
        },
        pub_export_macro: true,
        default_bindings_module: "piste_guest::bindings::distributor",
    });
}
