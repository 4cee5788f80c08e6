//! `plugin NAME "PATH"`: the compiler loads each plugin with the same
//! wasmtime host the agent uses (src/plugin) and checks it against ABI
//! version 1 (plugins/ABI.md): it compiles, exports what the host calls,
//! speaks this ABI version, and declares its settings.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::ir;
use crate::plugin::{PluginError, PluginHost};
use crate::source::Span;
use std::path::{Path, PathBuf};

fn code(error: &PluginError) -> Code {
    match error {
        PluginError::Missing(_) => Code::PluginMissing,
        PluginError::Invalid(_) | PluginError::Host(_) => Code::PluginInvalid,
        PluginError::Abi(_) => Code::PluginAbi,
        PluginError::Interface(_) => Code::PluginExport,
    }
}

fn help(error: &PluginError, resolved: &Path) -> String {
    match error {
        PluginError::Missing(_) => format!("the path is relative to this file: `{}`", resolved.display()),
        PluginError::Invalid(_) | PluginError::Host(_) => "build the plugin for `wasm32-unknown-unknown` (see plugins/README.md)".into(),
        PluginError::Abi(_) => "rebuild the plugin against the current SDK in plugins/sdk".into(),
        PluginError::Interface(_) => {
            "probe plugins export `memory`, `wanc_abi_version`, `wanc_settings`, `wanc_alloc` and `wanc_probe`, and import only from `wanc`".into()
        }
    }
}

impl Checker<'_, '_> {
    pub fn plugins(&mut self) -> Vec<ir::Plugin> {
        let mut out = Vec::new();
        // One host for all plugins, started only when there are any.
        let mut host: Option<Result<PluginHost, String>> = None;
        for &(name, path, span) in &self.items.plugins {
            let resolved = self.resolve_path(path, span);
            let host = host.get_or_insert_with(|| PluginHost::new().map_err(|e| e.to_string()));
            let loaded = match host {
                Ok(h) => h.load(&resolved),
                Err(e) => Err(PluginError::Host(e.clone())),
            };
            match loaded {
                Ok(plugin) => {
                    let settings = plugin.settings().to_vec();
                    self.plugin_infos.push(Some(settings.clone()));
                    out.push(ir::Plugin { name: name.name.clone(), path: resolved.display().to_string(), settings });
                }
                Err(error) => {
                    self.plugin_infos.push(None);
                    self.diags.push(
                        Diagnostic::new(code(&error), span, format!("plugin `{}`: {error}", name.name))
                            .label("this plugin")
                            .help(help(&error, &resolved)),
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
