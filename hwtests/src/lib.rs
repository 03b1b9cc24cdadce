//! Tests that need real hardware. Each suite runs only where its environment variable is
//! set (`PISTE_HWTEST_GPU=1` on a box with an NVIDIA GPU) and says why it skipped elsewhere.

/// Whether the suite gated by `var` runs here; prints why not when it does not.
pub fn enabled(var: &str, needs: &str) -> bool {
    let on = std::env::var(var).is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: needs {needs}; set {var}=1 on such a box (see hwtests/README.md)");
    }
    on
}
