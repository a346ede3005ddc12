//! The translating call: what a trampoline between two context families does on every call.
//!
//! The consumer calls with its own context and handles. The provider must get a context of its own
//! family that is valid for this call, and handles of that context; its handle result must come
//! back as a handle of the consumer's context. Everything else passes untouched.

use crate::crossing::family::Entry;
use crate::crossing::scoped::Scoped;
use crate::crossing::transfer::Transfer;
use crate::hpy;
use crate::hpy::boundary::call_failed;
use crate::hpy::values::close;
use hpy_sys::{_HPyFunc_args_NOARGS, HPy, HPyContext, HPyFunc_Signature, HPy_NULL};
use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_long, c_void};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use trampolines::Call;

/// Everything a translating trampoline needs, fixed when it is made. Lives as long as the
/// trampoline (the registry keeps both for the life of the process).
pub struct CrossPlan {
    pub target: *const c_void,
    /// The provider's home context: what Python calls it with (`_ctx_for_trampolines`).
    pub home: *mut HPyContext,
    pub entry: Entry,
    pub to_provider: Transfer,
    pub to_consumer: Transfer,
    /// Positions of `HPyContext *` arguments; the first one is the consumer's context.
    pub ctx_args: Box<[usize]>,
    pub handle_args: Box<[usize]>,
    pub returns_handle: bool,
    /// The consumer runs in CPython's debug mode: while it waits for this call, its context is a
    /// debug context known to be valid (see `KNOWN_VALID_DEBUG_CTX`).
    pub consumer_is_cpython_debug: bool,
}

// SAFETY: a plan is immutable after construction; its pointers are process-lifetime functions
// and contexts.
unsafe impl Send for CrossPlan {}
// SAFETY: as above.
unsafe impl Sync for CrossPlan {}

/// The most handle arguments one call can move: trampolines take no more arguments than this.
const MAX_HANDLES: usize = trampolines::MAX_ARGS;

thread_local! {
    /// A CPython debug context that is valid right now on this thread, or null.
    ///
    /// Debug mode hands out contexts per call from a cache of 16 (docs/hpy-contexts.md). Entering
    /// it through `ctx_CallRealFunctionFromTrampoline` for every nested call would wrap that cache
    /// after 16 levels and invalidate contexts that outer calls still hold, so callback chains
    /// could not go deeper. But a debug context with which debug code called one of our
    /// trampolines directly stays valid while that code waits for the call: nested calls into
    /// debug mode reuse it. It is forgotten while provider code holds it, since that code may call
    /// out (to Python, say) and debug mode invalidates a context during such calls.
    static KNOWN_VALID_DEBUG_CTX: Cell<*mut HPyContext> = const { Cell::new(std::ptr::null_mut()) };
}

/// The `trampolines::Handler` of every translating trampoline; `data` is its `CrossPlan`. It runs
/// below C frames: a panic is caught (at no cost on the normal path) and fails the call.
///
/// # Safety
/// `data` is the trampoline's plan, `call` a call of its signature with a valid context.
pub unsafe fn translate(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: `data` is this trampoline's plan, which lives as long as the trampoline.
    let plan = unsafe { &*data.cast::<CrossPlan>() };
    // SAFETY: the caller's contract.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { dispatch(call, plan) })) {
        // SAFETY: the consumer's context is valid for this call.
        unsafe { call_failed(call, plan.ctx_args[0], panic) };
    }
}

/// The translating call, by how it enters the provider's family.
///
/// # Safety
/// As `translate`.
unsafe fn dispatch(call: &mut dyn Call, plan: &CrossPlan) {
    let consumer = call.arg(plan.ctx_args[0]) as *mut HPyContext;
    match plan.entry {
        // A debug consumer's context is valid while it waits: nested entries may use it.
        Entry::Home if plan.consumer_is_cpython_debug => {
            let _known = Scoped::set(&KNOWN_VALID_DEBUG_CTX, consumer);
            // SAFETY: the consumer's context is valid for the call; the home context is valid for
            // any call of a provider whose entry is `Home`.
            unsafe { cross(call, plan, consumer, plan.home) };
        }
        // SAFETY: as above.
        Entry::Home => unsafe { cross(call, plan, consumer, plan.home) },
        // PyPy's one debug context is marked invalid while debug code calls out: further up this
        // stack (to Python, which re-entered a consumer that calls us), or on another thread that
        // released the GIL. This call is a nested entry, which CPython would hand a context of its
        // own: valid for this call only.
        Entry::HomeRevalidated => {
            // SAFETY: the provider's home context is PyPy's debug context, and we hold the GIL.
            let _valid = unsafe { Revalidated::for_call(plan.home) };
            // SAFETY: the home context is valid for this call now.
            unsafe { cross(call, plan, consumer, plan.home) };
        }
        // (The consumer is not in CPython's debug mode here: that would be the same family.)
        Entry::ThroughTrampolineCall => {
            let known = Scoped::set(&KNOWN_VALID_DEBUG_CTX, std::ptr::null_mut());
            if known.outer.is_null() {
                // SAFETY: the consumer's context is valid for the call.
                unsafe { enter_then_cross(call, plan, consumer) };
            } else {
                // SAFETY: a debug context known valid (see `KNOWN_VALID_DEBUG_CTX`).
                unsafe { cross(call, plan, consumer, known.outer) };
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
/// flag is cleared again when this is dropped (also when a panic unwinds: `translate` catches it).
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

/// The call proper, with `provider` a context valid now.
///
/// # Safety
/// As `translate`, with `consumer` the call's context and `provider` a context of the provider's
/// family valid now.
unsafe fn cross(call: &mut dyn Call, plan: &CrossPlan, consumer: *mut HPyContext, provider: *mut HPyContext) {
    for &i in plan.ctx_args.iter() {
        call.set_arg(i, provider as u64);
    }
    let n = if plan.to_provider == Transfer::Shared { 0 } else { plan.handle_args.len() };
    // Uninitialised: most calls move no handle or one, and this runs on every call.
    let mut moved = [const { MaybeUninit::<HPy>::uninit() }; MAX_HANDLES];
    for (k, &i) in plan.handle_args[..n].iter().enumerate() {
        let h = HPy { _i: call.arg(i) as isize };
        // SAFETY: both contexts are valid now, and `h` is the consumer's argument, a handle of its
        // context.
        let m = unsafe { plan.to_provider.moved(consumer, provider, h) };
        if m.is_null() && !h.is_null() {
            // Could not move it (an exception is set): undo, and fail the way C APIs fail.
            // SAFETY: the first `k` were written above, and are the provider's to close.
            moved[..k].iter().for_each(|m| unsafe { close(provider, m.assume_init()) });
            call.set_ret(0);
            return;
        }
        moved[k].write(m);
        call.set_arg(i, m._i as u64);
    }
    // SAFETY: `target` is the provider's function of this call's signature, and its context and
    // handle arguments are now the provider's.
    unsafe { call.invoke(plan.target) };
    // SAFETY: all `n` were written above, and are the provider's to close.
    moved[..n].iter().for_each(|m| unsafe { close(provider, m.assume_init()) });
    if plan.returns_handle && plan.to_consumer != Transfer::Shared {
        let result = HPy { _i: call.ret() as isize };
        if !result.is_null() {
            // HPy_NULL (an exception) stays as it is: exceptions belong to the thread, not a context.
            // SAFETY: both contexts are valid now, and `result` is a new handle of the provider's.
            let back = unsafe { plan.to_consumer.moved(provider, consumer, result) };
            // SAFETY: as above.
            unsafe { close(provider, result) };
            call.set_ret(back._i as u64);
        }
    }
}

/// A call waiting for CPython's debug mode to hand out a valid context.
struct Pending<'a> {
    call: *mut (dyn Call + 'a),
    plan: &'a CrossPlan,
    consumer: *mut HPyContext,
    /// A panic of the call, caught before it reaches HPy's C frames, resumed after them.
    panic: Cell<Option<Box<dyn Any + Send>>>,
}

thread_local! {
    /// The innermost `Pending` of this thread (calls nest: a provider may call back).
    static PENDING: Cell<*const c_void> = const { Cell::new(std::ptr::null()) };
}

/// Enters the provider's debug mode as a Python call would: `ctx_CallRealFunctionFromTrampoline`
/// on its home context makes the next cached debug context valid and passes it to `entered`.
///
/// # Safety
/// As `cross`, for a provider in CPython's debug mode with no valid debug context at hand.
unsafe fn enter_then_cross(call: &mut dyn Call, plan: &CrossPlan, consumer: *mut HPyContext) {
    let pending = Pending { call, plan, consumer, panic: Cell::new(None) };
    let _outer = Scoped::set(&PENDING, (&pending as *const Pending).cast());
    // `self` is NULL: `entered` ignores it, and debug mode wraps NULL as HPy_NULL.
    let mut args = _HPyFunc_args_NOARGS { self_: std::ptr::null_mut(), result: std::ptr::null_mut() };
    let f: unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy = entered;
    // HPyCFunction is HPy's untyped function pointer; the signature constant says what it really is.
    // SAFETY: function pointers have one representation; HPy calls it back with `entered`'s
    // real signature, the one HPyFunc_NOARGS names.
    let f: hpy_sys::HPyCFunction = Some(unsafe {
        std::mem::transmute::<unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy, unsafe extern "C" fn() -> *mut c_void>(
            f,
        )
    });
    // SAFETY: `plan.home` is the provider's home context, valid for this call of a debug-mode
    // provider (docs/hpy-contexts.md); `args` is the NOARGS argument block, live during the call.
    unsafe {
        hpy!(
            plan.home,
            ctx_CallRealFunctionFromTrampoline,
            HPyFunc_Signature::HPyFunc_NOARGS,
            f,
            (&mut args as *mut _HPyFunc_args_NOARGS).cast()
        )
    };
    if let Some(panic) = pending.panic.take() {
        resume_unwind(panic);
    }
}

/// Called by HPy's C code: a panic must not unwind from here (`enter_then_cross` resumes it).
///
/// # Safety
/// Only called by debug mode, for `enter_then_cross`, with the debug context it made valid.
unsafe extern "C" fn entered(ctx: *mut HPyContext, _self: HPy) -> HPy {
    // SAFETY: `enter_then_cross` set `PENDING` to its `Pending`, which outlives this call.
    let pending = unsafe { &*PENDING.get().cast::<Pending>() };
    // SAFETY: `pending.call` is the call `enter_then_cross` was given, not otherwise used while
    // this runs; `ctx` is valid now.
    let crossed =
        catch_unwind(AssertUnwindSafe(|| unsafe { cross(&mut *pending.call, pending.plan, pending.consumer, ctx) }));
    if let Err(panic) = crossed {
        pending.panic.set(Some(panic));
    }
    HPy_NULL
}
