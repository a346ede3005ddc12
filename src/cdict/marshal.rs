//! Marshalling between Python values and C words (docs/cdict.md, "Marshalling"): what each C type
//! of a signature accepts from Python, and what a C result becomes.
//!
//! A word is what `trampolines::Caller` takes and returns: integers sign- or zero-extended to 64
//! bits, `double` as its bits, `float` as its bits in the low 32, pointers and handles as their
//! value. Conversions run in the runtime's own context (`ctx`), before the provider is entered:
//! they may run Python code (`__index__`, `__float__`), which must not happen inside a provider's
//! debug-mode call. What a conversion borrows (objects, buffers, copies of strings) is kept in a
//! [`Held`] until the call returns.

use crate::hpy;
use crate::hpy::error::{Error, Exception, Result};
use crate::hpy::host::{self, host, View, PYBUF_FORMAT, PYBUF_STRIDES, PYBUF_WRITABLE};
use crate::hpy::values::{close, type_name};
use capsules::signature::{CType, IntKind, Pointee, Scalar};
use hpy_sys::{cpy_PyObject, HPy, HPyContext};
use std::ffi::{c_char, CStr};
use trampolines::Value;

/// What a C type is, seen from Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Void,
    /// An integer other than `bool`, of `bytes` bytes.
    Int {
        kind: IntKind,
        bytes: usize,
        signed: bool,
    },
    Bool,
    Float,
    Double,
    /// `HPy`: the object itself.
    Handle,
    /// `PyObject *`: the object itself (borrowed in, a new reference out).
    Object,
    /// `char *`: bytes or str in, str out.
    Text,
    /// `T *` for a scalar `T` (not `char`): a buffer of `T`s, writable unless `T` is const.
    Array {
        element: Element,
        writable: bool,
    },
    /// `void *`: an address, from an int, a buffer, a ctypes or cffi pointer.
    Address {
        writable: bool,
    },
    /// `HPyContext *`: filled in by the runtime when it is the first parameter.
    Context,
    /// Any other pointer (`double **`, `HPy *`, ...): an int as a result, refused as an argument.
    OtherPointer,
}

/// The element type of an array parameter, as PEP 3118 formats describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    Int { bytes: usize, signed: bool },
    Bool,
    Float,
    Double,
}

impl Element {
    fn bytes(self) -> usize {
        match self {
            Element::Int { bytes, .. } => bytes,
            Element::Bool => 1,
            Element::Float => 4,
            Element::Double => 8,
        }
    }

    /// The format characters whose items are this type (compared by size too, so `l`, `q` and `n`
    /// all serve a 64-bit signed integer).
    fn formats(self) -> &'static str {
        match self {
            Element::Int { signed: true, .. } => "bhilqn",
            Element::Int { signed: false, .. } => "BHILQN",
            Element::Bool => "?",
            Element::Float => "f",
            Element::Double => "d",
        }
    }

    /// The format character an exporter of exactly this type would use, for messages.
    fn format(self) -> char {
        match self {
            Element::Int { bytes: 1, signed } => pick(signed, 'b', 'B'),
            Element::Int { bytes: 2, signed } => pick(signed, 'h', 'H'),
            Element::Int { bytes: 4, signed } => pick(signed, 'i', 'I'),
            Element::Int { signed, .. } => pick(signed, 'q', 'Q'),
            Element::Bool => '?',
            Element::Float => 'f',
            Element::Double => 'd',
        }
    }

    /// Whether a buffer of `format` (as its exporter wrote it) and `itemsize` holds these.
    fn matches(self, format: &str, itemsize: isize) -> bool {
        // Native byte order only: '@' (native), '=' and the explicit order of this machine.
        let native = if cfg!(target_endian = "little") { '<' } else { '>' };
        let code = format.strip_prefix(['@', '=', native]).unwrap_or(format);
        let mut chars = code.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.formats().contains(c) && itemsize == self.bytes() as isize,
            _ => false,
        }
    }
}

fn pick<T>(signed: bool, yes: T, no: T) -> T {
    if signed {
        yes
    } else {
        no
    }
}

impl Kind {
    pub fn of(ty: &CType) -> Kind {
        let scalar = |s: Scalar| match s {
            Scalar::Int(IntKind::Bool) => Kind::Bool,
            Scalar::Int(kind) => match Value::of(ty) {
                Some(Value::Int { bytes, signed }) => Kind::Int { kind, bytes, signed },
                _ => unreachable!("an integer type is an integer value"),
            },
            Scalar::Float => Kind::Float,
            Scalar::Double => Kind::Double,
            Scalar::Handle => Kind::Handle,
        };
        let writable = !ty.const_target();
        match *ty {
            CType::Void => Kind::Void,
            CType::Value(s) => scalar(s),
            CType::Pointer { target, depth, .. } if depth.get() == 1 => match target {
                Pointee::Context => Kind::Context,
                Pointee::PyObject => Kind::Object,
                Pointee::Void => Kind::Address { writable },
                Pointee::Scalar(Scalar::Int(IntKind::Char)) => Kind::Text,
                Pointee::Scalar(Scalar::Handle) => Kind::OtherPointer,
                Pointee::Scalar(s) => {
                    let element = match s {
                        Scalar::Int(IntKind::Bool) => Element::Bool,
                        Scalar::Float => Element::Float,
                        Scalar::Double => Element::Double,
                        _ => match Value::of(&CType::Value(s)) {
                            Some(Value::Int { bytes, signed }) => Element::Int { bytes, signed },
                            _ => unreachable!("an integer type is an integer value"),
                        },
                    };
                    Kind::Array { element, writable }
                }
            },
            CType::Pointer { .. } => Kind::OtherPointer,
        }
    }

    /// Why an argument of this kind cannot come from Python, if it cannot.
    pub fn refused(self) -> Option<&'static str> {
        match self {
            Kind::Context => Some("an HPyContext * is only filled in as the first parameter"),
            Kind::OtherPointer => Some("pointers to pointers and to handles cannot be passed from Python"),
            Kind::Void => Some("void is no argument"),
            _ => None,
        }
    }
}

/// What converted arguments borrow until the call returns: references to objects (released with
/// the host's `Py_DecRef`), buffer views, and NUL-terminated copies of strings. Released on drop,
/// which must happen with the GIL held (the call's own Rust frame).
#[derive(Default)]
pub struct Held {
    objects: Vec<*mut cpy_PyObject>,
    // Boxed: the exporter may point into a view (its shape and strides) until it is released.
    #[allow(clippy::vec_box)]
    views: Vec<Box<View>>,
    texts: Vec<Vec<u8>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(host) = host() else { return };
        for view in self.views.iter_mut() {
            // SAFETY: each view was filled by a successful `get_buffer` and is released once, under
            // the GIL the call holds.
            unsafe { host.release(view) };
        }
        for &obj in self.objects.iter() {
            // SAFETY: each is a reference `ctx_AsPyObject` gave us, released once.
            unsafe { host.dec_ref(obj) };
        }
    }
}

/// `h`'s C word as a `kind` argument; `what` names the argument for messages
/// (`geometry.norm() argument 1 (double)`). `Error::Raise` if the value does not fit the type
/// (nothing then stays borrowed for it); `Error::Set` if Python code it ran raised.
///
/// # Safety
/// `ctx` must be valid for the current call and `h` a live handle of it; `held` outlives the use
/// of the word.
pub unsafe fn to_c(
    ctx: *mut HPyContext,
    h: HPy,
    kind: Kind,
    held: &mut Held,
    what: &dyn Fn() -> String,
) -> Result<u64> {
    // SAFETY: the caller's contract, for every helper below.
    unsafe {
        match kind {
            Kind::Int { kind, bytes, signed } => {
                let v = int_value(ctx, h, what, "an int")?;
                let (min, max) = range(bytes, signed);
                match v {
                    Some(v) if (min..=max).contains(&v) => Ok(v as u64),
                    _ => {
                        let v = v.map_or_else(|| "the int".to_owned(), |v| v.to_string());
                        Err(Error::new(
                            Exception::OverflowError,
                            format!("{}: {v} is out of range for {} ({min} to {max})", what(), kind.name()),
                        ))
                    }
                }
            }
            Kind::Bool => {
                if hpy!(ctx, ctx_Is, h, (*ctx).h_True) != 0 {
                    return Ok(1);
                }
                if hpy!(ctx, ctx_Is, h, (*ctx).h_False) != 0 {
                    return Ok(0);
                }
                match int_value(ctx, h, what, "a bool")? {
                    Some(v @ (0 | 1)) => Ok(v as u64),
                    v => {
                        let v = v.map_or_else(|| "an int beyond 64 bits".to_owned(), |v| v.to_string());
                        Err(Error::new(
                            Exception::ValueError,
                            format!("{}: expected True, False, 0 or 1, got {v}", what()),
                        ))
                    }
                }
            }
            Kind::Double => Ok(double_value(ctx, h, what)?.to_bits()),
            Kind::Float => {
                let d = double_value(ctx, h, what)?;
                let f = d as f32;
                if f.is_infinite() && d.is_finite() {
                    return Err(Error::new(
                        Exception::OverflowError,
                        format!("{}: {d:?} is out of range for float", what()),
                    ));
                }
                Ok(u64::from(f.to_bits()))
            }
            Kind::Handle => Ok(h._i as u64),
            Kind::Object => {
                if host().is_none() {
                    return Err(no_host(what));
                }
                let obj = hpy!(ctx, ctx_AsPyObject, h);
                if obj.is_null() {
                    return Err(Error::Set);
                }
                held.objects.push(obj);
                Ok(obj as u64)
            }
            Kind::Text => {
                if is_none(ctx, h) {
                    return Ok(0);
                }
                let bytes = if hpy!(ctx, ctx_Bytes_Check, h) != 0 {
                    let data = hpy!(ctx, ctx_Bytes_AsString, h);
                    let size = hpy!(ctx, ctx_Bytes_Size, h);
                    if data.is_null() || size < 0 {
                        return Err(Error::Set);
                    }
                    std::slice::from_raw_parts(data.cast::<u8>(), size as usize)
                } else if hpy!(ctx, ctx_Unicode_Check, h) != 0 {
                    let mut size = 0;
                    let data = hpy!(ctx, ctx_Unicode_AsUTF8AndSize, h, &mut size);
                    if data.is_null() {
                        return Err(Error::Set);
                    }
                    std::slice::from_raw_parts(data.cast::<u8>(), size as usize)
                } else {
                    return Err(expected(ctx, h, what, "bytes, a str or None"));
                };
                if bytes.contains(&0) {
                    return Err(Error::new(Exception::ValueError, format!("{}: embedded null byte", what())));
                }
                // A copy: the provider may write through a `char *`, and the object stays immutable.
                let mut text = Vec::with_capacity(bytes.len() + 1);
                text.extend_from_slice(bytes);
                text.push(0);
                let word = text.as_ptr() as u64;
                held.texts.push(text);
                Ok(word)
            }
            Kind::Array { element, writable } => {
                if is_none(ctx, h) {
                    return Ok(0);
                }
                buffer(ctx, h, Some(element), writable, held, what)
            }
            Kind::Address { writable } => {
                if is_none(ctx, h) {
                    return Ok(0);
                }
                if hpy!(ctx, ctx_TypeCheck, h, (*ctx).h_LongType) != 0 {
                    let v = int_value(ctx, h, what, "an int")?;
                    return v.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
                        let v = v.map_or_else(|| "the int".to_owned(), |v| v.to_string());
                        Error::new(Exception::OverflowError, format!("{}: {v} is out of range for an address", what()))
                    });
                }
                if let Some(address) = foreign_address(ctx, h)? {
                    return Ok(address);
                }
                buffer(ctx, h, None, writable, held, what)
            }
            Kind::Context | Kind::OtherPointer | Kind::Void => Err(Error::new(
                Exception::TypeError,
                format!("{}: {}", what(), kind.refused().unwrap_or("not an argument")),
            )),
        }
    }
}

/// The smallest and largest value of an integer type.
fn range(bytes: usize, signed: bool) -> (i128, i128) {
    let bits = 8 * bytes as u32;
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// `h` as an integer through `__index__`, as CPython's own C functions take integers; `None` for
/// values beyond 64 bits. `expected` says what was expected in the `TypeError`.
///
/// # Safety
/// As `to_c`.
unsafe fn int_value(ctx: *mut HPyContext, h: HPy, what: &dyn Fn() -> String, expected_: &str) -> Result<Option<i128>> {
    // SAFETY: the caller's contract; `index` is closed once.
    unsafe {
        let v = hpy!(ctx, ctx_Long_AsInt64_t, h);
        if v != -1 || hpy!(ctx, ctx_Err_Occurred) == 0 {
            return Ok(Some(i128::from(v)));
        }
        if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_TypeError) != 0 {
            hpy!(ctx, ctx_Err_Clear);
            return Err(expected(ctx, h, what, &format!("{expected_} (or an object with __index__)")));
        }
        if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_OverflowError) == 0 {
            return Err(Error::Set);
        }
        hpy!(ctx, ctx_Err_Clear);
        let index = hpy!(ctx, ctx_Index, h);
        if index.is_null() {
            return Err(Error::Set);
        }
        let u = hpy!(ctx, ctx_Long_AsUInt64_t, index);
        let failed = u == u64::MAX && hpy!(ctx, ctx_Err_Occurred) != 0;
        close(ctx, index);
        if failed {
            hpy!(ctx, ctx_Err_Clear);
            return Ok(None);
        }
        Ok(Some(i128::from(u)))
    }
}

/// `h` as a C double, through `__float__` or `__index__` as CPython's `PyFloat_AsDouble` takes it
/// (PyPy's takes `__float__` only: `__index__` is tried here after it, on both).
///
/// # Safety
/// As `to_c`.
unsafe fn double_value(ctx: *mut HPyContext, h: HPy, what: &dyn Fn() -> String) -> Result<f64> {
    let expected_float = "a float (or an object with __float__ or __index__)";
    // SAFETY: the caller's contract; `index` is closed once.
    unsafe {
        let d = hpy!(ctx, ctx_Float_AsDouble, h);
        if d != -1.0 || hpy!(ctx, ctx_Err_Occurred) == 0 {
            return Ok(d);
        }
        let overflow = |ctx: *mut HPyContext| {
            hpy!(ctx, ctx_Err_Clear);
            Error::new(Exception::OverflowError, format!("{}: int too large to convert to a double", what()))
        };
        if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_OverflowError) != 0 {
            return Err(overflow(ctx));
        }
        if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_TypeError) == 0 {
            return Err(Error::Set);
        }
        hpy!(ctx, ctx_Err_Clear);
        let index = hpy!(ctx, ctx_Index, h);
        if index.is_null() {
            if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_TypeError) == 0 {
                return Err(Error::Set);
            }
            hpy!(ctx, ctx_Err_Clear);
            return Err(expected(ctx, h, what, expected_float));
        }
        let d = hpy!(ctx, ctx_Long_AsDouble, index);
        close(ctx, index);
        if d == -1.0 && hpy!(ctx, ctx_Err_Occurred) != 0 {
            if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_OverflowError) != 0 {
                return Err(overflow(ctx));
            }
            return Err(Error::Set);
        }
        Ok(d)
    }
}

/// A `TypeError`: `<what>: expected <expected>, got <type of h>`.
///
/// # Safety
/// As `to_c`.
unsafe fn expected(ctx: *mut HPyContext, h: HPy, what: &dyn Fn() -> String, expected: &str) -> Error {
    // SAFETY: the caller's contract.
    let found = unsafe { type_name(ctx, h) };
    Error::new(Exception::TypeError, format!("{}: expected {expected}, got {found}", what()))
}

fn no_host(what: &dyn Fn() -> String) -> Error {
    Error::new(Exception::TypeError, format!("{}: this interpreter has no C API to pass objects or buffers", what()))
}

/// # Safety
/// As `to_c`.
unsafe fn is_none(ctx: *mut HPyContext, h: HPy) -> bool {
    // SAFETY: the caller's contract; `h_None` is a borrowed handle of `ctx`.
    unsafe { hpy!(ctx, ctx_Is, h, (*ctx).h_None) != 0 }
}

/// The address a ctypes or cffi pointer holds, if `h` is one (`hpybridge.cdict._foreign_address`,
/// which looks only at modules already imported).
///
/// # Safety
/// As `to_c`.
unsafe fn foreign_address(ctx: *mut HPyContext, h: HPy) -> Result<Option<u64>> {
    // SAFETY: the caller's contract; every handle made here is closed once.
    unsafe {
        let module = hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.cdict".as_ptr());
        if module.is_null() {
            return Err(Error::Set);
        }
        let f = hpy!(ctx, ctx_GetAttr_s, module, c"_foreign_address".as_ptr());
        close(ctx, module);
        if f.is_null() {
            return Err(Error::Set);
        }
        let mut items = [h];
        let args = hpy!(ctx, ctx_Tuple_FromArray, items.as_mut_ptr(), 1);
        let result = if args.is_null() { args } else { hpy!(ctx, ctx_CallTupleDict, f, args, HPy { _i: 0 }) };
        close(ctx, args);
        close(ctx, f);
        if result.is_null() {
            return Err(Error::Set);
        }
        let address = if is_none(ctx, result) {
            None
        } else {
            let u = hpy!(ctx, ctx_Long_AsUInt64_t, result);
            if u == u64::MAX && hpy!(ctx, ctx_Err_Occurred) != 0 {
                close(ctx, result);
                return Err(Error::Set);
            }
            Some(u)
        };
        close(ctx, result);
        Ok(address)
    }
}

/// The address of `h`'s buffer: C-contiguous, writable if `writable`, of `element`s if given;
/// the view stays in `held` until the call returns.
///
/// # Safety
/// As `to_c`.
unsafe fn buffer(
    ctx: *mut HPyContext,
    h: HPy,
    element: Option<Element>,
    writable: bool,
    held: &mut Held,
    what: &dyn Fn() -> String,
) -> Result<u64> {
    let Some(host) = host() else { return Err(no_host(what)) };
    let want = || match element {
        Some(e) => format!(
            "{} C-contiguous buffer of {} (format '{}', itemsize {}) or None",
            if writable { "a writable," } else { "a" },
            e.describe(),
            e.format(),
            e.bytes(),
        ),
        None => "an int address, None, a buffer, a ctypes pointer or a cffi pointer".to_owned(),
    };
    // SAFETY: the caller's contract: `ctx` is valid and `h` lives in it; we hold the GIL. `obj` is
    // a reference of ours, released once; the view is released once unless it is kept in `held`.
    unsafe {
        let obj = hpy!(ctx, ctx_AsPyObject, h);
        if obj.is_null() {
            return Err(Error::Set);
        }
        let mut view = View::zeroed();
        let flags = PYBUF_STRIDES | PYBUF_FORMAT | if writable { PYBUF_WRITABLE } else { 0 };
        if host.get_buffer(obj, &mut view, flags) < 0 {
            // Exporters raise TypeError, BufferError or ValueError: the message says what was wanted.
            hpy!(ctx, ctx_Err_Clear);
            let read_only = writable && {
                let mut probe = View::zeroed();
                let ok = host.get_buffer(obj, &mut probe, PYBUF_STRIDES | PYBUF_FORMAT) == 0;
                if ok {
                    host.release(&mut probe);
                } else {
                    hpy!(ctx, ctx_Err_Clear);
                }
                ok
            };
            host.dec_ref(obj);
            if read_only {
                return Err(Error::new(
                    Exception::TypeError,
                    format!(
                        "{}: expected {}, got a read-only {} (the parameter is not const)",
                        what(),
                        want(),
                        type_name(ctx, h)
                    ),
                ));
            }
            return Err(expected(ctx, h, what, &want()));
        }
        host.dec_ref(obj);
        let head = view.head();
        let problem = if !c_contiguous(head) {
            Some(Error::new(
                Exception::ValueError,
                format!("{}: expected {}, got a buffer that is not C-contiguous", what(), want()),
            ))
        } else {
            element.filter(|e| !e.matches(&host::format(head), head.itemsize)).map(|_| {
                Error::new(
                    Exception::TypeError,
                    format!(
                        "{}: expected {}, got a buffer of format '{}' with itemsize {}",
                        what(),
                        want(),
                        host::format(head),
                        head.itemsize
                    ),
                )
            })
        };
        if let Some(problem) = problem {
            host.release(&mut view);
            return Err(problem);
        }
        let address = head.buf as u64;
        held.views.push(view);
        Ok(address)
    }
}

impl Element {
    fn describe(self) -> &'static str {
        match self {
            Element::Int { bytes: 1, signed } => pick(signed, "8-bit signed integers", "8-bit unsigned integers"),
            Element::Int { bytes: 2, signed } => pick(signed, "16-bit signed integers", "16-bit unsigned integers"),
            Element::Int { bytes: 4, signed } => pick(signed, "32-bit signed integers", "32-bit unsigned integers"),
            Element::Int { signed, .. } => pick(signed, "64-bit signed integers", "64-bit unsigned integers"),
            Element::Bool => "bool",
            Element::Float => "float",
            Element::Double => "double",
        }
    }
}

/// Whether a view's items are laid out in C order without gaps (strides as `PYBUF_STRIDES` gives
/// them; NULL strides mean C order).
fn c_contiguous(head: &host::BufferHead) -> bool {
    if head.ndim <= 0 || head.strides.is_null() || head.shape.is_null() {
        return true;
    }
    let ndim = head.ndim as usize;
    // SAFETY: an exporter that fills strides gives `ndim` entries of shape and strides, live as
    // long as the view.
    let (shape, strides) =
        unsafe { (std::slice::from_raw_parts(head.shape, ndim), std::slice::from_raw_parts(head.strides, ndim)) };
    if shape.contains(&0) {
        return true;
    }
    let mut step = head.itemsize;
    for (&n, &stride) in shape.iter().zip(strides).rev() {
        if n > 1 && stride != step {
            return false;
        }
        step *= n;
    }
    true
}

/// A C result as a new handle of `ctx`: scalars to int, float or bool, `void` to None, `char *` to
/// str (NULL: None), other pointers to int. `HPy` and `PyObject *` results are the caller's
/// business (they own something).
///
/// # Safety
/// `ctx` must be valid for the current call; a `Text` word must be NULL or a NUL-terminated string.
pub unsafe fn from_c(ctx: *mut HPyContext, kind: Kind, word: u64) -> Result<HPy> {
    // SAFETY: the caller's contract; `h_None` is a borrowed handle of `ctx`.
    let h = unsafe {
        match kind {
            Kind::Void => hpy!(ctx, ctx_Dup, (*ctx).h_None),
            Kind::Int { signed: true, .. } => hpy!(ctx, ctx_Long_FromInt64_t, word as i64),
            Kind::Int { signed: false, .. } => hpy!(ctx, ctx_Long_FromUInt64_t, word),
            Kind::Bool => hpy!(ctx, ctx_Bool_FromBool, word & 0xff != 0),
            Kind::Float => hpy!(ctx, ctx_Float_FromDouble, f64::from(f32::from_bits(word as u32))),
            Kind::Double => hpy!(ctx, ctx_Float_FromDouble, f64::from_bits(word)),
            Kind::Text if word == 0 => hpy!(ctx, ctx_Dup, (*ctx).h_None),
            Kind::Text => {
                let text = CStr::from_ptr(word as *const c_char);
                hpy!(ctx, ctx_Unicode_FromString, text.as_ptr())
            }
            Kind::Array { .. } | Kind::Address { .. } | Kind::Context | Kind::OtherPointer | Kind::Object => {
                hpy!(ctx, ctx_Long_FromUInt64_t, word)
            }
            Kind::Handle => HPy { _i: word as isize },
        }
    };
    crate::hpy::error::check(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capsules::signature::Signature;

    fn kind(text: &str) -> Kind {
        Kind::of(&Signature::parse(&format!("void ({text})")).expect("a valid type").args[0])
    }

    #[test]
    fn kinds_of_c_types() {
        assert_eq!(kind("unsigned char"), Kind::Int { kind: IntKind::UnsignedChar, bytes: 1, signed: false });
        assert_eq!(kind("HPy_ssize_t"), Kind::Int { kind: IntKind::HPySsizeT, bytes: 8, signed: true });
        assert_eq!(kind("_Bool"), Kind::Bool);
        assert_eq!(kind("const char *"), Kind::Text);
        assert_eq!(kind("double *"), Kind::Array { element: Element::Double, writable: true });
        assert_eq!(kind("const double *"), Kind::Array { element: Element::Double, writable: false });
        assert_eq!(kind("double *const"), Kind::Array { element: Element::Double, writable: true });
        assert_eq!(
            kind("unsigned char *"),
            Kind::Array { element: Element::Int { bytes: 1, signed: false }, writable: true }
        );
        assert_eq!(kind("const void *"), Kind::Address { writable: false });
        assert_eq!(kind("PyObject *"), Kind::Object);
        assert_eq!(kind("HPyContext *"), Kind::Context);
        for other in ["double **", "HPy *", "HPyContext **", "char **"] {
            assert_eq!(kind(other), Kind::OtherPointer, "{other}");
        }
    }

    #[test]
    fn formats_by_class_and_size() {
        let long = Element::Int { bytes: 8, signed: true };
        for f in ["l", "q", "n", "@l", "=q", "<q"] {
            assert!(long.matches(f, 8), "{f}");
        }
        assert!(!long.matches("l", 4), "itemsize is always checked");
        assert!(!long.matches("Q", 8) && !long.matches("d", 8) && !long.matches(">q", 8) && !long.matches("2q", 16));
        assert!(
            Element::Double.matches("d", 8) && Element::Double.matches("<d", 8) && !Element::Double.matches("f", 4)
        );
        assert!(Element::Bool.matches("?", 1) && !Element::Bool.matches("B", 1));
        assert!(Element::Int { bytes: 1, signed: false }.matches("B", 1));
    }

    #[test]
    fn ranges() {
        assert_eq!(range(1, false), (0, 255));
        assert_eq!(range(1, true), (-128, 127));
        assert_eq!(range(8, false), (0, u64::MAX as i128));
        assert_eq!(range(8, true), (i64::MIN as i128, i64::MAX as i128));
    }
}
