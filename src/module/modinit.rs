//! The four symbols an HPy loader looks up in `_runtime.hpy0.so`: what `HPy_MODINIT(_runtime, def)`
//! writes in C. They live in Rust because a Rust cdylib exports only Rust's `#[no_mangle]` items.
//! The `_runtime` suffix must equal the module's load name.

use hpy_sys::{HPyContext, HPyModuleDef, HPY_ABI_VERSION, HPY_ABI_VERSION_MINOR};
use std::ptr::addr_of_mut;

extern "C" {
    /// Defined in module.c.
    static mut hpybridge_moduledef: HPyModuleDef;
    /// Read by the CPython trampolines that HPyDef_METH generates in module.c.
    static mut _ctx_for_trampolines: *mut HPyContext;
}

#[no_mangle]
pub extern "C" fn get_required_hpy_major_version__runtime() -> u32 {
    HPY_ABI_VERSION
}

#[no_mangle]
pub extern "C" fn get_required_hpy_minor_version__runtime() -> u32 {
    HPY_ABI_VERSION_MINOR
}

/// # Safety
/// Called once by the loader, before any other function of the module.
#[no_mangle]
pub unsafe extern "C" fn HPyInitGlobalContext__runtime(ctx: *mut HPyContext) {
    // SAFETY: the loader calls this once, before anything else of the module runs: no other access.
    unsafe { _ctx_for_trampolines = ctx };
}

#[no_mangle]
pub extern "C" fn HPyInit__runtime() -> *mut HPyModuleDef {
    // Only the address is taken (no unsafe needed); the loader reads the definition.
    addr_of_mut!(hpybridge_moduledef)
}

/// The context Python calls this module with (what `HPyInitGlobalContext__runtime` was given).
pub fn home_context() -> *mut HPyContext {
    // SAFETY: written once by the loader before the module runs.
    unsafe { _ctx_for_trampolines }
}
