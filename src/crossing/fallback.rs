//! CPython-API fallback stubs: every slot of an exported API made callable with `PyObject *`
//! arguments and no `HPyContext *`, for C-API, Cython and PyO3 code (docs/fallback-stubs.md).
//!
//! A slot's CPython-API signature is derived from its HPy one (`capsules::fallback`). What stands
//! in the slot, cheapest first:
//! - the provider's own function, when its signature has no context (and so no handle);
//! - a prepending stub (`Trampolines::prepend`) for a CPython universal or trace provider, whose
//!   handles are the objects' addresses plus one (checked at run time): it puts the provider's home
//!   context in front, adds 1 to each object (NULL stays NULL) and takes 1 from a handle result,
//!   which the caller then owns as a new reference: a few instructions;
//! - otherwise (CPython's debug mode, PyPy, unknown families) a stub whose handler enters the
//!   provider's family (`entry::enter`), opens a handle of that context for each object
//!   (`ctx_FromPyObject`), calls the provider through a prepared call of its HPy signature
//!   (`trampolines::Caller`), closes those handles, and turns a handle result into a new reference
//!   (`ctx_AsPyObject`) before closing it;
//! - NULL, when the signature has no CPython-API form.
//!
//! Exceptions are the caller's thread's: the provider's arrive unchanged.

use crate::crossing::entry::enter;
use crate::crossing::family::{Entry, Family, Interpreter, Mode};
use crate::crossing::plan::trampolines;
use crate::crossing::transfer::plain_handles_are_objects;
use crate::hpy;
use crate::hpy::boundary::{internal_error, raise_or_abort};
use crate::hpy::error::{Error, Exception, Result};
use crate::hpy::values::close;
use capsules::fallback::{fallback, is_own_fallback};
use capsules::signature::{CType, Signature};
use capsules::wire::{ApiDecl, SlotDecl};
use hpy_sys::{cpy_PyObject, HPy, HPyContext};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use trampolines::{Adjust, Call, Caller, MAX_ARGS};

/// The CPython-API form of each slot of one API, and what calls it.
pub struct FallbackStubs {
    /// The API in its CPython-API form: per slot its CPython-API signature, or its HPy one when it
    /// has none, and what a C-API caller calls (NULL when there is no form): what the runtime
    /// publishes and C-API importers are checked against.
    pub decl: ApiDecl,
    /// The slots' functions, in slot order: the table C-API importers get.
    pub functions: Box<[*const c_void]>,
    /// Per slot without a CPython-API form: why, for messages.
    pub missing: Vec<Option<String>>,
    /// The handlers' data; boxed, the stubs hold their addresses.
    #[allow(clippy::vec_box)]
    plans: Vec<Box<FallbackPlan>>,
}

// SAFETY: the raw pointers are process-lifetime code and plans; nothing here is tied to a thread.
unsafe impl Send for FallbackStubs {}

impl FallbackStubs {
    /// The slots' CPython-API signatures (their HPy ones where they have none), in slot order.
    pub fn signatures(&self) -> Vec<Signature> {
        self.decl.slots.iter().map(|s| s.signature.clone()).collect()
    }

    /// Makes the stubs of `decl`'s slots for a provider of `family` whose home context is `home`.
    ///
    /// # Safety
    /// `home` must be the provider's home context, live, and valid for calls unless the provider
    /// runs in CPython's debug mode.
    pub unsafe fn new(decl: &ApiDecl, family: &Family, home: *mut HPyContext) -> Result<FallbackStubs> {
        let cpython_plain = family.interpreter() == Some(Interpreter::CPython)
            && family.mode().is_some_and(|m| m != Mode::Debug)
            // SAFETY: a CPython universal or trace home context is valid for calls.
            && unsafe { plain_handles_are_objects(home) };
        let mut stubs = FallbackStubs {
            decl: ApiDecl { slots: Vec::with_capacity(decl.slots.len()), ..decl.clone() },
            functions: Box::default(),
            missing: Vec::new(),
            plans: Vec::new(),
        };
        for slot in decl.slots.iter() {
            let sig = &slot.signature;
            let (signature, function, missing) = match fallback(sig) {
                Err(why) => (sig.clone(), std::ptr::null(), Some(why.to_string())),
                Ok(form) => {
                    // Without a context a signature with a form has no handle either: only type names
                    // differ (`HPy_ssize_t` is `Py_ssize_t`), and the provider's function serves as it is.
                    let code = if is_own_fallback(sig) || !sig.takes_context() {
                        slot.function.cast_const()
                    } else if cpython_plain {
                        prepending_stub(sig, &form, slot.function, home)?
                    } else {
                        stubs.handled_stub(sig, &form, slot.function, family.entry(), home)?
                    };
                    (form, code, None)
                }
            };
            stubs.decl.slots.push(SlotDecl { name: slot.name.clone(), signature, function: function.cast_mut() });
            stubs.missing.push(missing);
        }
        stubs.functions = stubs.decl.slots.iter().map(|s| s.function.cast_const()).collect();
        Ok(stubs)
    }

    /// A stub that enters the provider's family and moves objects through its context's
    /// `ctx_FromPyObject` / `ctx_AsPyObject` (see the module docs).
    fn handled_stub(
        &mut self,
        sig: &Signature,
        form: &Signature,
        target: *mut c_void,
        entry: Entry,
        home: *mut HPyContext,
    ) -> Result<*const c_void> {
        let t = trampolines()?;
        let caller = t.caller(sig).map_err(|e| cannot(sig, e))?;
        // The HPy signature's context is parameter 0: the stub's parameter i is its parameter i + 1.
        let objects =
            sig.args.iter().skip(1).enumerate().filter(|(_, a)| **a == CType::HANDLE).map(|(i, _)| i).collect();
        let plan =
            Box::new(FallbackPlan { target, home, entry, caller, objects, returns_object: sig.returns_handle() });
        let code =
            t.intercept(form, on_fallback_call, (&*plan as *const FallbackPlan).cast()).map_err(|e| cannot(sig, e))?;
        self.plans.push(plan);
        Ok(code)
    }
}

fn cannot(sig: &Signature, e: trampolines::Error) -> Error {
    Error::new(Exception::RuntimeError, format!("cannot make a CPython-API stub for \"{sig}\": {e}"))
}

/// The prepending stub of a CPython universal or trace provider's function (see the module docs).
fn prepending_stub(
    sig: &Signature,
    form: &Signature,
    target: *mut c_void,
    home: *mut HPyContext,
) -> Result<*const c_void> {
    let args: Vec<Adjust> = sig
        .args
        .iter()
        .skip(1)
        .map(|a| if *a == CType::HANDLE { Adjust::AddUnlessZero(1) } else { Adjust::Keep })
        .collect();
    let ret = if sig.returns_handle() { Adjust::AddUnlessZero(-1) } else { Adjust::Keep };
    trampolines()?.prepend(form, target, home as u64, &args, ret).map_err(|e| cannot(sig, e))
}

/// What a handled stub needs on every call.
struct FallbackPlan {
    target: *mut c_void,
    home: *mut HPyContext,
    entry: Entry,
    /// Calls the provider's function with its HPy signature.
    caller: Caller<'static>,
    /// The stub's parameters that are objects (handles of the provider's signature).
    objects: Box<[usize]>,
    returns_object: bool,
}

/// The handler of every handled stub; `data` is its `FallbackPlan`. It runs below C frames with no
/// context of the caller's: a panic is raised in the entered context, or aborts if none is at hand.
///
/// # Safety
/// `data` is the stub's plan; the caller holds the GIL, as every C-API caller does.
unsafe fn on_fallback_call(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: `data` is this stub's plan, which lives as long as the stub.
    let plan = unsafe { &*data.cast::<FallbackPlan>() };
    let call_in = |ctx: *mut HPyContext| {
        // SAFETY: `ctx` is valid for this call (`enter` gives it).
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { fallback_call(call, plan, ctx) })) {
            // SAFETY: as above.
            unsafe { raise_or_abort(ctx, internal_error(panic.as_ref())) };
            call.set_ret(0);
        }
    };
    let waiting = std::ptr::null_mut(); // a C-API caller has no HPy context
                                        // SAFETY: `plan.home` is the provider's home context, of the family `plan.entry` is for, and
                                        // the caller holds the GIL.
    let entered = catch_unwind(AssertUnwindSafe(|| unsafe { enter(plan.entry, plan.home, waiting, call_in) }));
    if entered.is_err() {
        eprintln!("hpybridge: internal error entering a provider for a CPython-API call; aborting");
        std::process::abort();
    }
}

/// The call proper, with `ctx` a context of the provider's family valid now.
///
/// # Safety
/// As `on_fallback_call`, with `ctx` valid for the call.
unsafe fn fallback_call(call: &mut dyn Call, plan: &FallbackPlan, ctx: *mut HPyContext) {
    let n = plan.caller.params();
    let mut words = [0u64; MAX_ARGS];
    words[0] = ctx as u64;
    for (i, word) in words[1..n].iter_mut().enumerate() {
        *word = call.arg(i);
    }
    // Uninitialised: most calls open a handle or two, and this runs on every call.
    let mut opened = [const { MaybeUninit::<HPy>::uninit() }; MAX_ARGS];
    for (k, &i) in plan.objects.iter().enumerate() {
        let object = call.arg(i) as *mut cpy_PyObject;
        let h = if object.is_null() {
            HPy { _i: 0 }
        } else {
            // SAFETY: `ctx` is valid now; `object` is the caller's borrowed, live object.
            let h = unsafe { hpy!(ctx, ctx_FromPyObject, object) };
            if h.is_null() {
                // (Out of memory: an exception is set.) Undo, and fail the way C APIs fail.
                // SAFETY: the first `k` were opened above, in `ctx`.
                opened[..k].iter().for_each(|h| unsafe { close(ctx, h.assume_init()) });
                call.set_ret(0);
                return;
            }
            h
        };
        opened[k].write(h);
        words[i + 1] = h._i as u64;
    }
    // SAFETY: `target` has the caller's signature, and its context and handles are `ctx`'s.
    let result = unsafe { plan.caller.call(plan.target, &words[..n]) };
    // SAFETY: all were written above, in `ctx` (closing HPy_NULL does nothing).
    opened[..plan.objects.len()].iter().for_each(|h| unsafe { close(ctx, h.assume_init()) });
    if plan.returns_object {
        let h = HPy { _i: result as isize };
        if h.is_null() {
            call.set_ret(0); // NULL: the provider's exception is set
        } else {
            // SAFETY: `h` is a new handle of `ctx`'s, owned here: its object becomes the caller's
            // new reference, and the handle is closed.
            let object = unsafe { hpy!(ctx, ctx_AsPyObject, h) };
            // SAFETY: as above.
            unsafe { close(ctx, h) };
            call.set_ret(object as u64);
        }
    } else {
        call.set_ret(result);
    }
}
