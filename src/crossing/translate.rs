//! The translating call: what a trampoline between two context families does on every call.
//!
//! The consumer calls with its own context and handles. The provider must get a context of its own
//! family that is valid for this call, and handles of that context; its handle result must come
//! back as a handle of the consumer's context. Everything else passes untouched.

use crate::crossing::entry::enter;
use crate::crossing::family::Entry;
use crate::crossing::transfer::Transfer;
use crate::hpy;
use crate::hpy::boundary::call_failed;
use crate::hpy::values::close;
use hpy_sys::{HPy, HPyContext};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
}

// SAFETY: a plan is immutable after construction; its pointers are process-lifetime functions
// and contexts.
unsafe impl Send for CrossPlan {}
// SAFETY: as above.
unsafe impl Sync for CrossPlan {}

/// The most handle arguments one call can move: trampolines take no more arguments than this.
const MAX_HANDLES: usize = trampolines::MAX_ARGS;

/// The `trampolines::Handler` of every translating trampoline; `data` is its `CrossPlan`. It runs
/// below C frames: a panic is caught (at no cost on the normal path) and fails the call.
/// `DEBUG_CONSUMER`: the consumer runs in CPython's debug mode (a handler of its own, so that other
/// consumers' calls pay nothing for it): while it waits for this call its context is a debug context
/// known to be valid (see `entry::enter`), and it is marked valid again when the provider returns.
///
/// # Safety
/// `data` is the trampoline's plan, `call` a call of its signature with a valid context.
pub unsafe fn translate<const DEBUG_CONSUMER: bool>(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: `data` is this trampoline's plan, which lives as long as the trampoline.
    let plan = unsafe { &*data.cast::<CrossPlan>() };
    // SAFETY: the caller's contract.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { dispatch::<DEBUG_CONSUMER>(call, plan) })) {
        // SAFETY: the consumer's context is valid for this call.
        unsafe { call_failed(call, plan.ctx_args[0], panic) };
    }
}

/// The translating call: enters the provider's family (`entry::enter`), then crosses.
///
/// # Safety
/// As `translate`.
unsafe fn dispatch<const DEBUG_CONSUMER: bool>(call: &mut dyn Call, plan: &CrossPlan) {
    let consumer = call.arg(plan.ctx_args[0]) as *mut HPyContext;
    // A debug consumer's context is valid while it waits: nested entries into debug mode may use it.
    let waiting = if DEBUG_CONSUMER { consumer } else { std::ptr::null_mut() };
    // SAFETY: `plan.home` is the provider's home context, of the family `plan.entry` is for,
    // `waiting` null or the consumer's valid debug context, and the consumer (a caller of HPy
    // functions) holds the GIL; `cross` gets a context valid now.
    unsafe {
        enter(plan.entry, plan.home, waiting, |provider| cross::<DEBUG_CONSUMER>(call, plan, consumer, provider))
    };
}

/// The call proper, with `provider` a context valid now.
///
/// # Safety
/// As `translate`, with `consumer` the call's context and `provider` a context of the provider's
/// family valid now.
unsafe fn cross<const DEBUG_CONSUMER: bool>(
    call: &mut dyn Call,
    plan: &CrossPlan,
    consumer: *mut HPyContext,
    provider: *mut HPyContext,
) {
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
    if DEBUG_CONSUMER {
        // A CPython debug consumer's context is valid again when the provider returns, as after
        // any call-out of debug code (debug mode's own wrappers of HPy_Call do the same): a
        // provider that called back into debug mode more than 16 levels deep (the size of debug
        // mode's context cache) has marked it invalid on the way back. (No guard: `invoke` runs C
        // code, which does not unwind.)
        // SAFETY: the consumer's context is a CPython debug context (DEBUG_CONSUMER), whose call
        // is under way, and the consumer holds the GIL.
        unsafe { hpy::private::mark_valid(consumer) };
    }
    // SAFETY: all `n` were written above, and are the provider's to close.
    moved[..n].iter().for_each(|m| unsafe { close(provider, m.assume_init()) });
    if plan.returns_handle && plan.to_consumer != Transfer::Shared {
        let result = HPy { _i: call.ret() as isize };
        if !result.is_null() {
            // HPy_NULL (an exception) stays as it is: exceptions belong to the thread, not a context.
            // SAFETY: both contexts are valid now, and `result` is a new handle of the provider's,
            // which `consumed` closes.
            let back = unsafe { plan.to_consumer.consumed(provider, consumer, result) };
            call.set_ret(back._i as u64);
        }
    }
}
