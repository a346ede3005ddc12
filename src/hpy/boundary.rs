//! The FFI boundary: every `extern "C"` entry of the runtime runs its body through [`boundary`],
//! which turns the body's `Result` into the C error value with a Python exception set, and a Rust
//! panic into an internal error (`SystemError`), so a panic never unwinds into C. The translating
//! call, which generated code enters, catches its panics itself and fails with [`call_failed`].
//!
//! The body returns before anything is raised, so whatever it held (the registry's lock above
//! all) is released before raising runs Python code.

use crate::hpy::error::{Error, Exception, Result};
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::any::Any;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use trampolines::Call;

/// What a C function of this return type returns on failure, with an exception set.
pub trait ErrorValue {
    const ERROR: Self;
}

impl ErrorValue for HPy {
    const ERROR: HPy = HPy_NULL;
}

impl ErrorValue for c_int {
    const ERROR: c_int = -1;
}

impl<T> ErrorValue for *const T {
    const ERROR: *const T = std::ptr::null();
}

impl<T> ErrorValue for *mut T {
    const ERROR: *mut T = std::ptr::null_mut();
}

/// Runs `body` for a C caller that called with `ctx`: its value, or `T::ERROR` with its error (or
/// a panic, as an internal error) raised in `ctx`.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn boundary<T: ErrorValue>(ctx: *mut HPyContext, body: impl FnOnce() -> Result<T>) -> T {
    // The body's state is dropped if it panics, and nothing of it is used afterwards.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            // SAFETY: `ctx` is valid for the current call (the caller's contract).
            unsafe { raise_or_abort(ctx, error) };
            T::ERROR
        }
        Err(panic) => {
            // SAFETY: as above.
            unsafe { raise_or_abort(ctx, internal_error(panic.as_ref())) };
            T::ERROR
        }
    }
}

/// Runs `body` for a C caller that gives no context to raise in (a type's destroy slot): a panic,
/// which nothing could report, aborts the process with `what` rather than unwind into C.
pub fn boundary_without_context(what: &str, body: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(body)) {
        eprintln!("hpybridge: {what}: {}; aborting", internal_error(panic.as_ref()));
        std::process::abort();
    }
}

/// After a panic in a call that generated code made into the runtime (a `trampolines::Handler`,
/// below C frames): raises it as an internal error in the call's context argument `ctx_arg` and
/// makes the call return 0 (`HPy_NULL` for a handle), as a failed call does.
///
/// # Safety
/// Argument `ctx_arg` of `call` must be a context valid for the call.
#[cold]
pub unsafe fn call_failed(call: &mut dyn Call, ctx_arg: usize, panic: Box<dyn Any + Send>) {
    let ctx = call.arg(ctx_arg) as *mut HPyContext;
    // SAFETY: `ctx` is valid for the call (the caller's contract).
    unsafe { raise_or_abort(ctx, internal_error(panic.as_ref())) };
    call.set_ret(0);
}

/// The error a panic becomes: a `SystemError` that names it as an internal error.
pub fn internal_error(panic: &(dyn Any + Send)) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    Error::new(Exception::SystemError, format!("hpybridge internal error (please report it): {what}"))
}

/// Raises `error` in `ctx`; a panic while doing so aborts the process, since the caller is C.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn raise_or_abort(ctx: *mut HPyContext, error: Error) {
    // SAFETY: `ctx` is valid for the current call (the caller's contract).
    if catch_unwind(AssertUnwindSafe(|| unsafe { error.raise(ctx) })).is_err() {
        eprintln!("hpybridge: panic while raising an exception; aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_values_are_what_c_callers_check() {
        assert!(<HPy as ErrorValue>::ERROR.is_null());
        assert_eq!(<c_int as ErrorValue>::ERROR, -1);
        assert!(<*const u8 as ErrorValue>::ERROR.is_null());
        assert!(<*mut u8 as ErrorValue>::ERROR.is_null());
    }

    #[test]
    fn a_body_that_succeeds_raises_nothing() {
        // SAFETY: nothing is raised, so the context is never used.
        assert_eq!(unsafe { boundary(std::ptr::null_mut(), || Ok::<c_int, Error>(7)) }, 7);
    }

    #[test]
    fn a_panic_is_an_internal_error_that_names_it() {
        let panic = catch_unwind(|| panic!("slot {} is gone", 3)).expect_err("it panicked");
        assert_eq!(
            internal_error(panic.as_ref()),
            Error::new(Exception::SystemError, "hpybridge internal error (please report it): slot 3 is gone")
        );
        let panic = catch_unwind(|| std::panic::panic_any(42)).expect_err("it panicked");
        assert_eq!(
            internal_error(panic.as_ref()),
            Error::new(
                Exception::SystemError,
                "hpybridge internal error (please report it): a panic without a message"
            )
        );
    }
}
