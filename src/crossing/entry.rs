//! Entering a provider's family with a context that is valid for the call, by the provider's
//! `Entry` (see `family`): what every call into another family does first, whether a consumer of
//! another family (`translate`) or a C-API caller (`fallback`) makes it.

use crate::crossing::family::Entry;
use crate::crossing::scoped::Scoped;
use crate::hpy;
use hpy_sys::{_HPyFunc_args_NOARGS, HPy, HPyContext, HPyFunc_Signature, HPy_NULL};
use std::any::Any;
use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// What entering CPython's debug mode keeps per thread, in one thread-local so that a call pays one
/// thread-local lookup for both. (Private: thread-locals the crate does not export take the cheaper
/// TLS access model, and these are read on every translating call into debug mode.)
struct DebugEntry {
    /// A CPython debug context that is valid right now on this thread, or null.
    ///
    /// Debug mode hands out contexts per call from a cache of 16 (docs/hpy-contexts.md). Entering
    /// it through `ctx_CallRealFunctionFromTrampoline` for every nested call would wrap that cache
    /// after 16 levels and invalidate contexts that outer calls still hold, so callback chains
    /// could not go deeper. But a debug context with which debug code called one of our
    /// trampolines directly stays valid while that code waits for the call (`enter`'s `waiting`):
    /// nested calls into debug mode reuse it. It is forgotten while provider code holds it, since
    /// that code may call out (to Python, say) and debug mode invalidates a context during such
    /// calls.
    known_valid: Cell<*mut HPyContext>,
    /// The innermost `Pending` of this thread (calls nest: a provider may call back).
    pending: Cell<*const c_void>,
}

thread_local! {
    static DEBUG_ENTRY: DebugEntry = const {
        DebugEntry { known_valid: Cell::new(std::ptr::null_mut()), pending: Cell::new(std::ptr::null()) }
    };
}

/// Runs `f` with a context of the provider's family valid for the call: `home` is the provider's
/// home context, `entry` how its family is entered; `waiting` is the caller's own context if the
/// caller is CPython debug-mode code waiting for this call (else null), which nested entries into
/// debug mode may then use. Inlined: `f` is the call itself.
///
/// # Safety
/// `home` must be the provider's home context, of the family `entry` belongs to, `waiting` null
/// or a CPython debug context valid now, and the caller hold the GIL.
#[inline]
pub unsafe fn enter<F: FnOnce(*mut HPyContext)>(entry: Entry, home: *mut HPyContext, waiting: *mut HPyContext, f: F) {
    if waiting.is_null() && entry != Entry::ThroughTrampolineCall {
        // SAFETY: the caller's contract; no thread-local needed.
        return unsafe { enter_home(entry, home, f) };
    }
    let state = debug_entry();
    let _known = (!waiting.is_null()).then(|| Scoped::set(&state.known_valid, waiting));
    if entry != Entry::ThroughTrampolineCall {
        // SAFETY: as above.
        return unsafe { enter_home(entry, home, f) };
    }
    let known = Scoped::set(&state.known_valid, std::ptr::null_mut());
    if known.outer.is_null() {
        // SAFETY: `home` is a CPython debug-mode provider's home context (the caller's contract).
        unsafe { enter_debug(state, home, f) };
    } else {
        f(known.outer)
    }
}

/// This thread's `DebugEntry`: one thread-local lookup, then plain memory for the rest of a call.
#[inline(always)]
fn debug_entry() -> &'static DebugEntry {
    // SAFETY: a `const`-initialised thread-local without drop glue lives at one address until its
    // thread exits, and a reference to it never leaves the thread (`DebugEntry` is not `Sync`).
    DEBUG_ENTRY.with(|state| unsafe { &*(state as *const DebugEntry) })
}

/// `enter` for the entries whose home context serves the call.
///
/// # Safety
/// As `enter`, with `entry` `Home` or `HomeRevalidated`.
#[inline(always)]
unsafe fn enter_home<F: FnOnce(*mut HPyContext)>(entry: Entry, home: *mut HPyContext, f: F) {
    // PyPy's one debug context is marked invalid while debug code calls out: further up this stack
    // (to Python, which re-entered a consumer that calls us), or on another thread that released
    // the GIL. This call is a nested entry, which CPython would hand a context of its own: valid
    // for this call only.
    let _valid = if entry == Entry::HomeRevalidated {
        // SAFETY: `home` is PyPy's debug context, and we hold the GIL (the caller's contract).
        Some(unsafe { Revalidated::for_call(home) })
    } else {
        None
    };
    f(home)
}

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
        // SAFETY: a debug context's `_private` points to its HPyDebugCtxInfo (hpy::private), whose
        // magic number debug_ctx_info checks before the flag is relied on.
        unsafe {
            let info = hpy::private::debug_ctx_info(ctx);
            if info.is_null() || (*info).is_valid != 0 {
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

/// A debug context marked valid again when a call out of it returns, as HPy's debug wrappers do
/// after every call into the universal context. Needed when debug-mode code calls out other than
/// through its context (the runtime's `__cdict__` calls, which call the provider directly): calls
/// nested deeper than CPython debug mode's cache of 16 contexts reuse this one meanwhile, and mark
/// it invalid when they return (docs/hpy-contexts.md).
pub struct ValidAfterCall(Option<*mut u8>);

impl ValidAfterCall {
    /// For `ctx`, a debug context (checked by the magic number behind `_private`: a no-op if it
    /// does not match).
    ///
    /// # Safety
    /// `ctx` must be a live debug context valid now, its caller hold the GIL, and the guard be
    /// dropped before `ctx`'s own call returns.
    pub unsafe fn new(ctx: *mut HPyContext) -> ValidAfterCall {
        // SAFETY: a debug context's `_private` points to its HPyDebugCtxInfo (hpy::private), whose
        // magic number debug_ctx_info checks before the flag is relied on.
        unsafe {
            let info = hpy::private::debug_ctx_info(ctx);
            if info.is_null() {
                return ValidAfterCall(None);
            }
            ValidAfterCall(Some(std::ptr::addr_of_mut!((*info).is_valid)))
        }
    }
}

impl Drop for ValidAfterCall {
    fn drop(&mut self) {
        if let Some(flag) = self.0 {
            // SAFETY: the flag lives as long as the context; its call is still under way (`new`'s
            // contract), so it is the current context again.
            unsafe { flag.write(1) };
        }
    }
}

/// What runs once CPython's debug mode has handed out a valid context: `run::<F>` takes the `F` at
/// `f` (erased, so that `entered` needs no vtable and `enter_debug` stays generic and inlined on
/// the translating call's path) and calls it.
struct Pending {
    f: *mut c_void,
    run: unsafe fn(*mut c_void, *mut HPyContext),
    /// A panic of `f`, caught before it reaches HPy's C frames, resumed after them.
    panic: Cell<Option<Box<dyn Any + Send>>>,
}

/// Calls the `F` at `f` (moved out: it runs once) with `ctx`.
///
/// # Safety
/// `f` must point to a live `F` that nothing else uses or drops afterwards.
unsafe fn run<F: FnOnce(*mut HPyContext)>(f: *mut c_void, ctx: *mut HPyContext) {
    // SAFETY: the caller's contract: the value is read once and never dropped in place.
    let f = unsafe { f.cast::<F>().read() };
    f(ctx)
}

/// Enters a provider's debug mode as a Python call would: `ctx_CallRealFunctionFromTrampoline`
/// on its home context makes the next cached debug context valid and passes it to `entered`,
/// which runs `f` with it.
///
/// # Safety
/// `home` must be a CPython debug-mode provider's home context, and no valid debug context at
/// hand (else use that one: see `DebugEntry::known_valid`); `state` is this thread's.
#[inline(always)]
unsafe fn enter_debug<F: FnOnce(*mut HPyContext)>(state: &DebugEntry, home: *mut HPyContext, f: F) {
    // Read out exactly once, by `run` in `entered` (HPy calls it once); never dropped here.
    let mut f = std::mem::ManuallyDrop::new(f);
    // `state.pending` points to it only during the HPy call below, which it outlives.
    let pending = Pending { f: (&mut *f as *mut F).cast(), run: run::<F>, panic: Cell::new(None) };
    let _outer = Scoped::set(&state.pending, (&pending as *const Pending).cast());
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
    // SAFETY: `enter_debug` set this thread's `pending` to its `Pending`, which outlives this call.
    let pending = unsafe { &*debug_entry().pending.get().cast::<Pending>() };
    // SAFETY: `pending.f` is the live, not yet used `F` that `run` was instantiated for; HPy calls
    // this once per `enter_debug`.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { (pending.run)(pending.f, ctx) })) {
        pending.panic.set(Some(panic));
    }
    HPy_NULL
}
