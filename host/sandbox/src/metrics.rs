//! Per-module figures: calls, errors by kind, latency histogram, fuel, memory, counters.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::ErrorKind;

/// Accumulates the figures of one loaded module.
pub(crate) struct Recorder {
    calls: u64,
    errors: BTreeMap<ErrorKind, u64>,
    latency_ns: Histogram<u64>,
    fuel_total: u64,
    peak_memory: usize,
    instances_created: u64,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            calls: 0,
            errors: BTreeMap::new(),
            latency_ns: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                .expect("histogram bounds"),
            fuel_total: 0,
            peak_memory: 0,
            instances_created: 0,
        }
    }

    pub fn record_call(
        &mut self,
        elapsed: Duration,
        fuel: u64,
        memory: usize,
        error: Option<ErrorKind>,
    ) {
        self.calls += 1;
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.latency_ns.saturating_record(ns);
        self.fuel_total = self.fuel_total.saturating_add(fuel);
        self.peak_memory = self.peak_memory.max(memory);
        if let Some(kind) = error {
            self.record_error(kind);
        }
    }

    pub fn record_error(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn record_instance(&mut self, memory: usize) {
        self.instances_created += 1;
        self.peak_memory = self.peak_memory.max(memory);
    }

    pub fn snapshot(&self) -> Figures {
        let q = |p: f64| Duration::from_nanos(self.latency_ns.value_at_quantile(p));
        Figures {
            calls: self.calls,
            errors: self.errors.clone(),
            latency_p50: q(0.5),
            latency_p90: q(0.9),
            latency_p99: q(0.99),
            latency_max: Duration::from_nanos(self.latency_ns.max()),
            fuel_used: self.fuel_total,
            peak_memory_bytes: self.peak_memory,
            instances_created: self.instances_created,
        }
    }
}

/// The call figures of a module at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Calls made, successful or not.
    pub calls: u64,
    /// Failed calls by kind (including refused loads of fresh instances).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Median call latency.
    pub latency_p50: Duration,
    /// 90th-percentile call latency.
    pub latency_p90: Duration,
    /// 99th-percentile call latency.
    pub latency_p99: Duration,
    /// Slowest call.
    pub latency_max: Duration,
    /// Fuel used by all calls together (0 when fuel metering is off).
    pub fuel_used: u64,
    /// The most linear memory one instance asked for, in bytes.
    pub peak_memory_bytes: usize,
    /// Fresh instances made (the first, and one for each trapped one replaced).
    pub instances_created: u64,
}

/// Everything the appliance knows about one module's behaviour, as the CLI prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleMetrics {
    /// The module's name.
    pub module: String,
    /// Its version.
    pub version: String,
    /// Its world.
    pub world: String,
    /// Call figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Log records the host truncated.
    pub log_records_truncated: u64,
    /// The module's own counters.
    pub counters: BTreeMap<String, u64>,
    /// Whether the module is quarantined.
    pub quarantined: bool,
}

impl fmt::Display for ModuleMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.figures;
        writeln!(
            f,
            "{}@{} ({}){}",
            self.module,
            self.version,
            self.world,
            if self.quarantined {
                "  QUARANTINED"
            } else {
                ""
            }
        )?;
        writeln!(f, "  calls          {}", m.calls)?;
        writeln!(
            f,
            "  latency        p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
            m.latency_p50, m.latency_p90, m.latency_p99, m.latency_max
        )?;
        writeln!(f, "  fuel used      {}", m.fuel_used)?;
        writeln!(f, "  peak memory    {} KiB", m.peak_memory_bytes / 1024)?;
        writeln!(f, "  instances      {}", m.instances_created)?;
        if m.errors.is_empty() {
            writeln!(f, "  errors         none")?;
        } else {
            let list: Vec<String> = m.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(f, "  errors         {}", list.join(", "))?;
        }
        if self.log_records_truncated > 0 {
            writeln!(f, "  logs truncated {}", self.log_records_truncated)?;
        }
        for (name, value) in &self.counters {
            writeln!(f, "  counter        {name} = {value}")?;
        }
        Ok(())
    }
}
