//! The translating call: what a trampoline between two context families does on every call.
//!
//! The consumer calls with its own context and handles. The provider must get a context of its own
//! family that is valid for this call, and handles of that context; its handle result must come
//! back as a handle of the consumer's context. Everything else passes untouched.

use crate::context::Entry;
use crate::hpy;
use crate::hpycall::close;
use crate::transfer::Transfer;
use hpy_sys::{_HPyFunc_args_NOARGS, HPy, HPyContext, HPyFunc_Signature, HPy_NULL};
use std::cell::Cell;
use std::ffi::c_void;
use std::mem::MaybeUninit;
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

/// The `trampolines::Handler` of every translating trampoline; `data` is its `CrossPlan`.
pub unsafe fn translate(call: &mut dyn Call, data: *const c_void) {
    let plan = &*data.cast::<CrossPlan>();
    let consumer = call.arg(plan.ctx_args[0]) as *mut HPyContext;
    match plan.entry {
        // A debug consumer's context is valid while it waits: nested entries may use it.
        Entry::Home if plan.consumer_is_cpython_debug => {
            let outer = KNOWN_VALID_DEBUG_CTX.replace(consumer);
            cross(call, plan, consumer, plan.home);
            KNOWN_VALID_DEBUG_CTX.set(outer);
        }
        Entry::Home => cross(call, plan, consumer, plan.home),
        // (The consumer is not in CPython's debug mode here: that would be the same family.)
        Entry::ThroughTrampolineCall => {
            let known = KNOWN_VALID_DEBUG_CTX.replace(std::ptr::null_mut());
            if known.is_null() {
                enter_then_cross(call, plan, consumer);
            } else {
                cross(call, plan, consumer, known);
            }
            KNOWN_VALID_DEBUG_CTX.set(known);
        }
    }
}

/// The call proper, with `provider` a context valid now.
unsafe fn cross(call: &mut dyn Call, plan: &CrossPlan, consumer: *mut HPyContext, provider: *mut HPyContext) {
    for &i in plan.ctx_args.iter() {
        call.set_arg(i, provider as u64);
    }
    let n = if plan.to_provider == Transfer::Shared { 0 } else { plan.handle_args.len() };
    // Uninitialised: most calls move no handle or one, and this runs on every call.
    let mut moved = [const { MaybeUninit::<HPy>::uninit() }; MAX_HANDLES];
    for (k, &i) in plan.handle_args[..n].iter().enumerate() {
        let h = HPy { _i: call.arg(i) as isize };
        let m = plan.to_provider.moved(consumer, provider, h);
        if m.is_null() && !h.is_null() {
            // Could not move it (an exception is set): undo, and fail the way C APIs fail.
            moved[..k].iter().for_each(|m| close(provider, m.assume_init()));
            call.set_ret(0);
            return;
        }
        moved[k].write(m);
        call.set_arg(i, m._i as u64);
    }
    call.invoke(plan.target);
    moved[..n].iter().for_each(|m| close(provider, m.assume_init()));
    if plan.returns_handle && plan.to_consumer != Transfer::Shared {
        let result = HPy { _i: call.ret() as isize };
        if !result.is_null() {
            // HPy_NULL (an exception) stays as it is: exceptions belong to the thread, not a context.
            let back = plan.to_consumer.consumed(provider, consumer, result);
            call.set_ret(back._i as u64);
        }
    }
}

/// A call waiting for CPython's debug mode to hand out a valid context.
struct Pending<'a> {
    call: *mut (dyn Call + 'a),
    plan: &'a CrossPlan,
    consumer: *mut HPyContext,
}

thread_local! {
    /// The innermost `Pending` of this thread (calls nest: a provider may call back).
    static PENDING: Cell<*const c_void> = const { Cell::new(std::ptr::null()) };
}

/// Enters the provider's debug mode as a Python call would: `ctx_CallRealFunctionFromTrampoline`
/// on its home context makes the next cached debug context valid and passes it to `entered`.
unsafe fn enter_then_cross(call: &mut dyn Call, plan: &CrossPlan, consumer: *mut HPyContext) {
    let pending = Pending { call, plan, consumer };
    let outer = PENDING.replace((&pending as *const Pending).cast());
    // `self` is NULL: `entered` ignores it, and debug mode wraps NULL as HPy_NULL.
    let mut args = _HPyFunc_args_NOARGS { self_: std::ptr::null_mut(), result: std::ptr::null_mut() };
    let f: unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy = entered;
    // HPyCFunction is HPy's untyped function pointer; the signature constant says what it really is.
    let f: hpy_sys::HPyCFunction = Some(std::mem::transmute::<
        unsafe extern "C" fn(*mut HPyContext, HPy) -> HPy,
        unsafe extern "C" fn() -> *mut c_void,
    >(f));
    hpy!(
        plan.home,
        ctx_CallRealFunctionFromTrampoline,
        HPyFunc_Signature::HPyFunc_NOARGS,
        f,
        (&mut args as *mut _HPyFunc_args_NOARGS).cast()
    );
    PENDING.set(outer);
}

unsafe extern "C" fn entered(ctx: *mut HPyContext, _self: HPy) -> HPy {
    let pending = &*PENDING.get().cast::<Pending>();
    cross(&mut *pending.call, pending.plan, pending.consumer, ctx);
    HPy_NULL
}
