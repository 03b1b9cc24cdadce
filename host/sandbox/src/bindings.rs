//! Host-side bindings of the `wit/` package, generated once per world over the same
//! shared `types` and `host` interfaces.

/// The `tagger` world, and with it the shared `types` and `host` interfaces.
pub mod tagger {
    // Generated items carry the WIT documentation of `wit/piste.wit`, not Rust doc comments.
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "tagger",
        imports: { "piste:module/host.log": trappable },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// The `captioner` world.
pub mod captioner {
    // Generated items carry the WIT documentation of `wit/piste.wit`, not Rust doc comments.
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "captioner",
        with: {
            "piste:module/types": super::tagger::piste::module::types,
            "piste:module/host": super::tagger::piste::module::host,
        },
    });
}

/// The `distributor` world.
pub mod distributor {
    // Generated items carry the WIT documentation of `wit/piste.wit`, not Rust doc comments.
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "distributor",
        with: {
            "piste:module/types": super::tagger::piste::module::types,
            "piste:module/host": super::tagger::piste::module::host,
        },
    });
}

pub use tagger::piste::module::host::Level;
pub use tagger::piste::module::types::{
    Asset, Athlete, Caption, ConfigValue, Decision, Destination, DestinationKind, Detection,
    Error as ModuleError, Event, Kinematics, Landing, Moment, Rendition, Sport, Tag,
};
