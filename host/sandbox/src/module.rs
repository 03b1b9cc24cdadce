//! A loaded module: verified, inspected, compiled and pre-instantiated once, then called
//! through a bounded pool of instances with per-call limits, fault classification,
//! replacement of trapped instances and quarantine of modules that keep failing.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap, WasmBacktrace};

use crate::bindings::captioner::{Captioner, CaptionerPre};
use crate::bindings::distributor::{Distributor, DistributorPre};
use crate::bindings::tagger::{Tagger, TaggerPre};
use crate::bindings::{
    Asset, Caption, ConfigValue, Decision, Destination, ModuleError, Moment, Tag,
};
use crate::engine::Sandbox;
use crate::error::{CallError, Error, ErrorKind, Result};
use crate::host::{HostState, LogFlood, MemoryCap, Shared};
use crate::inspect::{Inspection, ModuleInfo, World};
use crate::metrics::{ModuleMetrics, Recorder};
use crate::signing::io_error;
use crate::wire::{self, WireSize};

/// The bounds every call of one module runs under.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Cap on each linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline of one call (and of `init`), in milliseconds.
    pub deadline_ms: u64,
    /// Fuel budget of one call; `None` meters but does not stop.
    pub fuel: Option<u64>,
    /// Largest input the host will send, in bytes of strings and list items.
    pub max_input_bytes: usize,
    /// Largest output the host will accept, in bytes.
    pub max_output_bytes: usize,
    /// Most calls of this module running at once; more wait, up to their deadline.
    pub max_concurrency: usize,
    /// Most log records in one call; one more traps the module.
    pub max_log_records: u32,
    /// Longest log message kept, in bytes.
    pub max_log_bytes: usize,
    /// Faults within `quarantine_window_s` that quarantine the module.
    pub quarantine_after: u32,
    /// The window over which faults are counted, in seconds.
    pub quarantine_window_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            deadline_ms: 50,
            fuel: None,
            max_input_bytes: 1 << 20,
            max_output_bytes: 1 << 20,
            max_concurrency: 4,
            max_log_records: 1_000,
            max_log_bytes: 4_096,
            quarantine_after: 5,
            quarantine_window_s: 60,
        }
    }
}

impl Limits {
    /// The call deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// What to load: a module file, the world it must target, its configuration and limits.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// The world the module must target.
    pub world: World,
    /// The name to use; by default the module's info section or the file's stem.
    pub name: Option<String>,
    /// The operator's configuration for the module.
    pub config: BTreeMap<String, ConfigValue>,
    /// The bounds it runs under.
    pub limits: Limits,
}

impl ModuleSpec {
    /// A spec with no configuration and default limits.
    pub fn new(path: impl Into<PathBuf>, world: World) -> Self {
        ModuleSpec {
            path: path.into(),
            world,
            name: None,
            config: BTreeMap::new(),
            limits: Limits::default(),
        }
    }

    /// Sets the configuration.
    pub fn with_config(mut self, config: BTreeMap<String, ConfigValue>) -> Self {
        self.config = config;
        self
    }

    /// Sets the name, instead of the module's own.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// What one call cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CallStats {
    /// Wall time of the call inside the sandbox.
    pub elapsed: Duration,
    /// Fuel used (0 when metering is off).
    pub fuel: u64,
    /// Linear memory the instance holds, in bytes.
    pub memory_bytes: usize,
}

/// Counts faults in a sliding window and says when a module must be quarantined.
/// Time is a parameter, so tests can drive it with any clock.
#[derive(Debug, Clone)]
pub struct FailureWindow {
    limit: u32,
    window: Duration,
    faults: VecDeque<Instant>,
    quarantined: bool,
}

impl FailureWindow {
    /// Quarantine after `limit` faults within `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        FailureWindow {
            limit: limit.max(1),
            window,
            faults: VecDeque::new(),
            quarantined: false,
        }
    }

    /// Records a fault at `now`; returns true if this fault quarantined the module.
    pub fn record(&mut self, now: Instant) -> bool {
        while self
            .faults
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.faults.pop_front();
        }
        self.faults.push_back(now);
        if !self.quarantined && self.faults.len() >= self.limit as usize {
            self.quarantined = true;
            return true;
        }
        false
    }

    /// Whether the module is quarantined.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined
    }
}

enum WorldPre {
    Tagger(TaggerPre<HostState>),
    Captioner(CaptionerPre<HostState>),
    Distributor(DistributorPre<HostState>),
}

enum Bound {
    Tagger(Tagger),
    Captioner(Captioner),
    Distributor(Distributor),
}

struct Instance {
    store: Store<HostState>,
    bound: Bound,
}

struct Pool {
    idle: Vec<Instance>,
    busy: usize,
    /// Calls waiting for a slot; a release wakes one only if some wait (a wake is a syscall).
    waiting: usize,
}

/// A module ready to be called. Cheap to share (`Arc`); calls may run concurrently up to
/// the module's concurrency limit.
pub struct LoadedModule {
    sandbox: Arc<Sandbox>,
    info: ModuleInfo,
    world: World,
    spec: ModuleSpec,
    signers: Vec<String>,
    inspection: Inspection,
    from_cache: bool,
    load_time: Duration,
    pre: WorldPre,
    shared: Arc<Shared>,
    pool: Mutex<Pool>,
    slot_freed: Condvar,
    health: Mutex<FailureWindow>,
    /// Mirrors the failure window's verdict, read on every call without a lock.
    quarantined: AtomicBool,
    recorder: Mutex<Recorder>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("world", &self.world)
            .field("path", &self.spec.path)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Loads a module: reads it, verifies its signature before anything else, inspects its
    /// world, imports and code size, compiles it (or takes it from the cache),
    /// pre-instantiates it, and starts one instance whose `init` must accept the config.
    pub fn load(self: &Arc<Self>, spec: ModuleSpec) -> Result<Arc<LoadedModule>> {
        let started = Instant::now();
        let wasm = read_module(&spec.path, self.config.max_module_bytes)?;
        let file_name = spec
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("module")
            .replace('_', "-");
        let label = spec.name.clone().unwrap_or(file_name.clone());
        let signers = self.trust.verify(&label, &wasm)?;
        let inspection = Inspection::read(&label, &wasm)?;
        let info = match (&spec.name, &inspection.info) {
            (Some(name), info) => ModuleInfo {
                name: name.clone(),
                version: info
                    .as_ref()
                    .map_or("unversioned".into(), |i| i.version.clone()),
            },
            (None, Some(info)) => info.clone(),
            (None, None) => ModuleInfo {
                name: file_name,
                version: "unversioned".into(),
            },
        };
        let name = info.name.as_str();
        inspection.check_world(name, spec.world)?;
        inspection.check_imports(name)?;
        inspection.check_code_size(
            name,
            self.config.max_function_bytes,
            self.config.max_code_bytes,
        )?;

        let (component, from_cache) = self.compile(name, &wasm)?;
        let instance_pre: InstancePre<HostState> = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| Error::Compile {
                module: name.to_string(),
                reason: format!("{e:#}"),
            })?;
        let typed = |e: wasmtime::Error| Error::WrongWorld {
            module: name.to_string(),
            expected: spec.world.to_string(),
            found: format!("a component whose types do not match ({e:#})"),
        };
        let pre = match spec.world {
            World::Tagger => WorldPre::Tagger(TaggerPre::new(instance_pre).map_err(typed)?),
            World::Captioner => {
                WorldPre::Captioner(CaptionerPre::new(instance_pre).map_err(typed)?)
            }
            World::Distributor => {
                WorldPre::Distributor(DistributorPre::new(instance_pre).map_err(typed)?)
            }
        };
        let limits = &spec.limits;
        let shared = Arc::new(Shared {
            name: info.name.clone(),
            config: spec.config.clone(),
            counters: Mutex::new(BTreeMap::new()),
            logs_truncated: Default::default(),
            max_log_records: limits.max_log_records,
            max_log_bytes: limits.max_log_bytes,
        });
        let module = LoadedModule {
            sandbox: self.clone(),
            world: spec.world,
            signers,
            inspection,
            from_cache,
            load_time: Duration::ZERO,
            pre,
            shared,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                busy: 0,
                waiting: 0,
            }),
            slot_freed: Condvar::new(),
            health: Mutex::new(FailureWindow::new(
                limits.quarantine_after,
                Duration::from_secs(limits.quarantine_window_s),
            )),
            quarantined: AtomicBool::new(false),
            recorder: Mutex::new(Recorder::new()),
            info,
            spec,
        };
        // One instance now, so a module whose `init` refuses its config never goes live.
        let first = module.instantiate().map_err(|e| Error::Start {
            module: module.info.name.clone(),
            source: Box::new(e),
        })?;
        module.pool.lock().expect("pool lock").idle.push(first);
        let module = LoadedModule {
            load_time: started.elapsed(),
            ..module
        };
        tracing::info!(
            module = %module.info.name,
            version = %module.info.version,
            world = %module.world,
            cached = module.from_cache,
            "loaded in {:?}",
            module.load_time
        );
        Ok(Arc::new(module))
    }
}

fn read_module(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .map_err(|e| io_error(path, e))?
        .len() as usize;
    if size > limit {
        return Err(Error::TooLarge {
            module: path.display().to_string(),
            size,
            limit,
        });
    }
    std::fs::read(path).map_err(|e| io_error(path, e))
}

impl LoadedModule {
    /// The module's name and version.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The world it targets.
    pub fn world(&self) -> World {
        self.world
    }

    /// What it was loaded from.
    pub fn spec(&self) -> &ModuleSpec {
        &self.spec
    }

    /// Fingerprints of the trusted keys that signed it.
    pub fn signers(&self) -> &[String] {
        &self.signers
    }

    /// Its imports, exports and code size.
    pub fn inspection(&self) -> &Inspection {
        &self.inspection
    }

    /// Whether its compiled code came from the cache.
    pub fn loaded_from_cache(&self) -> bool {
        self.from_cache
    }

    /// How long loading took (verify, inspect, compile or cache, first instance and `init`).
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether it is quarantined (every call is refused until it is reloaded).
    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Acquire)
    }

    /// Its figures at this instant.
    pub fn metrics(&self) -> ModuleMetrics {
        ModuleMetrics {
            module: self.info.name.clone(),
            version: self.info.version.clone(),
            world: self.world.to_string(),
            figures: self.recorder.lock().expect("recorder lock").snapshot(),
            log_records_truncated: self.shared.logs_truncated.load(Ordering::Relaxed),
            counters: self.shared.counters.lock().expect("counters lock").clone(),
            quarantined: self.is_quarantined(),
        }
    }

    /// Starts a fresh instance (pooling allocator, copy-on-write memory) and runs `init`.
    pub fn instantiate_only(&self) -> std::result::Result<(), CallError> {
        self.instantiate().map(drop)
    }

    /// Tags a moment (tagger world).
    pub fn tag(&self, moment: &Moment) -> std::result::Result<Vec<Tag>, CallError> {
        self.tag_with_stats(moment).map(|(tags, _)| tags)
    }

    /// Tags a moment and says what the call cost.
    pub fn tag_with_stats(
        &self,
        moment: &Moment,
    ) -> std::result::Result<(Vec<Tag>, CallStats), CallError> {
        self.run(
            "tag",
            moment.wire_size(),
            |bound, store| match bound {
                Bound::Tagger(t) => Some(t.piste_module_tagging().call_tag(store, moment)),
                _ => None,
            },
            wire::check_tags,
        )
    }

    /// Captions a moment in one language (captioner world).
    pub fn caption(
        &self,
        moment: &Moment,
        tags: &[Tag],
        language: &str,
    ) -> std::result::Result<Caption, CallError> {
        self.caption_with_stats(moment, tags, language)
            .map(|(c, _)| c)
    }

    /// Captions a moment and says what the call cost.
    pub fn caption_with_stats(
        &self,
        moment: &Moment,
        tags: &[Tag],
        language: &str,
    ) -> std::result::Result<(Caption, CallStats), CallError> {
        let size = moment.wire_size() + tags.wire_size() + language.len();
        self.run(
            "caption",
            size,
            |bound, store| match bound {
                Bound::Captioner(c) => Some(
                    c.piste_module_captioning()
                        .call_caption(store, moment, tags, language),
                ),
                _ => None,
            },
            |caption, max| wire::check_caption(caption, language, max),
        )
    }

    /// Routes an asset to destinations at instant `now_ms` (distributor world).
    pub fn route(
        &self,
        asset: &Asset,
        destinations: &[Destination],
        now_ms: u64,
    ) -> std::result::Result<Vec<Decision>, CallError> {
        self.route_with_stats(asset, destinations, now_ms)
            .map(|(d, _)| d)
    }

    /// Routes an asset and says what the call cost.
    pub fn route_with_stats(
        &self,
        asset: &Asset,
        destinations: &[Destination],
        now_ms: u64,
    ) -> std::result::Result<(Vec<Decision>, CallStats), CallError> {
        let size = asset.wire_size() + destinations.wire_size();
        self.run(
            "route",
            size,
            |bound, store| match bound {
                Bound::Distributor(d) => {
                    Some(
                        d.piste_module_routing()
                            .call_route(store, asset, destinations, now_ms),
                    )
                }
                _ => None,
            },
            |decisions, max| wire::check_decisions(decisions, asset, destinations, max),
        )
    }

    /// Calls the module's entry function with a JSON input (the fixture format: a tagger takes
    /// `{"moment"}`, a captioner `{"moment", "tags", "language"}`, a distributor
    /// `{"asset", "destinations", "now_ms"}`) and returns its output as JSON.
    pub fn call_json(&self, input: &serde_json::Value) -> Result<(serde_json::Value, CallStats)> {
        fn field<T: serde::de::DeserializeOwned>(
            input: &serde_json::Value,
            name: &str,
        ) -> Result<T> {
            let value = input
                .get(name)
                .ok_or_else(|| Error::Input(format!("missing field `{name}`")))?;
            serde_json::from_value(value.clone())
                .map_err(|e| Error::Input(format!("field `{name}`: {e}")))
        }
        let call = |e: CallError| Error::Call(Box::new(e));
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| Error::Input(e.to_string()))
        };
        match self.world {
            World::Tagger => {
                let moment: Moment = field(input, "moment")?;
                let (tags, stats) = self.tag_with_stats(&moment).map_err(call)?;
                Ok((json(serde_json::to_value(tags))?, stats))
            }
            World::Captioner => {
                let moment: Moment = field(input, "moment")?;
                let tags: Vec<Tag> = field(input, "tags")?;
                let language: String = field(input, "language")?;
                let (caption, stats) = self
                    .caption_with_stats(&moment, &tags, &language)
                    .map_err(call)?;
                Ok((json(serde_json::to_value(caption))?, stats))
            }
            World::Distributor => {
                let asset: Asset = field(input, "asset")?;
                let destinations: Vec<Destination> = field(input, "destinations")?;
                let now_ms: u64 = field(input, "now_ms")?;
                let (decisions, stats) = self
                    .route_with_stats(&asset, &destinations, now_ms)
                    .map_err(call)?;
                Ok((json(serde_json::to_value(decisions))?, stats))
            }
        }
    }

    fn error(
        &self,
        function: &'static str,
        kind: ErrorKind,
        message: String,
        backtrace: Option<String>,
    ) -> CallError {
        CallError {
            module: self.info.name.clone(),
            version: self.info.version.clone(),
            function,
            kind,
            message,
            backtrace,
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let tick = self.sandbox.config.epoch_tick.as_nanos().max(1);
        let deadline = self.spec.limits.deadline().as_nanos();
        // One tick more than the deadline's length: the current tick may end at once.
        u64::try_from(deadline.div_ceil(tick)).unwrap_or(u64::MAX - 1) + 1
    }

    fn arm(&self, store: &mut Store<HostState>) {
        store.set_epoch_deadline(self.deadline_ticks());
        if self.sandbox.config.fuel {
            store
                .set_fuel(self.spec.limits.fuel.unwrap_or(u64::MAX))
                .expect("fuel is enabled");
        }
        store.data_mut().logs_this_call = 0;
    }

    fn fuel_used(&self, store: &Store<HostState>) -> u64 {
        if !self.sandbox.config.fuel {
            return 0;
        }
        let budget = self.spec.limits.fuel.unwrap_or(u64::MAX);
        budget - store.get_fuel().unwrap_or(0)
    }

    fn instantiate(&self) -> std::result::Result<Instance, CallError> {
        let state = HostState::new(self.shared.clone(), self.spec.limits.memory_bytes);
        let mut store = Store::new(&self.sandbox.engine, state);
        store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
        self.arm(&mut store);
        let bound = match &self.pre {
            WorldPre::Tagger(pre) => pre.instantiate(&mut store).map(Bound::Tagger),
            WorldPre::Captioner(pre) => pre.instantiate(&mut store).map(Bound::Captioner),
            WorldPre::Distributor(pre) => pre.instantiate(&mut store).map(Bound::Distributor),
        };
        let memory = store.data().peak_memory;
        self.recorder
            .lock()
            .expect("recorder lock")
            .record_instance(memory);
        let bound = bound.map_err(|e| self.classify("instantiate", &e, &store))?;
        let init = match &bound {
            Bound::Tagger(t) => t.piste_module_lifecycle().call_init(&mut store),
            Bound::Captioner(c) => c.piste_module_lifecycle().call_init(&mut store),
            Bound::Distributor(d) => d.piste_module_lifecycle().call_init(&mut store),
        };
        match init {
            Ok(Ok(())) => Ok(Instance { store, bound }),
            Ok(Err(ModuleError { message })) => Err(self.error(
                "init",
                ErrorKind::ModuleError,
                format!("refused its configuration: {message}"),
                None,
            )),
            Err(e) => Err(self.classify("init", &e, &store)),
        }
    }

    /// Turns a trap into a typed error: the kind, a message, and the wasm backtrace.
    fn classify(
        &self,
        function: &'static str,
        err: &wasmtime::Error,
        store: &Store<HostState>,
    ) -> CallError {
        let backtrace = err
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| format!("wasm backtrace:\n{bt}"));
        // A trapped instance is dropped, so its stderr holds at most this call's panic and
        // whatever the module printed in its earlier, successful calls; the panic is last.
        let stderr = store.data().stderr_text();
        let stderr = stderr.trim();
        let (kind, message) = if let Some(cap) = err.downcast_ref::<MemoryCap>() {
            (ErrorKind::Memory, cap.to_string())
        } else if let Some(flood) = err.downcast_ref::<LogFlood>() {
            (ErrorKind::LogFlood, flood.to_string())
        } else if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            (
                ErrorKind::Exit,
                format!("called exit({}); a module must return, not exit", exit.0),
            )
        } else if let Some(trap) = err.downcast_ref::<Trap>() {
            match trap {
                Trap::Interrupt => (
                    ErrorKind::Deadline,
                    format!("ran past its {} ms deadline", self.spec.limits.deadline_ms),
                ),
                Trap::OutOfFuel => (
                    ErrorKind::OutOfFuel,
                    format!(
                        "used up its fuel budget of {}",
                        self.spec.limits.fuel.unwrap_or(u64::MAX)
                    ),
                ),
                Trap::StackOverflow => {
                    (ErrorKind::StackOverflow, "exhausted its wasm stack".into())
                }
                Trap::UnreachableCodeReached
                    if last_line(stderr).contains("memory allocation of") =>
                {
                    (ErrorKind::Memory, last_line(stderr))
                }
                Trap::UnreachableCodeReached if stderr.contains("panicked at") => {
                    (ErrorKind::Panic, panic_message(stderr))
                }
                Trap::UnreachableCodeReached => {
                    (ErrorKind::Panic, "executed `unreachable` (an abort)".into())
                }
                other => (ErrorKind::Trap, other.to_string()),
            }
        } else {
            (ErrorKind::Trap, format!("{err:#}"))
        };
        self.error(function, kind, message, backtrace)
    }

    /// Runs one call: concurrency slot, instance, limits, the call, classification,
    /// output checks, metrics and quarantine.
    fn run<R>(
        &self,
        function: &'static str,
        input_size: usize,
        call: impl FnOnce(
            &Bound,
            &mut Store<HostState>,
        ) -> Option<wasmtime::Result<std::result::Result<R, ModuleError>>>,
        check: impl FnOnce(&R, usize) -> std::result::Result<(), (ErrorKind, String)>,
    ) -> std::result::Result<(R, CallStats), CallError> {
        let limits = &self.spec.limits;
        if self.is_quarantined() {
            self.recorder
                .lock()
                .expect("recorder lock")
                .record_error(ErrorKind::Quarantined);
            return Err(self.error(
                function,
                ErrorKind::Quarantined,
                format!(
                    "quarantined after {} faults within {} s; reload the module to try again",
                    limits.quarantine_after, limits.quarantine_window_s
                ),
                None,
            ));
        }
        if input_size > limits.max_input_bytes {
            self.recorder
                .lock()
                .expect("recorder lock")
                .record_error(ErrorKind::InputTooLarge);
            return Err(self.error(
                function,
                ErrorKind::InputTooLarge,
                format!(
                    "input of {input_size} bytes is over the {}-byte cap; not sent",
                    limits.max_input_bytes
                ),
                None,
            ));
        }
        let mut instance = match self.acquire(function)? {
            Some(instance) => instance,
            None => match self.instantiate() {
                Ok(instance) => instance,
                Err(e) => {
                    self.release(None);
                    return Err(self.fault(e));
                }
            },
        };
        self.arm(&mut instance.store);
        let started = Instant::now();
        let outcome = call(&instance.bound, &mut instance.store)
            .expect("a module's bindings match its world, checked at load");
        let elapsed = started.elapsed();
        let fuel = self.fuel_used(&instance.store);
        let memory = instance.store.data().peak_memory;
        let stats = CallStats {
            elapsed,
            fuel,
            memory_bytes: memory,
        };
        let result = match outcome {
            Ok(Ok(value)) => match check(&value, limits.max_output_bytes) {
                Ok(()) => Ok(value),
                Err((kind, message)) => Err(self.error(function, kind, message, None)),
            },
            Ok(Err(ModuleError { message })) => {
                Err(self.error(function, ErrorKind::ModuleError, message, None))
            }
            Err(trap) => {
                let error = self.classify(function, &trap, &instance.store);
                // A trapped instance is poisoned: drop it; the next call gets a fresh one.
                self.recorder.lock().expect("recorder lock").record_call(
                    elapsed,
                    fuel,
                    memory,
                    Some(error.kind),
                );
                self.release(None);
                return Err(self.fault(error));
            }
        };
        self.recorder.lock().expect("recorder lock").record_call(
            elapsed,
            fuel,
            memory,
            result.as_ref().err().map(|e| e.kind),
        );
        self.release(Some(instance));
        match result {
            Ok(value) => Ok((value, stats)),
            Err(e) if e.kind.is_fault() => Err(self.fault(e)),
            Err(e) => Err(e),
        }
    }

    /// Counts a fault towards quarantine and logs it.
    fn fault(&self, error: CallError) -> CallError {
        let quarantined = self
            .health
            .lock()
            .expect("health lock")
            .record(Instant::now());
        tracing::warn!(module = %self.info.name, kind = %error.kind, "{error}");
        if quarantined {
            self.quarantined.store(true, Ordering::Release);
            tracing::error!(
                module = %self.info.name,
                "quarantined after {} faults within {} s; calls are refused until it is reloaded",
                self.spec.limits.quarantine_after,
                self.spec.limits.quarantine_window_s
            );
        }
        error
    }

    /// Waits for a concurrency slot, up to the call deadline, and takes an idle instance if any.
    fn acquire(&self, function: &'static str) -> std::result::Result<Option<Instance>, CallError> {
        let limits = &self.spec.limits;
        let give_up = Instant::now() + limits.deadline();
        let mut pool = self.pool.lock().expect("pool lock");
        while pool.busy >= limits.max_concurrency.max(1) {
            let now = Instant::now();
            if now >= give_up {
                drop(pool);
                self.recorder
                    .lock()
                    .expect("recorder lock")
                    .record_error(ErrorKind::Busy);
                return Err(self.error(
                    function,
                    ErrorKind::Busy,
                    format!(
                        "all {} instances stayed busy past the deadline",
                        limits.max_concurrency
                    ),
                    None,
                ));
            }
            pool.waiting += 1;
            pool = self
                .slot_freed
                .wait_timeout(pool, give_up - now)
                .expect("pool lock")
                .0;
            pool.waiting -= 1;
        }
        pool.busy += 1;
        Ok(pool.idle.pop())
    }

    fn release(&self, instance: Option<Instance>) {
        let mut pool = self.pool.lock().expect("pool lock");
        pool.busy -= 1;
        if let Some(instance) = instance {
            pool.idle.push(instance);
        }
        let wake = pool.waiting > 0;
        drop(pool);
        if wake {
            self.slot_freed.notify_one();
        }
    }
}

fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

/// The panic message and location from Rust's default panic hook output
/// (`panicked at src/lib.rs:12:5:\nmessage`).
fn panic_message(stderr: &str) -> String {
    let start = stderr.rfind("panicked at").unwrap_or(0);
    let text = &stderr[start..];
    let mut lines = text.lines();
    let location = lines.next().unwrap_or("").trim_end_matches(':');
    let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
    format!("{}: {}", location, message.join(" ").trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_quarantine_only_within_the_window() {
        let start = Instant::now();
        let mut window = FailureWindow::new(3, Duration::from_secs(10));
        assert!(!window.record(start));
        assert!(!window.record(start + Duration::from_secs(5)));
        // The first fault has left the window by now: two in the window, not three.
        assert!(!window.record(start + Duration::from_secs(12)));
        assert!(!window.is_quarantined());
        assert!(window.record(start + Duration::from_secs(13)));
        assert!(window.is_quarantined());
        // Quarantine is announced once.
        assert!(!window.record(start + Duration::from_secs(14)));
    }

    #[test]
    fn panic_messages_keep_location_and_text() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:27:9:\nhostile panic: rule table is empty\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr),
            "panicked at src/lib.rs:27:9: hostile panic: rule table is empty"
        );
    }
}
