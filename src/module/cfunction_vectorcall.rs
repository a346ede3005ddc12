//! The native call path of `CFunction` on CPython (docs/cdict.md §8): a vectorcall function of the
//! runtime's own that CPython calls directly, without HPy's `HPy_tp_call` trampoline, for calls
//! that `Implementation::call_native` takes (scalars, and handles of universal or trace providers);
//! everything else goes on to HPy's trampoline, exactly as before, so every message and every
//! marshalling rule stays the one HPy's path gives.
//!
//! HPy 0.9 on CPython keeps the vectorcall function of an `HPy_tp_call` type in each instance, at
//! the type's `tp_vectorcall_offset`, and `HPy_SetCallFunction` replaces it for one instance:
//! cfunction.c does that for each new instance when `enable` says so. That is only when the
//! runtime's context is CPython's universal or trace context (handles are objects' addresses plus
//! one, the context is valid at any time) and CPython's layout passed the checks of `hpy::cpython`;
//! the offset of an instance's data from its object is learnt from the first instance and checked
//! for every later one (an instance that differs keeps HPy's path). Debug-mode runtimes and PyPy
//! never enable it.
//!
//! An instance whose (first) implementation has only `double`, integer, `bool` and `HPy`
//! parameters and such a result or `void` (`double ([HPyContext *,] double, ...)`, `HPy
//! (HPyContext *, HPy)`, `long (long)`, `void (HPyContext *, int, bool)`, ...), callable at the
//! provider's home context, gets an object-call stub instead (`Implementation::object_call`, made
//! once per implementation by the trampolines' dynasm backend): it checks the call's shape, the
//! `double` arguments' exact `float` type, the integer ones' exact `int` type, one digit and range
//! (where `hpy::cpython` found CPython's `int` layout), the `bool` ones' identity, calls the C
//! function directly and makes its result with CPython's own functions, and sends every call it
//! does not take on: to `hpybridge_cfunction_vectorcall` when it has integer parameters (larger
//! integers), else to HPy's trampoline, as `call_native` here would. The stub is generated code: it
//! cannot panic, and raises nothing itself but through `hpybridge_cfunction_null_result` (an
//! exception it reports was set by the provider or a boxing function).

use crate::cdict::function::CFunction;
use crate::cdict::implementation::{null_without_exception, Native as Outcome};
use crate::crossing::family::{Family, Interpreter, Mode};
use crate::hpy::boundary::boundary;
use crate::hpy::cpython::{cpython, CPython, VECTORCALL_ARGUMENTS_OFFSET as ARGUMENTS_OFFSET};
use crate::hpy::error::{Error, Result};
use hpy_sys::{cpy_PyObject, HPy, HPyContext};
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

/// HPy's vectorcall trampoline of the `HPy_tp_call` slot: where calls go that the native path
/// does not take.
type Vectorcall =
    unsafe extern "C" fn(*mut cpy_PyObject, *const *mut cpy_PyObject, usize, *mut cpy_PyObject) -> *mut cpy_PyObject;

/// What the native path needs, fixed by the first instance.
struct Native {
    /// The runtime's context: CPython's universal or trace context (valid at any time).
    ctx: *mut HPyContext,
    api: &'static CPython,
    /// Byte offset of an instance's data (`CFunctionObject`) from its object.
    data_at: usize,
    fallback: Vectorcall,
}

// SAFETY: process-lifetime pointers (a context, functions), only read.
unsafe impl Send for Native {}
// SAFETY: as above.
unsafe impl Sync for Native {}

static NATIVE: OnceLock<Option<Native>> = OnceLock::new();

/// `NATIVE`'s value once it is `Some`, for the call: one load instead of `OnceLock::get`. Stored
/// by `installable` before cfunction.c may install any native function.
static INSTALLED: AtomicPtr<Native> = AtomicPtr::new(std::ptr::null_mut());

/// Whether the new instance `h` (in the runtime's context `ctx`), whose data is at `data`, gets a
/// native vectorcall function: 1 if so, stored in `*vectorcall` (cfunction.c then installs it with
/// `HPy_SetCallFunction`): the implementation's object-call stub or `hpybridge_cfunction_vectorcall`;
/// 0 if it keeps HPy's. `fallback` is HPy's trampoline of the call slot.
///
/// # Safety
/// Called by cfunction.c with the context of the call, a live new instance and its data, whose
/// `CFunction` is set, and a writable `vectorcall`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_native_call(
    ctx: *mut HPyContext,
    h: HPy,
    data: *const c_void,
    fallback: Vectorcall,
    vectorcall: *mut Option<Vectorcall>,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        boundary(ctx, || {
            let chosen = enable(ctx, h, data, fallback);
            *vectorcall = chosen;
            Ok(c_int::from(chosen.is_some()))
        })
    }
}

/// # Safety
/// As `hpybridge_cfunction_native_call`.
unsafe fn enable(ctx: *mut HPyContext, h: HPy, data: *const c_void, fallback: Vectorcall) -> Option<Vectorcall> {
    // SAFETY: the caller's contract.
    if !unsafe { installable(ctx, h, data, fallback) } {
        return None;
    }
    let native = NATIVE.get().and_then(Option::as_ref)?;
    // SAFETY: the instance's data starts with its `CFunction`, set before this is called, which
    // lives as long as the instance; `ctx` is valid now.
    let stub = unsafe {
        let f = &**data.cast::<*const CFunction>();
        let null_result = hpybridge_cfunction_null_result as *const c_void;
        let general = (hpybridge_cfunction_vectorcall as *const c_void, fallback as *const c_void);
        f.implementations[0].1.object_call(ctx, native.api, null_result, general)
    };
    let Some(code) = stub else { return Some(hpybridge_cfunction_vectorcall) };
    // SAFETY: an object-call stub has the vectorcall convention (`trampolines::ObjectCall`).
    Some(unsafe { std::mem::transmute::<*const c_void, Vectorcall>(code) })
}

/// Whether the native path may serve the new instance (the checks of the module's comment).
///
/// # Safety
/// As `hpybridge_cfunction_native_call`.
unsafe fn installable(ctx: *mut HPyContext, h: HPy, data: *const c_void, fallback: Vectorcall) -> bool {
    let native = NATIVE.get_or_init(|| {
        // SAFETY: `ctx` is valid for the current call.
        let family = unsafe { Family::of(ctx) };
        let stable =
            matches!(family, Family::Known { mode: Mode::Universal | Mode::Trace, interpreter: Interpreter::CPython });
        let api = cpython().filter(|_| stable)?;
        // A universal or trace handle is the object's address plus one.
        let object = (h._i as usize).checked_sub(1)?;
        let data_at = (data as usize).checked_sub(object)?;
        Some(Native { ctx, api, data_at, fallback })
    });
    let Some(native) = native else { return false };
    INSTALLED.store((native as *const Native).cast_mut(), Ordering::Release);
    native.ctx == ctx
        && native.fallback as usize == fallback as usize
        && (h._i as usize) - 1 + native.data_at == data as usize
}

/// What an object-call stub returns for an `HPy` result NULL without an exception: NULL with the
/// `SystemError` naming the entry, as `hpybridge_cfunction_vectorcall` raises it.
///
/// # Safety
/// Called by an object-call stub, with the GIL held, with the live `CFunction` instance it serves.
unsafe extern "C" fn hpybridge_cfunction_null_result(callable: *mut cpy_PyObject) -> *mut cpy_PyObject {
    // SAFETY: set before any instance gets a stub, never changed.
    let native = unsafe { &*INSTALLED.load(Ordering::Acquire) };
    // SAFETY: as in `hpybridge_cfunction_vectorcall`.
    unsafe {
        boundary(native.ctx, || -> Result<*mut cpy_PyObject> {
            let f = &**callable.cast::<u8>().add(native.data_at).cast::<*const CFunction>();
            Err(null_without_exception(&f.implementations[0].1.entry))
        })
    }
}

/// The vectorcall function of `CFunction` instances on CPython's universal and trace runtimes.
///
/// # Safety
/// Called by CPython, with the GIL held, as a vectorcall function of a live `CFunction` instance
/// that `enable` accepted.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_vectorcall(
    callable: *mut cpy_PyObject,
    args: *const *mut cpy_PyObject,
    nargsf: usize,
    kwnames: *mut cpy_PyObject,
) -> *mut cpy_PyObject {
    // SAFETY: set (to `NATIVE`'s value) before any instance gets this function, never changed.
    let native = unsafe { &*INSTALLED.load(Ordering::Acquire) };
    // SAFETY: the runtime's context is valid at any time (a CPython universal or trace context);
    // the instance's data is at `data_at` (checked when it was installed) and lives as long as
    // the instance, which the call holds; `args` holds `nargs` live objects.
    unsafe {
        boundary(native.ctx, || -> Result<*mut cpy_PyObject> {
            let nargs = nargsf & !ARGUMENTS_OFFSET;
            if kwnames.is_null() {
                let data = *callable.cast::<u8>().add(native.data_at).cast::<*const CFunction>();
                let f = &*data;
                let args = if nargs == 0 { &[][..] } else { std::slice::from_raw_parts(args, nargs) };
                let imp = &f.implementations[0].1;
                match imp.call_native(native.api, args) {
                    Outcome::Done(result) if result.is_null() => return Err(Error::Set),
                    Outcome::Done(result) => return Ok(result),
                    Outcome::NullResult => return Err(null_without_exception(&imp.entry)),
                    Outcome::NotTaken => {}
                }
            }
            Ok((native.fallback)(callable, args, nargsf, kwnames))
        })
    }
}
