//! Calling an `HPyContext`'s members from Rust.
//!
//! In the universal ABI every HPy function is a member of the context struct (the C `HPy_*` helpers
//! are `static inline` wrappers around them), so Rust calls the members directly. The members are
//! `Option`s only because bindgen models nullable function pointers that way: every HPy 0.9 context
//! fills all of them.

use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::{CStr, CString};

/// `hpy!(ctx, ctx_Dict_New)` calls `ctx->ctx_Dict_New(ctx)`; arguments follow the member name.
/// Unsafe: `ctx` must be a live context, valid for the current call.
#[macro_export]
macro_rules! hpy {
    ($ctx:expr, $member:ident $(, $arg:expr)* $(,)?) => {{
        let ctx: *mut ::hpy_sys::HPyContext = $ctx;
        ((*ctx).$member.expect(concat!("HPy context without ", stringify!($member))))(ctx $(, $arg)*)
    }};
}

/// The context's self-description (`ctx->name`), e.g. `HPy Debug Mode ABI`.
///
/// # Safety
/// `ctx` must point to a live HPy context.
pub unsafe fn context_name<'a>(ctx: *const HPyContext) -> &'a CStr {
    let name = (*ctx).name;
    if name.is_null() {
        c""
    } else {
        CStr::from_ptr(name)
    }
}

/// A new `str` handle, or `HPy_NULL` with an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn unicode(ctx: *mut HPyContext, s: &str) -> HPy {
    match CString::new(s) {
        Ok(c) => hpy!(ctx, ctx_Unicode_FromString, c.as_ptr()),
        Err(_) => {
            set_error(ctx, (*ctx).h_ValueError, "string with an embedded NUL byte");
            HPy_NULL
        }
    }
}

/// Sets `exc_type` (a borrowed handle such as `ctx->h_TypeError`) with `msg`.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn set_error(ctx: *mut HPyContext, exc_type: HPy, msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).expect("NULs were escaped");
    hpy!(ctx, ctx_Err_SetString, exc_type, c.as_ptr());
}

/// Closes `h` unless it is `HPy_NULL`.
///
/// # Safety
/// `ctx` must be valid for the current call and own `h`.
pub unsafe fn close(ctx: *mut HPyContext, h: HPy) {
    if !h.is_null() {
        hpy!(ctx, ctx_Close, h);
    }
}

/// Sets `dict[key] = value`, consuming `value` (closed in every case).
/// Returns false, with an exception set, when `value` is `HPy_NULL` or the store fails.
///
/// # Safety
/// `ctx` must be valid for the current call; `dict` a live handle in it.
pub unsafe fn set_item_consume(ctx: *mut HPyContext, dict: HPy, key: &CStr, value: HPy) -> bool {
    if value.is_null() {
        return false;
    }
    let rc = hpy!(ctx, ctx_SetItem_s, dict, key.as_ptr(), value);
    close(ctx, value);
    rc == 0
}
