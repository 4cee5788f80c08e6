//! Plugins travel with the policy: each plugin is copied into the output as
//! `plugins/NAME.wasm`, and the policy and the model name it by that path,
//! which the agent resolves from the policy file's folder. So a built
//! folder can be moved to the router as it is.

use crate::ir::Site;
use crate::output::OutputFile;

/// Where a plugin lives inside the output folder. Plugin names are
/// identifiers, so this is a plain relative path.
pub fn plugin_path(name: &str) -> String {
    format!("plugins/{name}.wasm")
}

/// The site as the folder has it (plugin paths inside the folder) and the
/// plugin files to write beside the policy.
pub fn plugins(site: &Site) -> Result<(Site, Vec<OutputFile>), String> {
    let mut bundled = site.clone();
    let mut files = Vec::with_capacity(site.plugins.len());
    for plugin in &mut bundled.plugins {
        let contents = crate::input::read(plugin.path.as_ref(), crate::input::PLUGIN)
            .map_err(|e| format!("cannot read plugin `{}` at `{}`: {e}", plugin.name, plugin.path))?;
        plugin.path = plugin_path(&plugin.name);
        files.push(OutputFile { path: plugin.path.clone().into(), contents });
    }
    Ok((bundled, files))
}
