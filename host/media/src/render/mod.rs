//! Replay renders: novel views of the hull (orbits, bullet time, held-out cameras) and the
//! spacetime slice (one image of several phases of a movement).

pub mod slice;
pub mod view;
