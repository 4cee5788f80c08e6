//! `plugin NAME "PATH"`: the compiler loads each plugin with wasmtime and
//! checks it against ABI version 1 (plugins/ABI.md): it compiles, exports
//! what the host calls, speaks this ABI version, and declares its settings.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, PluginSetting};
use crate::source::Span;
use std::path::{Path, PathBuf};

pub const ABI_VERSION: i32 = 1;

/// Fuel for the two calls made at compile time: plenty for returning a
/// constant, and a plugin that loops is stopped instead of hanging the build.
const COMPILE_TIME_FUEL: u64 = 10_000_000;

/// Why a plugin cannot be used.
#[derive(Debug)]
pub enum PluginError {
    Missing(String),
    Invalid(String),
    Abi(i64),
    Export(String),
}

impl PluginError {
    pub fn code(&self) -> Code {
        match self {
            PluginError::Missing(_) => Code::PluginMissing,
            PluginError::Invalid(_) => Code::PluginInvalid,
            PluginError::Abi(_) => Code::PluginAbi,
            PluginError::Export(_) => Code::PluginExport,
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::Missing(why) => write!(f, "cannot read the plugin: {why}"),
            PluginError::Invalid(why) => write!(f, "not valid WebAssembly: {why}"),
            PluginError::Abi(v) => write!(f, "plugin speaks ABI version {v}, wanc speaks {ABI_VERSION}"),
            PluginError::Export(what) => write!(f, "{what}"),
        }
    }
}

/// Loads a plugin file and returns the settings it declares.
pub fn inspect(path: &Path) -> Result<Vec<PluginSetting>, PluginError> {
    use wasmtime::{Config, Engine, Linker, Module, Store};
    let bytes = std::fs::read(path).map_err(|e| PluginError::Missing(e.to_string().to_lowercase()))?;
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).map_err(|e| PluginError::Invalid(e.to_string()))?;
    let module = Module::from_binary(&engine, &bytes).map_err(|e| PluginError::Invalid(first_line(&e)))?;
    for (name, wanted) in [("wanc_abi_version", "() -> i32"), ("wanc_settings", "() -> i64"), ("wanc_alloc", "(i32) -> i32"), ("wanc_probe", "(i32, i32) -> i64")] {
        match module.get_export(name) {
            Some(wasmtime::ExternType::Func(_)) => {}
            _ => return Err(PluginError::Export(format!("it does not export function `{name}` {wanted}"))),
        }
    }
    if !matches!(module.get_export("memory"), Some(wasmtime::ExternType::Memory(_))) {
        return Err(PluginError::Export("it does not export its `memory`".into()));
    }
    let mut store = Store::new(&engine, ());
    store.set_fuel(COMPILE_TIME_FUEL).map_err(|e| PluginError::Invalid(e.to_string()))?;
    let mut linker = Linker::new(&engine);
    // Host functions are not needed to read the declarations; imports are
    // satisfied with functions that trap if called.
    linker.define_unknown_imports_as_traps(&module).map_err(|e| PluginError::Invalid(first_line(&e)))?;
    let instance = linker.instantiate(&mut store, &module).map_err(|e| PluginError::Invalid(first_line(&e)))?;
    let version = instance
        .get_typed_func::<(), i32>(&mut store, "wanc_abi_version")
        .map_err(|_| PluginError::Export("it exports `wanc_abi_version` with the wrong type, expected () -> i32".into()))?
        .call(&mut store, ())
        .map_err(|e| PluginError::Invalid(format!("`wanc_abi_version` trapped: {}", first_line(&e))))?;
    if version != ABI_VERSION {
        return Err(PluginError::Abi(version.into()));
    }
    let packed = instance
        .get_typed_func::<(), i64>(&mut store, "wanc_settings")
        .map_err(|_| PluginError::Export("it exports `wanc_settings` with the wrong type, expected () -> i64".into()))?
        .call(&mut store, ())
        .map_err(|e| PluginError::Invalid(format!("`wanc_settings` trapped: {}", first_line(&e))))?;
    let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| PluginError::Export("it does not export its `memory`".into()))?;
    let (ptr, len) = ((packed as u64 >> 32) as usize, (packed as u64 & 0xffff_ffff) as usize);
    let data = memory.data(&store);
    let text = data
        .get(ptr..ptr.saturating_add(len))
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| PluginError::Export("its settings description lies outside its memory or is not UTF-8".into()))?;
    Ok(parse_settings(text))
}

/// `name` or `name?` per line: `?` marks an optional setting.
pub fn parse_settings(text: &str) -> Vec<PluginSetting> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_suffix('?') {
            Some(name) => PluginSetting { name: name.trim().to_string(), required: false },
            None => PluginSetting { name: l.to_string(), required: true },
        })
        .collect()
}

fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_lowercase()
}

impl Checker<'_, '_> {
    pub fn plugins(&mut self) -> Vec<ir::Plugin> {
        let mut out = Vec::new();
        for &(name, path, span) in &self.items.plugins {
            let resolved = self.resolve_path(path, span);
            match inspect(&resolved) {
                Ok(settings) => {
                    self.plugin_infos.push(Some(settings.clone()));
                    out.push(ir::Plugin { name: name.name.clone(), path: resolved.display().to_string(), settings });
                }
                Err(error) => {
                    self.plugin_infos.push(None);
                    let help = match &error {
                        PluginError::Missing(_) => format!("the path is relative to this file: `{}`", resolved.display()),
                        PluginError::Invalid(_) => "build the plugin for `wasm32-unknown-unknown` (see plugins/README.md)".into(),
                        PluginError::Abi(_) => "rebuild the plugin against the current SDK in plugins/sdk".into(),
                        PluginError::Export(_) => "probe plugins export `memory`, `wanc_abi_version`, `wanc_settings`, `wanc_alloc` and `wanc_probe`".into(),
                    };
                    self.diags.push(
                        Diagnostic::new(error.code(), span, format!("plugin `{}`: {error}", name.name)).label("this plugin").help(help),
                    );
                }
            }
        }
        out
    }

    fn resolve_path(&self, path: &str, span: Span) -> PathBuf {
        let base = Path::new(self.sources.name(span.file)).parent().unwrap_or(Path::new(""));
        base.join(path)
    }
}
