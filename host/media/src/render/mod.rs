//! Replay renders: novel views of the hull (orbits, bullet time, held-out cameras) and the
//! spacetime slice (one image of several phases of a movement) and slow motion.

pub mod slice;
pub mod slowmo;
pub mod view;
