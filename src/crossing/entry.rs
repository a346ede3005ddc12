//! Entering a provider's family with a context that is valid for the call, by the provider's
//! `Entry` (see `family`): what every call into another family does first, whether a consumer of
//! another family (`translate`) or a C-API caller (`fallback`) makes it.

use crate::crossing::family::Entry;
use crate::crossing::scoped::Scoped;
use crate::hpy;
use hpy_sys::{_HPyFunc_args_NOARGS, HPy, HPyContext, HPyFunc_Signature, HPy_NULL};
use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_long, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

thread_local! {
    /// A CPython debug context that is valid right now on this thread, or null.
    ///
    /// Debug mode hands out contexts per call from a cache of 16 (docs/hpy-contexts.md). Entering
    /// it through `ctx_CallRealFunctionFromTrampoline` for every nested call would wrap that cache
    /// after 16 levels and invalidate contexts that outer calls still hold, so callback chains
    /// could not go deeper. But a debug context with which debug code called one of our
    /// trampolines directly stays valid while that code waits for the call (`translate` records
    /// it): nested calls into debug mode reuse it. It is forgotten while provider code holds it,
    /// since that code may call out (to Python, say) and debug mode invalidates a context during
    /// such calls.
    pub static KNOWN_VALID_DEBUG_CTX: Cell<*mut HPyContext> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` with a context of the provider's family valid for the call: `home` is the provider's
/// home context, `entry` how its family is entered. Inlined: `f` is the call itself.
///
/// # Safety
/// `home` must be the provider's home context, of the family `entry` belongs to, and the caller
/// hold the GIL.
#[inline]
pub unsafe fn enter<F: FnOnce(*mut HPyContext)>(entry: Entry, home: *mut HPyContext, f: F) {
    match entry {
        Entry::Home => f(home),
        // PyPy's one debug context is marked invalid while debug code calls out: further up this
        // stack (to Python, which re-entered a consumer that calls us), or on another thread that
        // released the GIL. This call is a nested entry, which CPython would hand a context of its
        // own: valid for this call only.
        Entry::HomeRevalidated => {
            // SAFETY: `home` is PyPy's debug context, and we hold the GIL (the caller's contract).
            let _valid = unsafe { Revalidated::for_call(home) };
            f(home)
        }
        Entry::ThroughTrampolineCall => {
            let known = Scoped::set(&KNOWN_VALID_DEBUG_CTX, std::ptr::null_mut());
            if known.outer.is_null() {
                let mut f = Some(f);
                // SAFETY: `home` is a CPython debug-mode provider's home context (the caller's contract).
                unsafe { enter_debug(home, &mut |ctx| f.take().expect("entered once")(ctx)) };
            } else {
                f(known.outer)
            }
        }
    }
}

/// The start of what HPy 0.9's debug mode keeps behind a debug context's `_private`
/// (`HPyDebugCtxInfo` in hpy/debug/src/debug_internal.h; PyPy 7.3.19 builds the same sources): a
/// magic number, then the flag that every function of the context checks first ("Wrong HPy
/// Context!") and clears while it calls into the universal context, which may run Python code.
#[repr(C)]
struct DebugCtxInfoHead {
    magic_number: c_long,
    /// A C `bool`.
    is_valid: u8,
}

const DEBUG_CTX_INFO_MAGIC: c_long = 0xDDA003F;

/// PyPy's debug context marked valid for the extent of one call, if it was marked invalid: the
/// flag is cleared again when this is dropped (also when a panic unwinds: callers catch it).
struct Revalidated(Option<*mut u8>);

impl Revalidated {
    /// Marks `ctx` valid if it is marked invalid now. Touches nothing if it is valid, or if
    /// `_private` does not look like HPy 0.9's debug data: the call then goes ahead as it would.
    ///
    /// # Safety
    /// `ctx` must be a live debug context of PyPy's, and the caller hold the GIL (debug mode's own
    /// writes to the flag are no more atomic than these).
    #[inline]
    unsafe fn for_call(ctx: *mut HPyContext) -> Revalidated {
        // SAFETY: a debug context's `_private` points to its HPyDebugCtxInfo, which starts with
        // these two fields; the magic number is checked before the flag is relied on.
        unsafe {
            let info = (*ctx)._private.cast::<DebugCtxInfoHead>();
            if info.is_null() || (*info).magic_number != DEBUG_CTX_INFO_MAGIC || (*info).is_valid != 0 {
                return Revalidated(None);
            }
            let flag = std::ptr::addr_of_mut!((*info).is_valid);
            flag.write(1);
            Revalidated(Some(flag))
        }
    }
}

impl Drop for Revalidated {
    #[inline]
    fn drop(&mut self) {
        if let Some(flag) = self.0 {
            // SAFETY: the flag lives as long as the context (the process). The call-out that
            // cleared it is still under way (unless another thread's ended while the provider had
            // released the GIL: docs/hpy-contexts.md) and sets it again when it returns.
            unsafe { flag.write(0) };
        }
    }
}

/// What runs once CPython's debug mode has handed out a valid context.
struct Pending<'a> {
    f: &'a mut dyn FnMut(*mut HPyContext),
    /// A panic of `f`, caught before it reaches HPy's C frames, resumed after them.
    panic: Cell<Option<Box<dyn Any + Send>>>,
}

thread_local! {
    /// The innermost `Pending` of this thread (calls nest: a provider may call back).
    static PENDING: Cell<*const c_void> = const { Cell::new(std::ptr::null()) };
}

/// Enters a provider's debug mode as a Python call would: `ctx_CallRealFunctionFromTrampoline`
/// on its home context makes the next cached debug context valid and passes it to `entered`,
/// which runs `f` with it.
///
/// # Safety
/// `home` must be a CPython debug-mode provider's home context, and no valid debug context at
/// hand (else use that one: see `KNOWN_VALID_DEBUG_CTX`).
unsafe fn enter_debug(home: *mut HPyContext, f: &mut dyn FnMut(*mut HPyContext)) {
    // `PENDING` points to it only during the HPy call below, which it outlives.
    let pending = Pending { f, panic: Cell::new(None) };
    let _outer = Scoped::set(&PENDING, (&pending as *const Pending).cast());
    // `self` is NULL: `entered` ignores it, and debug mode wraps NULL as HPy_NULL.
    let mut args = _HPyFunc_args_NOARGS { self_: std::ptr::null_mut(), result: std::ptr::null_mut() };
    let entry: unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy = entered;
    // HPyCFunction is HPy's untyped function pointer; the signature constant says what it really is.
    // SAFETY: function pointers have one representation; HPy calls it back with `entered`'s
    // real signature, the one HPyFunc_NOARGS names.
    let entry: hpy_sys::HPyCFunction = Some(unsafe {
        std::mem::transmute::<unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy, unsafe extern "C" fn() -> *mut c_void>(
            entry,
        )
    });
    // SAFETY: `home` is the provider's home context, valid for this call of a debug-mode provider
    // (docs/hpy-contexts.md); `args` is the NOARGS argument block, live during the call.
    unsafe {
        hpy!(
            home,
            ctx_CallRealFunctionFromTrampoline,
            HPyFunc_Signature::HPyFunc_NOARGS,
            entry,
            (&mut args as *mut _HPyFunc_args_NOARGS).cast()
        )
    };
    if let Some(panic) = pending.panic.take() {
        resume_unwind(panic);
    }
}

/// Called by HPy's C code: a panic must not unwind from here (`enter_debug` resumes it).
///
/// # Safety
/// Only called by debug mode, for `enter_debug`, with the debug context it made valid.
unsafe extern "C" fn entered(ctx: *mut HPyContext, _self: HPy) -> HPy {
    // SAFETY: `enter_debug` set `PENDING` to its `Pending`, which outlives this call; nothing else
    // uses its `f` while this runs.
    let pending = unsafe { &mut *PENDING.get().cast::<Pending>().cast_mut() };
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (pending.f)(ctx))) {
        pending.panic.set(Some(panic));
    }
    HPy_NULL
}
