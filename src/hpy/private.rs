//! What HPy 0.9's debug and trace modes keep behind a context's `_private`, as far as the runtime
//! reads it: the start of `HPyDebugCtxInfo` / `HPyDebugInfo` (hpy/debug/src/debug_internal.h) and
//! of `HPyTraceInfo` (hpy/trace/src/trace_internal.h). CPython's `hpy.universal`, PyPy 7.3.19 and
//! GraalPy all build these same sources (docs/graalpy.md). Every read checks the magic number
//! first, so a context whose `_private` is something else is left alone.

use hpy_sys::HPyContext;
use std::ffi::c_long;

/// The start of a debug context's `HPyDebugCtxInfo`.
#[repr(C)]
pub struct DebugCtxInfoHead {
    pub magic_number: c_long,
    /// A C `bool`: every function of the context checks it first ("Wrong HPy Context!"), and
    /// debug mode clears it while it calls into the universal context, which may run Python code.
    pub is_valid: u8,
    /// The debug mode's shared data, `HPyDebugInfo`.
    pub info: *const DebugInfoHead,
}

/// The start of `HPyDebugInfo`, shared by every debug context of one universal context.
#[repr(C)]
pub struct DebugInfoHead {
    pub magic_number: c_long,
    /// The universal context debug mode wraps.
    pub uctx: *const HPyContext,
}

/// The start of a trace context's `HPyTraceInfo`.
#[repr(C)]
pub struct TraceInfoHead {
    pub magic_number: c_long,
    /// The universal context trace mode wraps.
    pub uctx: *const HPyContext,
}

pub const DEBUG_CTX_INFO_MAGIC: c_long = 0xDDA003F;
pub const DEBUG_INFO_MAGIC: c_long = 0xDEB00FF;
pub const TRACE_MAGIC: c_long = 0xF00BAA5;

/// A debug context's `HPyDebugCtxInfo`, or null if `_private` does not carry its magic number.
///
/// # Safety
/// `ctx` must be a live context whose `_private` is null or points to readable memory at least as
/// large as `DebugCtxInfoHead` (true of every HPy 0.9 context: debug, trace or universal).
pub unsafe fn debug_ctx_info(ctx: *const HPyContext) -> *mut DebugCtxInfoHead {
    // SAFETY: the caller's contract; the magic number is read before anything else is relied on.
    unsafe {
        let info = (*ctx)._private.cast::<DebugCtxInfoHead>();
        if info.is_null() || (*info).magic_number != DEBUG_CTX_INFO_MAGIC {
            return std::ptr::null_mut();
        }
        info
    }
}

/// Marks a debug context valid (its `is_valid` flag), if `_private` carries HPy 0.9's magic number.
///
/// # Safety
/// As `debug_ctx_info`; the caller must hold the GIL (debug mode's own writes to the flag are no
/// more atomic than this one) and know the context is the current one of its thread's call.
#[inline]
pub unsafe fn mark_valid(ctx: *const HPyContext) {
    // SAFETY: the caller's contract; `debug_ctx_info` checked the magic number.
    unsafe {
        let info = debug_ctx_info(ctx);
        if !info.is_null() {
            (*info).is_valid = 1;
        }
    }
}

/// The universal context that a debug or trace context wraps (`debug` says which it claims to
/// be), or None if its private data does not carry the magic numbers HPy 0.9 writes there.
///
/// # Safety
/// `ctx` must be a live context that calls itself a debug context (`debug`) or a trace context, by
/// its name: then `_private` points to the structures above.
pub unsafe fn wrapped_universal(ctx: *const HPyContext, debug: bool) -> Option<*const HPyContext> {
    // SAFETY: the caller's contract; each magic number is checked before the pointer beside it is
    // followed.
    unsafe {
        let uctx = if debug {
            let ctx_info = debug_ctx_info(ctx);
            if ctx_info.is_null() {
                return None;
            }
            let info = (*ctx_info).info;
            if info.is_null() || (*info).magic_number != DEBUG_INFO_MAGIC {
                return None;
            }
            (*info).uctx
        } else {
            let info = (*ctx)._private.cast::<TraceInfoHead>();
            if info.is_null() || (*info).magic_number != TRACE_MAGIC {
                return None;
            }
            (*info).uctx
        };
        (!uctx.is_null()).then_some(uctx)
    }
}
