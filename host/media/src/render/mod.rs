//! Replay renders: the spacetime slice (one image of several phases of a movement).

pub mod slice;
