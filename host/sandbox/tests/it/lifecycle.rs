//! Instance replacement, quarantine, hot reload, the code cache, concurrency and metrics.

use std::sync::Arc;
use std::time::Duration;

use piste_sandbox::{ErrorKind, Limits, ModuleSpec, Registry, World};

use crate::common::{Bench, moments};

#[test]
fn a_trapped_instance_is_replaced_by_a_fresh_one() {
    let bench = Bench::new();
    let module = bench
        .load("hostile-trap-once", World::Tagger, Limits::default())
        .unwrap();
    let moment = &moments()[0];
    // The guest traps on every second call of an instance: ok, trap, then a fresh instance.
    assert!(module.tag(moment).is_ok());
    assert_eq!(module.tag(moment).unwrap_err().kind, ErrorKind::Panic);
    assert!(
        module.tag(moment).is_ok(),
        "a fresh instance answers after a trap"
    );
    let metrics = module.metrics();
    assert_eq!(metrics.figures.instances_created, 2, "{metrics}");
    assert_eq!(metrics.figures.errors.get(&ErrorKind::Panic), Some(&1));
}

#[test]
fn a_module_that_keeps_failing_is_quarantined_until_reloaded() {
    let bench = Bench::new();
    let registry = Registry::new(bench.sandbox.clone());
    let limits = Limits {
        quarantine_after: 3,
        quarantine_window_s: 60,
        ..Limits::default()
    };
    let spec =
        ModuleSpec::new(bench.signed("hostile-trap-once"), World::Tagger).with_limits(limits);
    registry.load(spec).unwrap();
    let module = registry.get("hostile-trap-once").unwrap();
    let moment = &moments()[0];
    let mut faults = 0;
    while !module.is_quarantined() {
        if module.tag(moment).is_err() {
            faults += 1;
        }
        assert!(faults <= 3);
    }
    assert_eq!(faults, 3);
    let refused = module.tag(moment).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Quarantined);
    assert!(refused.message.contains("reload"), "{refused}");

    let reloaded = registry.reload("hostile-trap-once").unwrap();
    assert!(!reloaded.is_quarantined());
    assert!(reloaded.tag(moment).is_ok());
}

#[test]
fn hot_reload_swaps_atomically_and_calls_in_flight_finish_on_the_old_version() {
    let bench = Arc::new(Bench::new());
    let registry = Arc::new(Registry::new(bench.sandbox.clone()));
    let limits = Limits {
        deadline_ms: 300,
        ..Limits::default()
    };
    let path = bench.signed("hostile-infinite-loop");
    registry
        .load(
            ModuleSpec::new(&path, World::Tagger)
                .with_limits(limits.clone())
                .with_name("rules"),
        )
        .unwrap();

    // A long call is in flight on the old version while the new one goes live.
    let in_flight = {
        let module = registry.get("rules").unwrap();
        std::thread::spawn(move || module.tag(&moments()[0]))
    };
    std::thread::sleep(Duration::from_millis(50));
    let healthy = bench.signed("tag-rules");
    std::fs::copy(&healthy, &path).unwrap();
    let new = registry.reload("rules").unwrap();
    assert_eq!(new.info().name, "rules");
    assert!(
        new.tag(&moments()[0]).is_ok(),
        "the new version serves at once"
    );
    let old = in_flight.join().unwrap().unwrap_err();
    assert_eq!(
        old.kind,
        ErrorKind::Deadline,
        "the old call finished on the old version"
    );
}

#[test]
fn a_failed_reload_keeps_the_live_version() {
    let bench = Bench::new();
    let registry = Registry::new(bench.sandbox.clone());
    let path = bench.signed("tag-rules");
    registry
        .load(ModuleSpec::new(&path, World::Tagger))
        .unwrap();
    std::fs::write(&path, b"not a module").unwrap();
    assert!(registry.reload("tag-rules").is_err());
    assert!(
        registry
            .get("tag-rules")
            .unwrap()
            .tag(&moments()[0])
            .is_ok()
    );
}

#[test]
fn compiled_code_is_cached_and_reused() {
    let bench = Bench::new();
    let first = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    assert!(!first.loaded_from_cache());
    let second = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    assert!(second.loaded_from_cache());
    assert_eq!(
        first.tag(&moments()[0]).unwrap(),
        second.tag(&moments()[0]).unwrap()
    );
    // A damaged cache file is dropped and recompiled, never trusted.
    for entry in std::fs::read_dir(bench.dir.path().join("cache")).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    assert!(!third.loaded_from_cache());
    assert!(third.tag(&moments()[0]).is_ok());
}

#[test]
fn calls_beyond_the_concurrency_limit_wait_and_give_up_at_the_deadline() {
    let bench = Bench::new();
    let limits = Limits {
        max_concurrency: 1,
        deadline_ms: 150,
        ..Limits::default()
    };
    let module = bench
        .load("hostile-infinite-loop", World::Tagger, limits)
        .unwrap();
    let busy = {
        let module = module.clone();
        std::thread::spawn(move || module.tag(&moments()[0]))
    };
    std::thread::sleep(Duration::from_millis(20));
    let waited = module.tag(&moments()[0]).unwrap_err();
    assert!(
        matches!(waited.kind, ErrorKind::Busy | ErrorKind::Deadline),
        "{waited}"
    );
    assert_eq!(busy.join().unwrap().unwrap_err().kind, ErrorKind::Deadline);
}

#[test]
fn an_input_over_the_cap_is_not_sent() {
    let bench = Bench::new();
    let limits = Limits {
        max_input_bytes: 256,
        ..Limits::default()
    };
    let module = bench.load("tag-rules", World::Tagger, limits).unwrap();
    let mut moment = moments()[0].clone();
    moment.discipline = "x".repeat(1000);
    let error = module.tag(&moment).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InputTooLarge);
    assert_eq!(
        module.metrics().figures.calls,
        0,
        "nothing reached the module"
    );
}

#[test]
fn metrics_count_calls_latency_fuel_memory_and_the_modules_counters() {
    let bench = Bench::new();
    let module = bench
        .load("tag-rules", World::Tagger, Limits::default())
        .unwrap();
    for moment in moments() {
        module.tag(&moment).unwrap();
    }
    let metrics = module.metrics();
    assert_eq!(metrics.figures.calls, 4);
    assert!(metrics.figures.fuel_used > 0);
    assert!(metrics.figures.peak_memory_bytes >= 64 * 1024);
    assert!(metrics.figures.latency_p50 > Duration::ZERO);
    let text = metrics.to_string();
    assert!(
        text.contains("tag-rules") && text.contains("calls          4"),
        "{text}"
    );
}
