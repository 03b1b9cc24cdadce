//! Integration tests of the replay engine against real data.

mod middlebury;
mod opencv;
mod sim;
