//! The `piste` command line.
fn main() {}
