//! The sandbox engine: one wasmtime `Engine` tuned for many small, untrusted modules
//! (Cranelift, pooling allocator, copy-on-write memory images, epoch interruption driven by
//! one ticker thread, optional fuel, a bounded wasm stack), the shared `Linker`, and the
//! on-disk cache of precompiled code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::bindings;
use crate::error::{Error, Result};
use crate::host::HostState;
use crate::signing::{TrustStore, io_error};

/// Engine-wide settings. Per-module limits live in [`crate::Limits`].
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where precompiled code is cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Whether fuel is metered (needed for fuel budgets and the fuel-used figure).
    pub fuel: bool,
    /// Whether instances come from the pooling allocator (pre-reserved, copy-on-write
    /// memory images) rather than being allocated on demand.
    pub pooling: bool,
    /// The wasm stack each call may use, in bytes.
    pub max_wasm_stack: usize,
    /// The epoch tick: the granularity of call deadlines.
    pub epoch_tick: Duration,
    /// The largest linear memory any module may be given, in bytes (a pool-wide ceiling).
    pub max_memory_bytes: usize,
    /// How many component instances may be alive at once across all modules.
    pub max_instances: u32,
    /// The largest module file accepted, in bytes.
    pub max_module_bytes: usize,
    /// The largest single function body compiled, in bytes (refuses compile-time bombs).
    pub max_function_bytes: usize,
    /// The most code compiled for one module, in bytes.
    pub max_code_bytes: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            fuel: true,
            pooling: true,
            max_wasm_stack: 512 * 1024,
            epoch_tick: Duration::from_millis(1),
            max_memory_bytes: 256 << 20,
            max_instances: 128,
            max_module_bytes: 32 << 20,
            max_function_bytes: 1 << 20,
            max_code_bytes: 16 << 20,
        }
    }
}

/// The engine every module of an appliance runs in.
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: SandboxConfig,
    pub(crate) trust: TrustStore,
    compat_hash: String,
    _ticker: Ticker,
}

impl Sandbox {
    /// Builds the engine and starts its epoch ticker. Only modules signed by a key in
    /// `trust` will load.
    pub fn new(config: SandboxConfig, trust: TrustStore) -> Result<Arc<Self>> {
        let mut wasm = Config::new();
        wasm.cranelift_opt_level(OptLevel::Speed)
            .epoch_interruption(true)
            .consume_fuel(config.fuel)
            .max_wasm_stack(config.max_wasm_stack)
            .memory_init_cow(true)
            .parallel_compilation(true)
            .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32))
            .concurrency_support(false);
        let mut pool = PoolingAllocationConfig::default();
        let instances = config.max_instances;
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .total_stacks(instances)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(config.max_memory_bytes);
        if config.pooling {
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(|e| Error::Engine(e.to_string()))?;

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Engine(e.to_string()))?;
        bindings::tagger::Tagger::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| Error::Engine(e.to_string()))?;

        let mut hasher = Blake3Hasher(blake3::Hasher::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat_hash = hasher.0.finalize().to_hex()[..16].to_string();

        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_error(dir, e))?;
            }
        }
        let ticker = Ticker::start(&engine, config.epoch_tick);
        Ok(Arc::new(Sandbox {
            engine,
            linker,
            config,
            trust,
            compat_hash,
            _ticker: ticker,
        }))
    }

    /// The engine's settings.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The trusted publisher keys.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// Compiles a verified, inspected component, or loads its precompiled code from the
    /// cache. Returns the component and whether the cache served it.
    pub(crate) fn compile(&self, module_name: &str, wasm: &[u8]) -> Result<(Component, bool)> {
        let compile_error = |e: wasmtime::Error| Error::Compile {
            module: module_name.to_string(),
            reason: format!("{e:#}"),
        };
        let Some(dir) = &self.config.cache_dir else {
            return Ok((
                Component::new(&self.engine, wasm).map_err(compile_error)?,
                false,
            ));
        };
        let key = format!("{}-{}.cwasm", blake3::hash(wasm).to_hex(), self.compat_hash);
        let path = dir.join(key);
        // The cached file is read into memory rather than mapped: a file changed under a
        // mapping would fault the process, a file read once cannot.
        if let Ok(bytes) = std::fs::read(&path) {
            // SAFETY: the cache directory is private to this host (mode 0700) and files in it are
            // written only by `store_cached` below, from `Engine::precompile_component` of this
            // engine's configuration: the name includes the engine's compatibility hash and the
            // BLAKE3 hash of the exact, already verified, `.wasm` bytes. Damaged files fail
            // wasmtime's own header and version checks and are recompiled.
            match unsafe { Component::deserialize(&self.engine, &bytes) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(module = module_name, path = %path.display(), "dropping unusable cached code: {e}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(wasm)
            .map_err(compile_error)?;
        store_cached(&path, &compiled)?;
        // SAFETY: `compiled` was produced a moment ago by this engine's `precompile_component`.
        let component =
            unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(compile_error)?;
        Ok((component, false))
    }
}

/// Writes a cache file atomically: a temporary file, fsync, rename.
fn store_cached(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// Feeds std's `Hash` into BLAKE3, to turn the engine's compatibility hash into a file name.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The one thread that advances the engine's epoch; deadlines are counted in its ticks.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: &Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("piste-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
