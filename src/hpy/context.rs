//! Context access: calling an `HPyContext`'s members from Rust, where each context keeps them.
//!
//! In the universal ABI every HPy function is a member of the context struct (the C `HPy_*` helpers
//! are `static inline` wrappers around them), so Rust calls the members directly. The members are
//! `Option`s only because bindgen models nullable function pointers that way: every HPy 0.9 context
//! fills all of them.

use hpy_sys::{HPy, HPyContext};
use std::ffi::CStr;

/// `hpy!(ctx, ctx_Dict_New)` calls `ctx->ctx_Dict_New(ctx)`; arguments follow the member name.
/// Members past the point where PyPy's context layout departs from HPy 0.9.0's are read where
/// that context really keeps them (see `layout_shift`).
/// Unsafe (use it inside an `unsafe` block that says why): `ctx` must be a live context, valid for
/// the current call, and the arguments what the member takes.
#[macro_export]
macro_rules! hpy {
    ($ctx:expr, $member:ident $(, $arg:expr)* $(,)?) => {{
        let ctx: *mut ::hpy_sys::HPyContext = $ctx;
        let mut slot = ::std::ptr::addr_of!((*ctx).$member);
        if ::std::mem::offset_of!(::hpy_sys::_HPyContext_s, $member) >= $crate::hpy::context::PYPY_LAYOUT_DEPARTS_AT {
            slot = slot.byte_add($crate::hpy::context::layout_shift(ctx));
        }
        ((*slot).expect(concat!("HPy context without ", stringify!($member))))(ctx $(, $arg)*)
    }};
}

/// Where PyPy 7.3.19's context layout departs from HPy 0.9.0's: its HPy (0.9.1.dev) inserts the
/// member `h_DictType` just before `ctx_Capsule_New`, so from there on every member sits one
/// `HPy` later, although both contexts say `abi_version` 0. Universal binaries built against
/// 0.9.0 that call those members on that PyPy jump to garbage; hpybridge reads them where they are.
pub const PYPY_LAYOUT_DEPARTS_AT: usize = std::mem::offset_of!(hpy_sys::_HPyContext_s, ctx_Capsule_New);

/// How far past its HPy 0.9.0 offset `ctx` keeps the members from `PYPY_LAYOUT_DEPARTS_AT` on.
///
/// # Safety
/// `ctx` must point to a live HPy context.
pub unsafe fn layout_shift(ctx: *const HPyContext) -> usize {
    // SAFETY: `ctx` points to a live context (the caller's contract).
    if unsafe { context_name(ctx) }.to_bytes().ends_with(b" (PyPy backend)") {
        std::mem::size_of::<HPy>()
    } else {
        0
    }
}

/// The context's self-description (`ctx->name`), e.g. `HPy Debug Mode ABI`.
///
/// # Safety
/// `ctx` must point to a live HPy context.
pub unsafe fn context_name<'a>(ctx: *const HPyContext) -> &'a CStr {
    // SAFETY: `ctx` points to a live context (the caller's contract), whose `name`, if not null,
    // is a static NUL-terminated string.
    unsafe {
        let name = (*ctx).name;
        if name.is_null() {
            c""
        } else {
            CStr::from_ptr(name)
        }
    }
}
