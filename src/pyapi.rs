//! The functions `hpybridge._runtime` offers Python (defined as methods in module.c).

use crate::context::Family;
use crate::hpycall::{self, context_name, set_item_consume, unicode};
use crate::hpy;
use hpy_sys::{HPy, HPyContext, HPy_NULL, HPY_ABI, HPY_ABI_VERSION, HPY_ABI_VERSION_MINOR, HPY_VERSION};
use std::ffi::CStr;

fn cstr(bytes: &'static [u8]) -> &'static str {
    CStr::from_bytes_with_nul(bytes).ok().and_then(|c| c.to_str().ok()).unwrap_or("?")
}

/// `abi_info()`: what this runtime is and which context it was called in.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_abi_info(ctx: *mut HPyContext) -> HPy {
    let family = Family::of(ctx);
    let entries: [(&CStr, String); 8] = [
        (c"hpybridge_version", env!("CARGO_PKG_VERSION").to_owned()),
        (c"hpy_version", cstr(HPY_VERSION).to_owned()),
        (c"hpy_abi", cstr(HPY_ABI).to_owned()),
        (c"hpy_abi_version", format!("{HPY_ABI_VERSION}.{HPY_ABI_VERSION_MINOR}")),
        (c"context_name", context_name(ctx).to_string_lossy().into_owned()),
        (c"mode", family.mode().map_or("unknown", |m| m.as_str()).to_owned()),
        (c"interpreter", family.interpreter().map_or("unknown", |i| i.as_str()).to_owned()),
        (c"family", family.to_string()),
    ];
    let dict = hpy!(ctx, ctx_Dict_New);
    if dict.is_null() {
        return HPy_NULL;
    }
    for (key, value) in entries {
        if !set_item_consume(ctx, dict, key, unicode(ctx, &value)) {
            hpycall::close(ctx, dict);
            return HPy_NULL;
        }
    }
    dict
}

/// The module's exec slot.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_exec(_ctx: *mut HPyContext, _module: HPy) -> i32 {
    0
}
