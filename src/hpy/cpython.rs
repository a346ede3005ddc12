//! CPython's own object API, for the native call path of `CFunction` (src/module/cfunction_vectorcall.rs,
//! docs/cdict.md §8): exact type checks, a `float`'s value and results made with CPython's own
//! functions, without HPy's trampoline and context calls. Found once with `dlsym` under CPython's
//! names (PyPy's cpyext exports `PyPy`-prefixed ones: there this is `None`, and so is it if a
//! layout check fails).
//!
//! The layout it reads (the object header's `ob_type`, a `float`'s `ob_fval`) is checked once on a
//! real `float` made by `PyFloat_FromDouble`, never assumed: a build with another header (a debug
//! build's extra fields, say) gets `None`, and calls keep HPy's path. The layout of a small `int`
//! that object-call stubs read (`ints`) is checked likewise on real `int`s; where it does not hold
//! (CPython 3.12's `lv_tag`, say) there are no stubs with integer parameters, and nothing else
//! changes.

use crate::hpy::host::symbol;
use hpy_sys::cpy_PyObject;
use std::ffi::{c_double, c_int, c_long, c_longlong, c_ulonglong, c_void, CStr};
use std::sync::OnceLock;
use trampolines::{IntLayout, ObjectCall, Part};

type Object = *mut cpy_PyObject;

/// `PY_VECTORCALL_ARGUMENTS_OFFSET`: a flag in a vectorcall's `nargsf`, not part of the count.
pub const VECTORCALL_ARGUMENTS_OFFSET: usize = 1 << (usize::BITS - 1);

/// The CPython functions and objects the native call path uses, and the layout it reads.
pub struct CPython {
    pub float_type: usize,
    pub long_type: usize,
    pub true_: Object,
    pub false_: Object,
    pub none: Object,
    float_from_double: unsafe extern "C" fn(c_double) -> Object,
    long_from_long_long: unsafe extern "C" fn(c_longlong) -> Object,
    long_from_unsigned_long_long: unsafe extern "C" fn(c_ulonglong) -> Object,
    long_as_long_long_and_overflow: unsafe extern "C" fn(Object, *mut c_int) -> c_longlong,
    bool_from_long: unsafe extern "C" fn(c_long) -> Object,
    /// `Py_NewRef`, a function since CPython 3.10: without it, no stubs with a `void` result.
    new_ref: Option<unsafe extern "C" fn(Object) -> Object>,
    err_occurred: unsafe extern "C" fn() -> Object,
    inc_ref: unsafe extern "C" fn(Object),
    dec_ref: unsafe extern "C" fn(Object),
    /// Byte offset of `ob_type` in an object, and of `ob_fval` in a `float`.
    type_at: usize,
    fval_at: usize,
    /// Where a small `int` keeps its size and digit (`int_layout`), if that held on real `int`s.
    ints: Option<IntLayout>,
}

/// CPython 3.11's `PyLongObject`: `ob_size` after the two-word header (the digit count, negative
/// for a negative value), then the 30-bit digits, of which every `int` has room for at least one
/// (`_PyLong_New`), 0 included. The object-call stubs read a small one's value as size times the
/// first digit; `int_layout` checks these numbers on real `int`s before any stub is made.
const LONG_SIZE_AT: i32 = 16;
const LONG_DIGIT_AT: i32 = 24;
const LONG_DIGIT_BITS: u32 = 30;

// SAFETY: addresses of process-lifetime objects and functions, only read.
unsafe impl Send for CPython {}
// SAFETY: as above.
unsafe impl Sync for CPython {}

static CPYTHON: OnceLock<Option<CPython>> = OnceLock::new();

/// CPython's object API, if this process is CPython and its layout is the one checked.
pub fn cpython() -> Option<&'static CPython> {
    CPYTHON.get_or_init(find).as_ref()
}

/// The function `name`, as the function pointer type `F`.
///
/// # Safety
/// `F` is an `unsafe extern "C" fn` type of the C function `name`'s signature.
unsafe fn function<F: Copy>(name: &CStr) -> Option<F> {
    let f = symbol(name)?;
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>(), "a function pointer");
    // SAFETY: the caller's contract; sizes checked.
    Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&f) })
}

fn find() -> Option<CPython> {
    // SAFETY: each symbol is CPython's C API object or function of that name, of the C type it is
    // transmuted to (`PyObject *PyFloat_FromDouble(double)`, ...).
    let api = unsafe {
        CPython {
            float_type: symbol(c"PyFloat_Type")? as usize,
            long_type: symbol(c"PyLong_Type")? as usize,
            true_: symbol(c"_Py_TrueStruct")?.cast(),
            false_: symbol(c"_Py_FalseStruct")?.cast(),
            none: symbol(c"_Py_NoneStruct")?.cast(),
            float_from_double: function(c"PyFloat_FromDouble")?,
            long_from_long_long: function(c"PyLong_FromLongLong")?,
            long_from_unsigned_long_long: function(c"PyLong_FromUnsignedLongLong")?,
            long_as_long_long_and_overflow: function(c"PyLong_AsLongLongAndOverflow")?,
            bool_from_long: function(c"PyBool_FromLong")?,
            new_ref: function(c"Py_NewRef"),
            err_occurred: function(c"PyErr_Occurred")?,
            inc_ref: function(c"Py_IncRef")?,
            dec_ref: function(c"Py_DecRef")?,
            type_at: 8,
            fval_at: 16,
            ints: None,
        }
    };
    let mut api = api.layout_holds().then_some(api)?;
    api.ints = api.int_layout();
    Some(api)
}

impl CPython {
    /// Whether a `float` made by CPython has its type and value where this module reads them.
    fn layout_holds(&self) -> bool {
        const PROBE: f64 = -1234.0625;
        // SAFETY: only called while importing the runtime or making a `CFunction`, with the GIL
        // held; the float is a new reference, released once, and at least 24 bytes long if made
        // by a CPython whose `float` has its value after a two-word header (read only if its
        // `ob_type` word, the second, is `PyFloat_Type`, which every CPython object has).
        unsafe {
            let f = (self.float_from_double)(PROBE);
            if f.is_null() {
                return false;
            }
            let holds = self.type_of(f) == self.float_type && self.float_value(f) == PROBE;
            (self.dec_ref)(f);
            holds
        }
    }

    /// The layout of a small `int` if `int`s made by `PyLong_FromLongLong` have it: values of one
    /// digit read back through `LONG_SIZE_AT` and `LONG_DIGIT_AT` (0 as the size 0, whatever its
    /// digit), and the first values past one digit have a size word other than -1, 0 and 1, so
    /// that a digit holds at most `LONG_DIGIT_BITS` bits.
    fn int_layout(&self) -> Option<IntLayout> {
        let one_digit = (1i64 << LONG_DIGIT_BITS) - 1;
        let probes = [0, 1, -1, 5, -5, 255, -256, one_digit, -one_digit, one_digit + 1, -one_digit - 1];
        for v in probes {
            // SAFETY: only called while importing the runtime or making a `CFunction`, with the
            // GIL held; the int is a new reference, released once; its size word is read only
            // if its type is `PyLong_Type` (every object has the two-word header, `layout_holds`
            // checked), and an `int` of CPython 3.11 or 3.12 is at least 28 bytes long (a header,
            // a size or tag word, one digit), so both reads stay inside it.
            let holds = unsafe {
                let obj = (self.long_from_long_long)(v);
                if obj.is_null() {
                    return None;
                }
                let at = |offset: i32| obj.cast::<u8>().offset(offset as isize);
                let holds = self.type_of(obj) == self.long_type && {
                    let size = at(LONG_SIZE_AT).cast::<isize>().read() as i64;
                    let digit = i64::from(at(LONG_DIGIT_AT).cast::<u32>().read());
                    if v.unsigned_abs() > one_digit as u64 {
                        !(-1..=1).contains(&size)
                    } else {
                        size == v.signum() && size * digit == v
                    }
                };
                (self.dec_ref)(obj);
                holds
            };
            if !holds {
                return None;
            }
        }
        Some(IntLayout {
            exact_type: self.long_type as u64,
            size_at: LONG_SIZE_AT,
            digit_at: LONG_DIGIT_AT,
            digit_bits: LONG_DIGIT_BITS,
        })
    }

    /// An object-call stub's request (`trampolines::ObjectCall`) for CPython's vectorcall, its
    /// `float`s, `int`s and `bool`s and a context whose handles are objects' addresses plus one:
    /// `double` arguments exactly of `PyFloat_Type`, their value where `layout_holds` found it,
    /// integer arguments small exact `int`s of the layout `int_layout` found (none if it found
    /// none: then the trampolines refuse integer parameters), `bool` ones `Py_False` or `Py_True`;
    /// `PyErr_Occurred` after the call; `PyFloat_FromDouble`, `PyLong_FromLongLong`,
    /// `PyLong_FromUnsignedLongLong`, `PyBool_FromLong`, `Py_NewRef(Py_None)` and `Py_DecRef`
    /// for results; `null_result` makes the error of a NULL handle result, `general` takes every
    /// other call.
    pub fn object_call(
        &self,
        target: *const c_void,
        first: Option<u64>,
        (params, ret): (Vec<Part>, Part),
        null_result: *const c_void,
        general: *const c_void,
    ) -> ObjectCall {
        ObjectCall {
            target,
            first,
            params,
            ret,
            count_mask: !(VECTORCALL_ARGUMENTS_OFFSET as u64),
            type_at: self.type_at as i32,
            exact_type: self.float_type as u64,
            value_at: self.fval_at as i32,
            ints: self.ints,
            bools: Some([self.false_ as u64, self.true_ as u64]),
            object_add: 1,
            failed: self.err_occurred as *const c_void,
            box_double: self.float_from_double as *const c_void,
            box_signed: self.long_from_long_long as *const c_void,
            box_unsigned: self.long_from_unsigned_long_long as *const c_void,
            box_bool: self.bool_from_long as *const c_void,
            box_void: self.new_ref.map_or(std::ptr::null(), |f| f as *const c_void),
            void_object: self.none as u64,
            release: self.dec_ref as *const c_void,
            null_result,
            general,
        }
    }

    /// The address of `obj`'s type.
    ///
    /// # Safety
    /// `obj` is a live object.
    #[inline]
    pub unsafe fn type_of(&self, obj: Object) -> usize {
        // SAFETY: the caller's contract; `type_at` was checked on a real object.
        unsafe { *obj.cast::<u8>().add(self.type_at).cast::<usize>() }
    }

    /// The value of a `float`, exactly of type `float`, read from the object.
    ///
    /// # Safety
    /// `obj` is a live object of type `float` (not a subclass's instance, which may be larger but
    /// starts alike: still, callers check the exact type).
    #[inline]
    pub unsafe fn float_value(&self, obj: Object) -> f64 {
        // SAFETY: the caller's contract; `fval_at` was checked on a real float.
        unsafe { *obj.cast::<u8>().add(self.fval_at).cast::<f64>() }
    }

    /// The value of an `int` that fits a `long long`, else `None` (no exception left set).
    ///
    /// # Safety
    /// The GIL is held and `obj` is a live object of type exactly `int`.
    #[inline]
    pub unsafe fn long_value(&self, obj: Object) -> Option<i64> {
        let mut overflow: c_int = 0;
        // SAFETY: the caller's contract; an exact `int` raises nothing but overflow, which this
        // reports through `overflow` without setting an exception.
        let v = unsafe { (self.long_as_long_long_and_overflow)(obj, &mut overflow) };
        (overflow == 0).then_some(v)
    }

    /// `PyErr_Occurred() != NULL`.
    ///
    /// # Safety
    /// The GIL is held.
    #[inline]
    pub unsafe fn err_occurred(&self) -> bool {
        // SAFETY: the caller's contract.
        unsafe { !(self.err_occurred)().is_null() }
    }

    /// A new reference to `obj`.
    ///
    /// # Safety
    /// The GIL is held and `obj` is a live object.
    #[inline]
    pub unsafe fn new_ref(&self, obj: Object) -> Object {
        // SAFETY: the caller's contract.
        unsafe { (self.inc_ref)(obj) };
        obj
    }

    /// Releases a reference the caller owns.
    ///
    /// # Safety
    /// The GIL is held and the caller owns a reference to `obj`.
    #[inline]
    pub unsafe fn dec_ref(&self, obj: Object) {
        // SAFETY: the caller's contract.
        unsafe { (self.dec_ref)(obj) }
    }

    /// `PyFloat_FromDouble(d)`: a new reference, or NULL with an exception set.
    ///
    /// # Safety
    /// The GIL is held.
    #[inline]
    pub unsafe fn float(&self, d: f64) -> Object {
        // SAFETY: the caller's contract.
        unsafe { (self.float_from_double)(d) }
    }

    /// `PyLong_FromLongLong(v)` or `PyLong_FromUnsignedLongLong(v)`: as `float`.
    ///
    /// # Safety
    /// The GIL is held.
    #[inline]
    pub unsafe fn int(&self, word: u64, signed: bool) -> Object {
        // SAFETY: the caller's contract.
        unsafe {
            if signed {
                (self.long_from_long_long)(word as i64)
            } else {
                (self.long_from_unsigned_long_long)(word)
            }
        }
    }
}
