//! The module platform's headline figures, each beside a baseline measured in the same run:
//! instantiation (pooling vs on demand), a `tag` call (Wasm vs the same rules native),
//! events per second per core, and loading (compile vs cache).
//!
//! Run with `cargo xtask bench` (it builds the guests first and sets PISTE_MODULES).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use piste_guest::Tagger;
use piste_sandbox::bindings::Moment;
use piste_sandbox::{
    LoadedModule, ModuleSpec, PublisherKey, Sandbox, SandboxConfig, TrustStore, World,
};

fn main() {
    let modules = std::env::var_os("PISTE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/modules"));
    let wasm = std::fs::read(modules.join("tag-rules.wasm"))
        .expect("built guests: run `cargo xtask bench`");
    let scratch = tempfile::tempdir().unwrap();
    let key = PublisherKey::generate();
    let signed = scratch.path().join("tag-rules.wasm");
    std::fs::write(&signed, key.sign("tag-rules", &wasm).unwrap()).unwrap();
    let mut trust = TrustStore::empty();
    trust.add(key.public().clone());
    let engine = |cache: &str, pooling: bool, fuel: bool| {
        let cache_dir = Some(scratch.path().join(cache));
        Sandbox::new(
            SandboxConfig {
                cache_dir,
                pooling,
                fuel,
                ..SandboxConfig::default()
            },
            trust.clone(),
        )
        .unwrap()
    };
    let load = |sandbox: &Arc<Sandbox>| {
        sandbox
            .load(ModuleSpec::new(&signed, World::Tagger))
            .unwrap()
    };

    println!(
        "piste module platform benchmarks (tag-rules, {} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<44} {:>14} {:>14} {:>8}",
        "figure", "piste", "baseline", "ratio"
    );

    // Loading: compile from .wasm (each time into a fresh cache) against the cached code.
    let mut cold = Vec::new();
    for i in 0..5 {
        let sandbox = engine(&format!("cold{i}"), true, true);
        let t = Instant::now();
        let module = load(&sandbox);
        cold.push(t.elapsed());
        assert!(!module.loaded_from_cache());
    }
    let warm_engine = engine("cold0", true, true);
    let mut warm = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let module = load(&warm_engine);
        warm.push(t.elapsed());
        assert!(module.loaded_from_cache());
    }
    row(
        "load warm (cache) vs cold (compile), ms",
        median(&mut warm),
        median(&mut cold),
        1e3,
    );

    // Instantiation from InstancePre (with `init`): pooling against on-demand allocation.
    let pooled = load(&engine("cold0", true, true));
    let on_demand = load(&engine("cold0", false, true));
    let inst = |module: &LoadedModule| {
        let mut times = Vec::new();
        for _ in 0..3000 {
            let t = Instant::now();
            module.instantiate_only().unwrap();
            times.push(t.elapsed());
        }
        median(&mut times)
    };
    row(
        "instantiate + init, pooling vs on-demand, µs",
        inst(&pooled),
        inst(&on_demand),
        1e6,
    );

    // A tag call on a realistic moment, against the same rules compiled natively (through the
    // same SDK trait, configuration look-ups included, on an owned copy as the guest gets).
    let guest_moment = piste_guest::testing::ski_jump();
    let moment: Moment =
        serde_json::from_value(serde_json::to_value(&guest_moment).unwrap()).unwrap();
    let module = load(&warm_engine);
    let calls = 200_000;
    let (mut wasm_times, wasm_total) = time_calls(calls, || {
        std::hint::black_box(module.tag(&moment).unwrap());
    });
    let (mut native_times, native_total) = time_calls(calls, || {
        std::hint::black_box(tag_rules::TagRules::tag(guest_moment.clone()).unwrap());
    });
    assert_eq!(
        module.tag(&moment).unwrap().len(),
        tag_rules::TagRules::tag(guest_moment.clone())
            .unwrap()
            .len()
    );
    row(
        "tag call median, Wasm vs native, µs",
        median(&mut wasm_times),
        median(&mut native_times),
        1e6,
    );
    row(
        "tag call p99, Wasm vs native, µs",
        percentile(&mut wasm_times, 0.99),
        percentile(&mut native_times, 0.99),
        1e6,
    );
    let per_second = |total: Duration| calls as f64 / total.as_secs_f64();
    println!(
        "{:<44} {:>14.0} {:>14.0} {:>8.2}",
        "events per second on one core",
        per_second(wasm_total),
        per_second(native_total),
        per_second(wasm_total) / per_second(native_total)
    );

    // The cost of fuel metering on the same call.
    let no_fuel = load(&engine("nofuel", true, false));
    let (mut unmetered, _) = time_calls(calls, || {
        std::hint::black_box(no_fuel.tag(&moment).unwrap());
    });
    row(
        "tag call median, fuel metered vs not, µs",
        median(&mut wasm_times),
        median(&mut unmetered),
        1e6,
    );
}

fn time_calls(n: usize, mut f: impl FnMut()) -> (Vec<Duration>, Duration) {
    for _ in 0..n / 10 {
        f();
    }
    let mut times = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    (times, start.elapsed())
}

fn row(label: &str, ours: Duration, baseline: Duration, scale: f64) {
    let (a, b) = (ours.as_secs_f64() * scale, baseline.as_secs_f64() * scale);
    println!("{label:<44} {a:>14.3} {b:>14.3} {:>8.2}", a / b);
}

fn median(samples: &mut [Duration]) -> Duration {
    percentile(samples, 0.5)
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}
