//! Integration tests of the sync protocol: both state machines over a simulated network.

mod sim;
mod tls;
