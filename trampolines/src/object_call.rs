//! Object-call stubs: a function of the vectorcall convention (`obj f(obj callable, obj const
//! *args, size_t nargsf, obj kwnames)`) that calls a C function of `double`s, integers, `bool`s
//! and objects with its arguments (a `double` or integer object's value, `bool` 1 or 0, an
//! object's address adjusted) and makes its result an object, for the commonest calls a runtime
//! serves; every other call goes on, untouched, to a general function of the same convention.
//!
//! The object model is the caller's: where an object's type pointer is, which type a `double`
//! argument must have exactly, where that type's value is, how an integer object holds a small
//! value ([`IntLayout`]), which two objects are `true` and `false`, what is added to an object's
//! address to pass it (a handle that is the address plus one, say), how an error is detected, how
//! a result is boxed or released all come in the request ([`ObjectCall`]); none of it is known
//! here. The hpybridge runtime makes one per implementation of a `__cdict__` entry of such a
//! signature (`double ([HPyContext *,] double, ...)`, `long (long)`, `HPy (HPyContext *, HPy,
//! int)`, `void (bool)`, ...) on CPython, with CPython's layout checked at run time
//! (src/hpy/cpython.rs).
//!
//! The dynasm backend assembles it (`dynasm_backend::object_call_stub`): two tests and a doubled
//! (or masked) compare for the call's shape, four instructions per `double` argument (load, type
//! compare, branch, value load), two per object, eight to fifteen per integer (the type, the size
//! word's range, a narrow type's value range, then its value: the digit times the size word),
//! nine per `bool`, the call, the error check, and the result (an integer result widened from its
//! width as it is loaded: the callee leaves the upper bits undefined). libffi has no such stub
//! (`None`): the caller keeps its general function.

use crate::Error;
use std::ffi::c_void;

/// At most this many `double` parameters: the floating-point argument registers.
pub const MAX_DOUBLES: usize = 8;
/// At most this many integer-class parameters (objects, integers, `bool`s) and `first` together:
/// the integer argument registers.
pub const MAX_OBJECTS: usize = 6;

/// A parameter or the result of an object-call stub's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A C `double`: an argument must be exactly of the request's `exact_type`, and its value is
    /// passed; a result is boxed with `box_double`.
    Double,
    /// An object: an argument's address plus `object_add` is passed, whatever its type; a result
    /// is an address plus `object_add` (then an owned reference) or 0.
    Object,
    /// A C integer of `bits` bits (8, 16, 32 or 64), `signed` or not: an argument must be an
    /// integer object of the request's `ints` layout whose value the type holds, passed widened
    /// to 64 bits; a result (whose bits above `bits` the target leaves undefined) is widened and
    /// boxed with `box_signed` or `box_unsigned`.
    Int { bits: u8, signed: bool },
    /// A C `bool`: an argument must be one of the request's `bools` objects, passed as 0 or 1; a
    /// result (its low byte) is boxed with `box_bool`.
    Bool,
    /// No result (not a parameter): the stub's result is `box_void(void_object)`.
    Void,
}

impl Part {
    fn name(&self) -> String {
        match self {
            Part::Double => "double".into(),
            Part::Object => "obj".into(),
            Part::Int { bits, signed: true } => format!("int{bits}_t"),
            Part::Int { bits, signed: false } => format!("uint{bits}_t"),
            Part::Bool => "bool".into(),
            Part::Void => "void".into(),
        }
    }
}

/// How an integer object holds a small value: its type word (at the request's `type_at`) is
/// `exact_type`, the signed word at `size_at` is -1, 0 or 1, and the unsigned 32-bit digit at
/// `digit_at` is below `1 << digit_bits`; its value is the size word times the digit. Any other
/// integer (a larger one, an instance of another type) is not accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntLayout {
    pub exact_type: u64,
    pub size_at: i32,
    pub digit_at: i32,
    /// At most 32: the digit is a 32-bit word. Values of at most this many bits need no check of
    /// the C type's range.
    pub digit_bits: u32,
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
    /// flags), `kwnames` is null, and every argument is what its part takes: a `Double`
    /// argument's word at byte `type_at` is `exact_type` (it then passes the `f64` at byte
    /// `value_at`), an `Int` one is a small integer of `ints`, a `Bool` one is `bools[0]` (false)
    /// or `bools[1]` (true).
    pub count_mask: u64,
    pub type_at: i32,
    pub exact_type: u64,
    pub value_at: i32,
    /// Required by `Int` parameters; `None`: the caller's integers are not known.
    pub ints: Option<IntLayout>,
    /// Required by `Bool` parameters: the false and the true object's addresses.
    pub bools: Option<[u64; 2]>,
    /// Added to an object argument's address; subtracted from a non-null object result.
    pub object_add: i32,
    /// `void *failed(void)`: called after the target; non-null means the target failed: the
    /// stub then returns null, a non-null object result released first.
    pub failed: *const c_void,
    /// `obj box_double(double)`: makes the stub's result from a `Double` one; tail-called, as
    /// are the other boxing functions.
    pub box_double: *const c_void,
    /// `obj box_signed(int64_t)` and `obj box_unsigned(uint64_t)`: for `Int` results, widened.
    pub box_signed: *const c_void,
    pub box_unsigned: *const c_void,
    /// `obj box_bool(long)`: for a `Bool` result, 0 or 1.
    pub box_bool: *const c_void,
    /// `obj box_void(obj)`: for a `Void` result, called with `void_object` (a new reference to
    /// it, say).
    pub box_void: *const c_void,
    pub void_object: u64,
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
        let unsupported = |reason: String| {
            let first = self.first.iter().map(|_| "uint64_t".to_owned());
            let args: Vec<String> = first.chain(self.params.iter().map(Part::name)).collect();
            Error::Unsupported { signature: format!("{} ({})", self.ret.name(), args.join(", ")), reason }
        };
        let doubles = self.params.iter().filter(|p| **p == Part::Double).count();
        let words = self.params.len() - doubles + usize::from(self.first.is_some());
        if doubles > MAX_DOUBLES || words > MAX_OBJECTS {
            return Err(unsupported(format!(
                "an object-call stub passes at most {MAX_DOUBLES} doubles and {MAX_OBJECTS} objects, integers and first words"
            )));
        }
        let mut parts = self.params.iter().chain([&self.ret]);
        if let Some(p) = parts.find(|p| matches!(p, Part::Int { bits, .. } if ![8, 16, 32, 64].contains(bits))) {
            return Err(unsupported(format!("{} is not an integer of 8, 16, 32 or 64 bits", p.name())));
        }
        if self.params.contains(&Part::Void) {
            return Err(unsupported("void is a result only".into()));
        }
        let int_params = self.params.iter().any(|p| matches!(p, Part::Int { .. }));
        if int_params && !self.ints.is_some_and(|l| (1..=32).contains(&l.digit_bits)) {
            return Err(unsupported("integer parameters need an integer layout of digits of 1 to 32 bits".into()));
        }
        if self.params.contains(&Part::Bool) && self.bools.is_none() {
            return Err(unsupported("bool parameters need the false and true objects".into()));
        }
        let mut needed = vec![self.target, self.failed, self.general];
        match self.ret {
            Part::Double => needed.push(self.box_double),
            Part::Object => needed.extend([self.release, self.null_result]),
            Part::Int { signed: true, .. } => needed.push(self.box_signed),
            Part::Int { signed: false, .. } => needed.push(self.box_unsigned),
            Part::Bool => needed.push(self.box_bool),
            Part::Void => needed.push(self.box_void),
        }
        if needed.iter().any(|f| f.is_null()) {
            return Err(unsupported("a null function".into()));
        }
        Ok(())
    }

    /// The function that boxes this request's result (null for an `Object` one).
    pub fn box_result(&self) -> *const c_void {
        match self.ret {
            Part::Double => self.box_double,
            Part::Object => std::ptr::null(),
            Part::Int { signed: true, .. } => self.box_signed,
            Part::Int { signed: false, .. } => self.box_unsigned,
            Part::Bool => self.box_bool,
            Part::Void => self.box_void,
        }
    }
}
