//! The piste guest SDK.
pub mod bindings;
