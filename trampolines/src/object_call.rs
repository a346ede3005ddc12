//! Object-call stubs: a function of the vectorcall convention (`obj f(obj callable, obj const
//! *args, size_t nargsf, obj kwnames)`) that calls a C function of `double`s and objects with its
//! arguments (a `double` object's value, an object's address adjusted) and makes its result an
//! object, for the commonest calls a runtime serves; every other call goes on, untouched, to a
//! general function of the same convention.
//!
//! The object model is the caller's: where an object's type pointer is, which type a `double`
//! argument must have exactly, where that type's value is, what is added to an object's address
//! to pass it (a handle that is the address plus one, say), how an error is detected, how a
//! result is boxed or released all come in the request ([`ObjectCall`]); none of it is known
//! here. The hpybridge runtime makes one per implementation of a `__cdict__` entry of signature
//! `double ([HPyContext *,] double, ...)` or `HPy (HPyContext *, HPy, ...)` on CPython, with
//! CPython's layout checked at run time (src/hpy/cpython.rs).
//!
//! The dynasm backend assembles it (`dynasm_backend::object_call_stub`): two tests and a doubled
//! (or masked) compare for the call's shape, four instructions per `double` argument (load, type compare,
//! branch, value load) and two per object, the call, the error check, and the result. libffi
//! has no such stub (`None`): the caller keeps its general function.

use crate::Error;
use std::ffi::c_void;

/// At most this many `double` parameters: the floating-point argument registers.
pub const MAX_DOUBLES: usize = 8;
/// At most this many object parameters and `first` together: the integer argument registers.
pub const MAX_OBJECTS: usize = 6;

/// A parameter or the result of an object-call stub's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A C `double`: an argument must be exactly of the request's `exact_type`, and its value is
    /// passed; a result is boxed with `box_result`.
    Double,
    /// An object: an argument's address plus `object_add` is passed, whatever its type; a result
    /// is an address plus `object_add` (then an owned reference) or 0.
    Object,
}

/// What an object-call stub does. All functions are C functions (System V on x86_64) that live as
/// long as the stub may be called; those a request does not use may be null.
#[derive(Clone, Debug)]
pub struct ObjectCall {
    /// The C function: `first` (if any) then one argument per part of `params`, returning `ret`.
    pub target: *const c_void,
    /// A word passed as the target's first, integer-class, argument (a context, say).
    pub first: Option<u64>,
    pub params: Vec<Part>,
    pub ret: Part,
    /// The stub accepts a call when `nargsf & count_mask` is `params.len()` (the rest are
    /// flags), `kwnames` is null, and every `Double` argument's word at byte `type_at` is
    /// `exact_type`; it then passes the `f64` at byte `value_at` of each.
    pub count_mask: u64,
    pub type_at: i32,
    pub exact_type: u64,
    pub value_at: i32,
    /// Added to an object argument's address; subtracted from a non-null object result.
    pub object_add: i32,
    /// `void *failed(void)`: called after the target; non-null means the target failed: the
    /// stub then returns null, a non-null object result released first.
    pub failed: *const c_void,
    /// `obj box_result(double)`: makes the stub's result from a `Double` one; tail-called.
    pub box_result: *const c_void,
    /// `void release(obj)`: releases the object result of a failed call.
    pub release: *const c_void,
    /// `obj null_result(obj callable)`: what a null `Object` result of a call that did not fail
    /// becomes (an error of the caller's); tail-called.
    pub null_result: *const c_void,
    /// Where every call the stub does not accept goes, with the stub's own four arguments;
    /// tail-called.
    pub general: *const c_void,
}

impl ObjectCall {
    /// Checks what does not depend on the backend.
    pub fn check(&self) -> Result<(), Error> {
        let name = |p: &Part| if *p == Part::Double { "double" } else { "obj" };
        let unsupported = |reason: String| {
            let first = self.first.iter().map(|_| "uint64_t");
            let args: Vec<&str> = first.chain(self.params.iter().map(name)).collect();
            Error::Unsupported { signature: format!("{} ({})", name(&self.ret), args.join(", ")), reason }
        };
        let doubles = self.params.iter().filter(|p| **p == Part::Double).count();
        let words = self.params.len() - doubles + usize::from(self.first.is_some());
        if doubles > MAX_DOUBLES || words > MAX_OBJECTS {
            return Err(unsupported(format!(
                "an object-call stub passes at most {MAX_DOUBLES} doubles and {MAX_OBJECTS} objects and first words"
            )));
        }
        let mut needed = vec![self.target, self.failed, self.general];
        match self.ret {
            Part::Double => needed.push(self.box_result),
            Part::Object => needed.extend([self.release, self.null_result]),
        }
        if needed.iter().any(|f| f.is_null()) {
            return Err(unsupported("a null function".into()));
        }
        Ok(())
    }
}
