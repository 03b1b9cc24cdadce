//! The per-instance host state: the bounded WASI context, the memory limiter, the
//! module's configuration, and the `host` imports (log, config, counters).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Result as WasmResult};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::tagger::piste::module::{host, types};
use crate::bindings::{ConfigValue, Level};

/// Bytes of a module's stdout and stderr kept per instance (panic messages land here).
const STDIO_CAPACITY: usize = 64 * 1024;

/// The trap raised when a module writes more log records in one call than allowed.
#[derive(Debug)]
pub(crate) struct LogFlood {
    pub limit: u32,
}

impl std::fmt::Display for LogFlood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wrote more than {} log records in one call", self.limit)
    }
}

impl std::error::Error for LogFlood {}

/// The trap raised when a module grows a memory past its cap.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    pub desired: usize,
    pub cap: usize,
}

impl std::fmt::Display for MemoryCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "asked for {} bytes of linear memory, over its cap of {} bytes",
            self.desired, self.cap
        )
    }
}

impl std::error::Error for MemoryCap {}

/// State shared by every instance of one loaded module.
pub(crate) struct Shared {
    /// The module's name, attached to every log record.
    pub name: String,
    /// The operator's configuration.
    pub config: BTreeMap<String, ConfigValue>,
    /// Counters the module adds to.
    pub counters: Mutex<BTreeMap<String, u64>>,
    /// Log records dropped or truncated by the host.
    pub logs_truncated: std::sync::atomic::AtomicU64,
    /// Log limits.
    pub max_log_records: u32,
    /// Longest log message kept, in bytes.
    pub max_log_bytes: usize,
}

/// The data of one instance's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub shared: Arc<Shared>,
    /// The cap on each linear memory, in bytes.
    memory_cap: usize,
    /// The largest total linear memory this instance asked for, in bytes.
    pub peak_memory: usize,
    /// Log records written in the current call.
    pub logs_this_call: u32,
    /// The instance's standard error, for panic messages.
    pub stderr: MemoryOutputPipe,
}

impl HostState {
    pub fn new(shared: Arc<Shared>, memory_cap: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let mut builder = WasiCtx::builder();
        // Nothing is inherited: no environment, arguments, preopened directories or network.
        builder
            .stdin(ClosedInputStream)
            .stdout(MemoryOutputPipe::new(STDIO_CAPACITY))
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        HostState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            shared,
            memory_cap,
            peak_memory: 0,
            logs_this_call: 0,
            stderr,
        }
    }

    /// What the module wrote to standard error, lossily decoded.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> WasmResult<bool> {
        if desired > self.memory_cap {
            return Err(wasmtime::Error::new(MemoryCap {
                desired,
                cap: self.memory_cap,
            }));
        }
        self.peak_memory = self
            .peak_memory
            .saturating_add(desired - current.min(desired));
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> WasmResult<bool> {
        Ok(desired <= 100_000)
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> WasmResult<()> {
        self.logs_this_call += 1;
        let shared = &self.shared;
        if self.logs_this_call > shared.max_log_records {
            return Err(wasmtime::Error::new(LogFlood {
                limit: shared.max_log_records,
            }));
        }
        let mut message = message;
        if message.len() > shared.max_log_bytes {
            let mut cut = shared.max_log_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
            shared
                .logs_truncated
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let fields: String = fields
            .iter()
            .take(16)
            .map(|(k, v)| format!(" {k}={v:?}"))
            .collect();
        let module = shared.name.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "piste::module", module, "{message}{fields}"),
            Level::Debug => tracing::debug!(target: "piste::module", module, "{message}{fields}"),
            Level::Info => tracing::info!(target: "piste::module", module, "{message}{fields}"),
            Level::Warn => tracing::warn!(target: "piste::module", module, "{message}{fields}"),
            Level::Error => tracing::error!(target: "piste::module", module, "{message}{fields}"),
        }
        Ok(())
    }

    fn get_config(&mut self, key: String) -> Option<ConfigValue> {
        self.shared.config.get(&key).cloned()
    }

    fn config_keys(&mut self) -> Vec<String> {
        self.shared.config.keys().cloned().collect()
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        let mut counters = self.shared.counters.lock().expect("counters lock");
        if let Some(value) = counters.get_mut(&name) {
            *value = value.saturating_add(delta);
            return;
        }
        // A module cannot grow the host's memory without bound through counter names.
        if counters.len() >= 256 {
            return;
        }
        let name: String = name.chars().take(64).collect();
        let entry = counters.entry(name).or_insert(0);
        *entry = entry.saturating_add(delta);
    }
}
