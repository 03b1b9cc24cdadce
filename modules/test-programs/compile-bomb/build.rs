//! Generates `churn`, one function with tens of thousands of distinct arithmetic
//! statements, so that the component's code section holds a single body of several MiB.
//!
//! The constants come from a fixed pseudo-random sequence, so the output is the same on
//! every build and no two statements can be folded together.

use std::fmt::Write as _;
use std::path::PathBuf;

/// How many statements the generated function has.
const STATEMENTS: usize = 120_000;

fn main() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        // splitmix64: a tiny, well-mixed sequence; quality only has to defeat folding.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut code = String::from(
        "/// One huge function: every statement goes through `black_box`, so none is removed.\n\
         #[inline(never)]\n\
         fn churn(mut x: u64) -> u64 {\n",
    );
    for _ in 0..STATEMENTS {
        let (mul, xor) = (next() | 1, next());
        writeln!(
            code,
            "    x = black_box(x.wrapping_mul({mul:#x}) ^ {xor:#x});"
        )
        .unwrap();
    }
    code.push_str("    x\n}\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("churn.rs"), code).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
