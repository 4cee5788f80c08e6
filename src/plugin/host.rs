//! The engine: compiles plugins once, instantiates one per probe inside a
//! store that carries the probe's sockets, memory cap and deadline, and
//! turns whatever the plugin does into a `ProbeOutcome`.

use super::abi;
use super::imports;
use super::net::Sockets;
use super::{PluginError, ProbeOutcome, ProbeRequest};
use crate::ir::PluginSetting;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, ExternType, FuncType, Instance, InstancePre, Linker, Module, ModuleExport, ResourceLimiter, Store, Trap,
    TypedFunc, UpdateDeadline,
};

/// How often running plugin code checks the clock: the precision of
/// timeouts.
const TICK: Duration = Duration::from_millis(5);
/// The most of a probe's timeout kept back from network calls (a tenth of
/// the timeout, up to this) for the plugin to report a network timeout.
const MAX_REPORT_RESERVE: Duration = Duration::from_millis(100);
/// Table entries (function pointers) a plugin may have.
const MAX_TABLE_ELEMENTS: usize = 10_000;

/// The sandbox's bounds, the same for every plugin of a host.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most linear memory a plugin instance may have.
    pub memory_bytes: usize,
    /// Time for a plugin to declare its version and settings at load.
    pub load_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { memory_bytes: 16 << 20, load_timeout: Duration::from_secs(1) }
    }
}

/// Runs probe plugins. `Sync`: probes may run on many threads at once.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<ProbeState>,
    limits: Limits,
    ticker: Ticker,
}

/// A compiled plugin, ready to be instantiated for each probe. Cheap to
/// clone.
#[derive(Clone)]
pub struct LoadedPlugin {
    pre: InstancePre<ProbeState>,
    settings: Vec<PluginSetting>,
    memory: ModuleExport,
    alloc: ModuleExport,
    probe: ModuleExport,
}

impl LoadedPlugin {
    /// The settings the plugin declares.
    pub fn settings(&self) -> &[PluginSetting] {
        &self.settings
    }
}

/// What a store holds for one plugin instance.
pub struct ProbeState {
    pub sockets: Sockets,
    pub start: Instant,
    cap: MemoryCap,
}

impl PluginHost {
    pub fn new() -> Result<PluginHost, PluginError> {
        PluginHost::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Result<PluginHost, PluginError> {
        let mut config = Config::new();
        // Timeouts: running code checks the engine's epoch, which the
        // ticker advances, and then the probe's deadline.
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| PluginError::Host(first_line(&e)))?;
        let mut linker = Linker::new(&engine);
        imports::define(&mut linker).map_err(|e| PluginError::Host(first_line(&e)))?;
        let ticker = Ticker::start(engine.clone()).map_err(|e| PluginError::Host(e.to_string().to_lowercase()))?;
        Ok(PluginHost { engine, linker, limits, ticker })
    }

    /// Reads, compiles and checks a plugin against ABI version 1.
    pub fn load(&self, path: &Path) -> Result<LoadedPlugin, PluginError> {
        let bytes = crate::input::read(path, crate::input::PLUGIN).map_err(|e| PluginError::Missing(e.to_string()))?;
        self.load_bytes(&bytes)
    }

    /// Compiles and checks a plugin from its bytes (binary WebAssembly).
    pub fn load_bytes(&self, bytes: &[u8]) -> Result<LoadedPlugin, PluginError> {
        let module = Module::from_binary(&self.engine, bytes).map_err(|e| PluginError::Invalid(first_line(&e)))?;
        check_interface(&module)?;
        let pre = self.linker.instantiate_pre(&module).map_err(|e| PluginError::Interface(first_line(&e)))?;
        let export = |name: &str| {
            module.get_export_index(name).ok_or_else(|| PluginError::Interface(format!("it does not export `{name}`")))
        };
        let (memory, alloc, probe) = (export("memory")?, export("wanc_alloc")?, export("wanc_probe")?);

        // Ask for the version and settings in a throwaway instance.
        let deadline = Instant::now() + self.limits.load_timeout;
        let mut store = self.store(deadline, Sockets::new(None, Vec::new(), deadline));
        let _running = self.ticker.running();
        let failed = |store: &Store<ProbeState>, what: &str, e: wasmtime::Error| {
            PluginError::Invalid(format!("{what}: {}", failure(store, &e, self.limits.load_timeout)))
        };
        let instance = pre.instantiate(&mut store).map_err(|e| failed(&store, "it cannot start", e))?;
        let version = typed::<(), i32>(&instance, &mut store, "wanc_abi_version")?
            .call(&mut store, ())
            .map_err(|e| failed(&store, "`wanc_abi_version`", e))?;
        if version != abi::VERSION {
            return Err(PluginError::Abi(version));
        }
        let packed = typed::<(), i64>(&instance, &mut store, "wanc_settings")?
            .call(&mut store, ())
            .map_err(|e| failed(&store, "`wanc_settings`", e))?;
        let memory_ref = instance
            .get_module_export(&mut store, &memory)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| PluginError::Interface("it does not export its `memory`".into()))?;
        let (ptr, len) = abi::unpack(packed);
        if len > abi::MAX_DECLARATION_BYTES {
            return Err(PluginError::Interface(format!(
                "its settings description is {len} bytes, more than {}",
                abi::MAX_DECLARATION_BYTES
            )));
        }
        let text =
            memory_ref.data(&store).get(ptr..ptr.saturating_add(len)).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(
                || PluginError::Interface("its settings description lies outside its memory or is not utf-8".into()),
            )?;
        let settings = abi::parse_declaration(text).map_err(PluginError::Interface)?;
        Ok(LoadedPlugin { pre, settings, memory, alloc, probe })
    }

    /// Runs one probe. Never fails: whatever goes wrong is a `down` outcome
    /// with the reason.
    pub fn probe(&self, plugin: &LoadedPlugin, request: &ProbeRequest) -> ProbeOutcome {
        self.run(plugin, request).unwrap_or_else(ProbeOutcome::down)
    }

    fn run(&self, plugin: &LoadedPlugin, request: &ProbeRequest) -> Result<ProbeOutcome, String> {
        if let Some(s) = plugin.settings.iter().find(|s| s.required && !request.settings.contains_key(&s.name)) {
            return Err(format!("setting `{}` is missing", s.name));
        }
        let block = abi::encode_settings(&request.settings)?;
        let start = Instant::now();
        let deadline = start.checked_add(request.timeout).ok_or("the timeout is too long")?;
        // Network calls give up a little before the deadline, leaving the
        // plugin time to report why instead of being interrupted.
        let reserve = (request.timeout / 10).min(MAX_REPORT_RESERVE);
        let sockets = Sockets::new(request.source, request.targets.clone(), deadline - reserve);
        let mut store = self.store(deadline, sockets);
        let _running = self.ticker.running();
        let failed = |store: &Store<ProbeState>, e: wasmtime::Error| failure(store, &e, request.timeout);

        let instance = plugin.pre.instantiate(&mut store).map_err(|e| failed(&store, e))?;
        let memory = instance.get_module_export(&mut store, &plugin.memory).and_then(|e| e.into_memory());
        let alloc = instance.get_module_export(&mut store, &plugin.alloc).and_then(|e| e.into_func());
        let probe = instance.get_module_export(&mut store, &plugin.probe).and_then(|e| e.into_func());
        let (Some(memory), Some(alloc), Some(probe)) = (memory, alloc, probe) else {
            return Err("the plugin lost its exports".into());
        };
        // Checked at load; typed calls are the fast path.
        let alloc: TypedFunc<i32, i32> = alloc.typed(&store).map_err(|e| first_line(&e))?;
        let probe: TypedFunc<(i32, i32), i64> = probe.typed(&store).map_err(|e| first_line(&e))?;

        let len = block.len() as i32; // at most MAX_SETTINGS_BYTES
        let ptr = alloc.call(&mut store, len).map_err(|e| failed(&store, e))?;
        if ptr == 0 {
            return Err(format!("the plugin could not allocate {len} bytes for its settings"));
        }
        memory
            .write(&mut store, ptr as u32 as usize, &block)
            .map_err(|_| "`wanc_alloc` returned a buffer outside the plugin's memory".to_string())?;
        let packed = probe.call(&mut store, (ptr, len)).map_err(|e| failed(&store, e))?;

        let (ptr, len) = abi::unpack(packed);
        let data = memory.data(&store);
        if ptr.checked_add(len).is_none_or(|end| end > data.len()) {
            return Err(format!("the plugin returned a result at {ptr:#x}+{len}, outside its memory"));
        }
        abi::decode_result(&data[ptr..ptr + len.min(abi::MAX_RESULT_READ)], len)
    }

    fn store(&self, deadline: Instant, sockets: Sockets) -> Store<ProbeState> {
        let cap = MemoryCap { bytes: self.limits.memory_bytes, exceeded: false };
        let mut store = Store::new(&self.engine, ProbeState { sockets, start: Instant::now(), cap });
        store.limiter(|state| &mut state.cap);
        // Every tick, running code asks whether the deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Continue(1) })
        });
        store
    }
}

/// Checks exports and imports against ABI version 1, with messages that say
/// what is wrong (wasmtime's linker would only say "unknown import").
fn check_interface(module: &Module) -> Result<(), PluginError> {
    let exports = [
        ("wanc_abi_version", "() -> i32"),
        ("wanc_settings", "() -> i64"),
        ("wanc_alloc", "(i32) -> i32"),
        ("wanc_probe", "(i32, i32) -> i64"),
    ];
    for (name, wanted) in exports {
        match module.get_export(name) {
            Some(ExternType::Func(f)) if signature(&f) == wanted => {}
            Some(ExternType::Func(f)) => {
                return Err(PluginError::Interface(format!("it exports `{name}` as {}, expected {wanted}", signature(&f))))
            }
            _ => return Err(PluginError::Interface(format!("it does not export function `{name}` {wanted}"))),
        }
    }
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        return Err(PluginError::Interface("it does not export its `memory`".into()));
    }
    for import in module.imports() {
        let known = imports::FUNCTIONS.iter().find(|(name, _)| import.module() == imports::MODULE && import.name() == *name);
        match (known, import.ty()) {
            (Some((_, wanted)), ExternType::Func(f)) if signature(&f) == *wanted => {}
            (Some((name, wanted)), _) => {
                return Err(PluginError::Interface(format!("it imports `wanc.{name}` with the wrong type, expected {wanted}")))
            }
            (None, _) => {
                let names: Vec<&str> = imports::FUNCTIONS.iter().map(|(n, _)| *n).collect();
                return Err(PluginError::Interface(format!(
                    "it imports `{}.{}`, which the host does not provide (module `wanc` has {})",
                    import.module(),
                    import.name(),
                    names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// `(i32, i32) -> i64`
fn signature(f: &FuncType) -> String {
    let list = |types: Vec<String>| types.join(", ");
    let results: Vec<String> = f.results().map(|t| t.to_string()).collect();
    let results = if results.len() == 1 { results.join("") } else { format!("({})", list(results)) };
    format!("({}) -> {results}", list(f.params().map(|t| t.to_string()).collect()))
}

fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    instance: &Instance,
    store: &mut Store<ProbeState>,
    name: &str,
) -> Result<TypedFunc<P, R>, PluginError> {
    instance.get_typed_func(store, name).map_err(|e| PluginError::Interface(format!("`{name}`: {}", first_line(&e))))
}

/// Why a plugin call failed, in words.
fn failure(store: &Store<ProbeState>, error: &wasmtime::Error, timeout: Duration) -> String {
    if store.data().cap.exceeded {
        return format!("the plugin exceeded the memory cap of {}", fmt_bytes(store.data().cap.bytes));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => {
            format!("the plugin timed out after {}", crate::duration::format(timeout.as_millis().try_into().unwrap_or(u64::MAX)))
        }
        Some(Trap::UnreachableCodeReached) => "the plugin trapped: unreachable code (a panic or abort)".into(),
        Some(trap) => format!("the plugin trapped: {}", trap.to_string().trim_start_matches("wasm trap: ")),
        None => format!("the plugin failed: {}", first_line(error)),
    }
}

fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_lowercase()
}

fn fmt_bytes(n: usize) -> String {
    match n {
        n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Caps a plugin's memory. Growing past the cap traps (instead of making
/// `memory.grow` return -1) so that the reason is the cap, not whatever the
/// plugin does when allocation fails.
struct MemoryCap {
    bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::msg("memory cap exceeded"));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Advances the engine's epoch every `TICK` while any plugin runs, and
/// sleeps otherwise so an idle router does not wake for nothing.
struct Ticker {
    shared: Arc<TickerShared>,
    thread: Option<JoinHandle<()>>,
}

struct TickerShared {
    stop: AtomicBool,
    running: AtomicUsize,
}

impl Ticker {
    fn start(engine: Engine) -> std::io::Result<Ticker> {
        let shared = Arc::new(TickerShared { stop: AtomicBool::new(false), running: AtomicUsize::new(0) });
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("wanc-plugin-ticker".into()).spawn(move || {
            // Ends when the host is dropped.
            while !state.stop.load(Ordering::Acquire) {
                if state.running.load(Ordering::Acquire) == 0 {
                    std::thread::park();
                } else {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            }
        })?;
        Ok(Ticker { shared, thread: Some(thread) })
    }

    /// Marks a plugin as running until the guard drops.
    fn running(&self) -> Running<'_> {
        if self.shared.running.fetch_add(1, Ordering::AcqRel) == 0 {
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
        Running(&self.shared)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

struct Running<'a>(&'a TickerShared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}
