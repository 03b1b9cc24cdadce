//! Runs third-party Wasm modules in a bounded wasmtime sandbox.
//!
//! This crate is the only one that knows wasmtime. It verifies a module's Ed25519 signature
//! before anything else ([`TrustStore`]), inspects its world, imports and code size
//! ([`Inspection`]), compiles it once (with an on-disk cache), and runs each call under
//! caps on input, output, memory, wall time and optionally fuel ([`Limits`]). A trapped
//! instance is replaced; a module that keeps faulting is quarantined; hot reload swaps
//! versions atomically ([`Registry`]).
//!
//! It is not a scheduler and does no I/O beyond reading module files, key files and its
//! code cache. Calls are synchronous: run them on a blocking thread from async code.
//!
//! Main types: [`Sandbox`] (the engine), [`LoadedModule`] (a module ready to call),
//! [`Registry`], [`CallError`] and [`ErrorKind`], [`ModuleMetrics`].

pub mod bindings;
mod engine;
mod error;
mod host;
mod inspect;
mod metrics;
mod module;
mod registry;
mod signing;
pub mod wire;

pub use engine::{Sandbox, SandboxConfig};
pub use error::{CallError, Error, ErrorKind, Result};
pub use inspect::{
    INFO_SECTION, Inspection, ModuleInfo, World, allowed_import, embed_info, unversioned,
};
pub use metrics::{Figures, ModuleMetrics};
pub use module::{CallStats, FailureWindow, Limits, LoadedModule, ModuleSpec};
pub use registry::Registry;
pub use signing::{PublisherKey, TrustStore, fingerprint, fingerprints, signer_count};
