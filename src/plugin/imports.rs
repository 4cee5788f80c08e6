//! The host functions a plugin may import, all from module `wanc`: a clock
//! and TCP/UDP through `net::Sockets`. They are the plugin's only way out of
//! its sandbox. Pointers and lengths come from the plugin and are checked
//! against its memory; a bad one is `INVALID`, never a host fault.

use super::abi::code;
use super::host::ProbeState;
use std::ops::Range;
use wasmtime::{Caller, Extern, Linker, Memory};

pub const MODULE: &str = "wanc";

/// Every import: name and signature, as `PluginHost::load` reports them.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("clock_us", "() -> i64"),
    ("tcp_connect", "(i32, i32) -> i32"),
    ("udp_connect", "(i32, i32) -> i32"),
    ("send", "(i32, i32, i32) -> i32"),
    ("recv", "(i32, i32, i32) -> i32"),
    ("close", "(i32) -> i32"),
];

pub fn define(linker: &mut Linker<ProbeState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "clock_us", |caller: Caller<'_, ProbeState>| -> i64 {
        i64::try_from(caller.data().start.elapsed().as_micros()).unwrap_or(i64::MAX)
    })?;
    linker.func_wrap(MODULE, "tcp_connect", |mut caller: Caller<'_, ProbeState>, ptr: i32, len: i32| -> i32 {
        with_guest_bytes(&mut caller, ptr, len, |bytes, state| state.sockets.tcp_connect(bytes))
    })?;
    linker.func_wrap(MODULE, "udp_connect", |mut caller: Caller<'_, ProbeState>, ptr: i32, len: i32| -> i32 {
        with_guest_bytes(&mut caller, ptr, len, |bytes, state| state.sockets.udp_connect(bytes))
    })?;
    linker.func_wrap(MODULE, "send", |mut caller: Caller<'_, ProbeState>, handle: i32, ptr: i32, len: i32| -> i32 {
        with_guest_bytes(&mut caller, ptr, len, |bytes, state| state.sockets.send(handle, bytes))
    })?;
    linker.func_wrap(MODULE, "recv", |mut caller: Caller<'_, ProbeState>, handle: i32, ptr: i32, cap: i32| -> i32 {
        with_guest_bytes(&mut caller, ptr, cap, |buf, state| state.sockets.recv(handle, buf))
    })?;
    linker.func_wrap(MODULE, "close", |mut caller: Caller<'_, ProbeState>, handle: i32| -> i32 {
        caller.data_mut().sockets.close(handle)
    })?;
    Ok(())
}

/// Runs `f` on the plugin's bytes `ptr..ptr + len` (writable, for `recv`)
/// and the probe's state; `INVALID` if the range is not in its memory.
fn with_guest_bytes(
    caller: &mut Caller<'_, ProbeState>,
    ptr: i32,
    len: i32,
    f: impl FnOnce(&mut [u8], &mut ProbeState) -> i32,
) -> i32 {
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else { return code::INVALID };
    let (data, state) = Memory::data_and_store_mut(&memory, caller);
    match guest_range(ptr, len, data.len()).and_then(|r| data.get_mut(r)) {
        Some(bytes) => f(bytes, state),
        None => code::INVALID,
    }
}

/// Wasm32 pointers and lengths are unsigned 32-bit values in i32s.
fn guest_range(ptr: i32, len: i32, size: usize) -> Option<Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    (end <= size).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::guest_range;

    #[test]
    fn guest_ranges_stay_inside_memory() {
        assert_eq!(guest_range(16, 4, 65536), Some(16..20));
        assert_eq!(guest_range(65532, 4, 65536), Some(65532..65536));
        assert_eq!(guest_range(65533, 4, 65536), None);
        assert_eq!(guest_range(-1, 1, 65536), None);
        assert_eq!(guest_range(0, -1, 65536), None);
    }
}
