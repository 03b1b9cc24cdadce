//! Integration tests of the replay engine against real data.

mod matting;
mod middlebury;
mod opencv;
mod sim;
