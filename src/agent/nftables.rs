//! nftables transactions. The agent loads libnftables (the library behind
//! the `nft` command) at run time and hands it the same commands, so a
//! state change costs one in-process transaction instead of a process
//! start. Without the library it falls back to running `nft -f -`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type BufferError = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetError = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

struct Library {
    handle: *mut c_void,
    ctx: *mut c_void,
    free: CtxFree,
    get_error: GetError,
    run: RunCmd,
}

pub struct Nftables {
    library: Option<Library>,
}

impl Nftables {
    pub fn new() -> Nftables {
        Nftables { library: open() }
    }

    pub fn in_process(&self) -> bool {
        self.library.is_some()
    }

    /// Runs `commands` as one transaction.
    pub fn run(&mut self, commands: &str) -> Result<(), String> {
        let Some(lib) = &self.library else { return run_process(commands) };
        let text = CString::new(commands).map_err(|_| "nft commands contain a NUL byte".to_string())?;
        // SAFETY: ctx is a live context from nft_ctx_new, text is a valid
        // NUL-terminated string that outlives the call.
        let rc = unsafe { (lib.run)(lib.ctx, text.as_ptr()) };
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: with error buffering on, the library returns a pointer to
        // its own NUL-terminated buffer, valid until the next call.
        let message = unsafe {
            let p = (lib.get_error)(lib.ctx);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Err(format!("nft failed: {}", message.trim()))
    }
}

impl Drop for Nftables {
    fn drop(&mut self) {
        if let Some(lib) = self.library.take() {
            // SAFETY: ctx came from nft_ctx_new and is freed once; the handle
            // came from dlopen and is closed once, after its last use.
            unsafe {
                (lib.free)(lib.ctx);
                libc::dlclose(lib.handle);
            }
        }
    }
}

fn open() -> Option<Library> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; each symbol is cast to
    // the signature libnftables(3) documents for it.
    unsafe {
        let handle = libc::dlopen(c"libnftables.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            return None;
        }
        let sym = |name: &CStr| {
            let p = libc::dlsym(handle, name.as_ptr());
            (!p.is_null()).then_some(p)
        };
        let (Some(new), Some(free), Some(buffer_error), Some(get_error), Some(run)) = (
            sym(c"nft_ctx_new"),
            sym(c"nft_ctx_free"),
            sym(c"nft_ctx_buffer_error"),
            sym(c"nft_ctx_get_error_buffer"),
            sym(c"nft_run_cmd_from_buffer"),
        ) else {
            libc::dlclose(handle);
            return None;
        };
        let new: CtxNew = std::mem::transmute::<*mut c_void, CtxNew>(new);
        let ctx = new(0);
        if ctx.is_null() {
            libc::dlclose(handle);
            return None;
        }
        let buffer_error: BufferError = std::mem::transmute::<*mut c_void, BufferError>(buffer_error);
        buffer_error(ctx);
        Some(Library {
            handle,
            ctx,
            free: std::mem::transmute::<*mut c_void, CtxFree>(free),
            get_error: std::mem::transmute::<*mut c_void, GetError>(get_error),
            run: std::mem::transmute::<*mut c_void, RunCmd>(run),
        })
    }
}

fn run_process(commands: &str) -> Result<(), String> {
    super::feed::feed("nft", &["-f", "-"], commands)
}
