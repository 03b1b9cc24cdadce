//! Integration tests of the sandbox against real guests built for wasm32-wasip2
//! (`cargo xtask modules` builds them; `cargo xtask test` runs this).

mod common;
mod examples;
mod hostile;
mod lifecycle;
mod signing;
