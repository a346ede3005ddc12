//! Object-call stubs: a function of the vectorcall convention (`obj f(obj callable, obj const
//! *args, size_t nargsf, obj kwnames)`) that calls a C function of `double`s with the values of
//! its `double` objects and boxes the result, for the commonest calls a runtime serves; every
//! other call goes on, untouched, to a general function of the same convention.
//!
//! The object model is the caller's: where an object's type pointer is, which type an argument
//! must have exactly, where that type's value is, how an error is detected and how a result is
//! boxed all come in the request ([`ObjectCall`]), none of it is known here. The hpybridge runtime
//! makes one per implementation of a `__cdict__` entry of signature `double ([HPyContext *,]
//! double, ...)` on CPython, with CPython's layout checked at run time (src/hpy/cpython.rs).
//!
//! The dynasm backend assembles it (`dynasm_backend::object_call_stub`): two tests and a masked
//! compare for the call's shape, three instructions per argument (load, type compare, value
//! load), the call, the error check, and a tail call of the boxing function. libffi has no
//! such stub (`None`): the caller keeps its general function.

use crate::Error;
use std::ffi::c_void;

/// At most this many `double` parameters (besides `first`): the floating-point argument registers.
pub const MAX_DOUBLES: usize = 8;

/// What an object-call stub does. All functions are C functions (System V on x86_64) that live as
/// long as the stub may be called.
#[derive(Clone, Copy, Debug)]
pub struct ObjectCall {
    /// `double target([u64 first,] double, ...)`: `doubles` parameters after `first`, if any.
    pub target: *const c_void,
    /// A word passed as the target's first, integer-class, argument (a context, say).
    pub first: Option<u64>,
    /// How many `double` parameters the target takes: the number of arguments the stub accepts.
    pub doubles: usize,
    /// The stub accepts a call when `nargsf & count_mask` is `doubles` (the rest are flags)...
    pub count_mask: u64,
    /// ... `kwnames` is null, and every argument's word at byte `type_at` is `exact_type`; it then
    /// passes the `f64` at byte `value_at` of each argument.
    pub type_at: i32,
    pub exact_type: u64,
    pub value_at: i32,
    /// `void *failed(void)`: called after the target; non-null means the target failed (the
    /// stub then returns null, its result discarded).
    pub failed: *const c_void,
    /// `obj box_result(double)`: makes the stub's result from the target's; tail-called.
    pub box_result: *const c_void,
    /// Where every call the stub does not accept goes, with the stub's own four arguments;
    /// tail-called.
    pub general: *const c_void,
}

impl ObjectCall {
    /// Checks what does not depend on the backend.
    pub fn check(&self) -> Result<(), Error> {
        let unsupported = |reason: String| {
            let first = if self.first.is_some() { "uint64_t, " } else { "" };
            let doubles = vec!["double"; self.doubles].join(", ");
            Error::Unsupported { signature: format!("double ({first}{doubles})"), reason }
        };
        if self.doubles > MAX_DOUBLES {
            return Err(unsupported(format!("an object-call stub takes at most {MAX_DOUBLES} doubles")));
        }
        let null = [self.target, self.failed, self.box_result, self.general].iter().any(|f| f.is_null());
        if null {
            return Err(unsupported("a null function".into()));
        }
        Ok(())
    }
}
