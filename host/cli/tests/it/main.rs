//! Integration tests of the `piste` binary: the module author's whole path, as the guide tells it.

mod author;
mod capture;
mod replay;
mod sync;

/// Held by the tests that keep both cores busy for many seconds (replays of simulated
/// clips, a live capture of simulated cameras), so they take turns: a capture recorded
/// beside two replays misses frames it would not miss on its own.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
