//! Python values from Rust: strings, attributes, type names, and the dicts and lists the
//! introspection functions return. Every function takes the context it is called in.

use crate::hpy;
use crate::hpy::error::{check, Error, Exception, Result};
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::{CStr, CString};

/// A new `str` handle.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn unicode(ctx: *mut HPyContext, s: &str) -> Result<HPy> {
    let c = CString::new(s).map_err(|_| Error::new(Exception::ValueError, "string with an embedded NUL byte"))?;
    // SAFETY: `ctx` is valid for the current call; `c` outlives the call.
    check(unsafe { hpy!(ctx, ctx_Unicode_FromString, c.as_ptr()) })
}

/// Closes `h` unless it is `HPy_NULL`.
///
/// # Safety
/// `ctx` must be valid for the current call and own `h`.
pub unsafe fn close(ctx: *mut HPyContext, h: HPy) {
    if !h.is_null() {
        // SAFETY: `ctx` is valid for the current call and owns `h`.
        unsafe { hpy!(ctx, ctx_Close, h) };
    }
}

/// The text of a `str` handle, or a `TypeError` naming `what`.
///
/// # Safety
/// `ctx` must be valid for the current call; `h` a live handle in it.
pub unsafe fn str_arg(ctx: *mut HPyContext, h: HPy, what: &str) -> Result<String> {
    // SAFETY: `ctx` is valid for the current call and `h` lives in it; the UTF-8 buffer HPy returns
    // holds `size` bytes and lives as long as `h`, which outlives the copy made here.
    unsafe {
        if hpy!(ctx, ctx_Unicode_Check, h) == 0 {
            return Err(Error::new(Exception::TypeError, format!("{what}: expected a str")));
        }
        let mut size: hpy_sys::HPy_ssize_t = 0;
        let data = hpy!(ctx, ctx_Unicode_AsUTF8AndSize, h, &mut size);
        if data.is_null() {
            return Err(Error::Set);
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// The value of an `int` handle, or a `TypeError` naming `what` (an `OverflowError` if it does not
/// fit an `i64`).
///
/// # Safety
/// `ctx` must be valid for the current call; `h` a live handle in it.
pub unsafe fn int_arg(ctx: *mut HPyContext, h: HPy, what: &str) -> Result<i64> {
    // SAFETY: `ctx` is valid for the current call and `h` lives in it.
    unsafe {
        if hpy!(ctx, ctx_TypeCheck, h, (*ctx).h_LongType) == 0 {
            return Err(Error::new(Exception::TypeError, format!("{what}: expected an int")));
        }
        let v = hpy!(ctx, ctx_Long_AsInt64_t, h);
        if v == -1 && hpy!(ctx, ctx_Err_Occurred) != 0 {
            return Err(Error::Set);
        }
        Ok(v)
    }
}

/// The items of a tuple or list handle (new handles, which the caller closes), or a `TypeError`
/// naming `what`.
///
/// # Safety
/// `ctx` must be valid for the current call; `h` a live handle in it.
pub unsafe fn items(ctx: *mut HPyContext, h: HPy, what: &str) -> Result<Vec<HPy>> {
    // SAFETY: `ctx` is valid for the current call and `h` lives in it; each item is a new handle.
    unsafe {
        if hpy!(ctx, ctx_Tuple_Check, h) == 0 && hpy!(ctx, ctx_List_Check, h) == 0 {
            return Err(Error::new(Exception::TypeError, format!("{what}: expected a tuple or a list")));
        }
        let n = hpy!(ctx, ctx_Length, h);
        if n < 0 {
            return Err(Error::Set);
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let item = hpy!(ctx, ctx_GetItem_i, h, i);
            if item.is_null() {
                out.iter().for_each(|&h| close(ctx, h));
                return Err(Error::Set);
            }
            out.push(item);
        }
        Ok(out)
    }
}

/// `str(getattr(obj, name))` if that attribute is a `str`; `None` (no exception left set) if not.
///
/// # Safety
/// `ctx` must be valid for the current call; `obj` a live handle in it.
pub unsafe fn str_attr(ctx: *mut HPyContext, obj: HPy, name: &CStr) -> Option<String> {
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it; `value` is closed once.
    unsafe {
        let value = hpy!(ctx, ctx_GetAttr_s, obj, name.as_ptr());
        if value.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        }
        let text = str_arg(ctx, value, "attribute");
        close(ctx, value);
        if text == Err(Error::Set) {
            hpy!(ctx, ctx_Err_Clear);
        }
        text.ok()
    }
}

/// The name of `obj`'s type (`int`, `PyCapsule`, ...), for messages.
///
/// # Safety
/// `ctx` must be valid for the current call; `obj` a live handle in it.
pub unsafe fn type_name(ctx: *mut HPyContext, obj: HPy) -> String {
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it; `ty` is closed once.
    let name = unsafe {
        let ty = hpy!(ctx, ctx_Type, obj);
        let name = if ty.is_null() { None } else { str_attr(ctx, ty, c"__name__") };
        close(ctx, ty);
        name
    };
    name.unwrap_or_else(|| "?".to_owned())
}

/// Builds Python values for introspection results. Every method returns a new handle, and every
/// method that is given handles (as `Result`s) consumes them: closes them on failure, or hands
/// them on.
pub struct Builder(pub *mut HPyContext);

/// # Safety
/// For every method: `self.0` must be valid for the current call.
#[allow(clippy::missing_safety_doc)]
impl Builder {
    pub unsafe fn str(&self, s: &str) -> Result<HPy> {
        // SAFETY: `self.0` is valid for the current call.
        unsafe { unicode(self.0, s) }
    }

    pub unsafe fn int(&self, v: i64) -> Result<HPy> {
        // SAFETY: `self.0` is valid for the current call.
        check(unsafe { hpy!(self.0, ctx_Long_FromInt64_t, v) })
    }

    pub unsafe fn bool(&self, v: bool) -> Result<HPy> {
        // SAFETY: `self.0` is valid for the current call.
        check(unsafe { hpy!(self.0, ctx_Bool_FromBool, v) })
    }

    pub unsafe fn opt_str(&self, s: Option<&str>) -> Result<HPy> {
        match s {
            // SAFETY: `self.0` is valid for the current call.
            Some(s) => unsafe { self.str(s) },
            // SAFETY: `self.0` is valid for the current call; `h_None` is a borrowed handle of it.
            None => check(unsafe { hpy!(self.0, ctx_Dup, (*self.0).h_None) }),
        }
    }

    /// A dict of `items`.
    pub unsafe fn dict<const N: usize>(&self, items: [(&CStr, Result<HPy>); N]) -> Result<HPy> {
        let ctx = self.0;
        // SAFETY: `ctx` is valid for the current call; each value is closed exactly once, and the
        // dict is closed if it is not returned.
        unsafe {
            let mut dict = check(hpy!(ctx, ctx_Dict_New));
            for (key, value) in items {
                dict = match (dict, value) {
                    (Ok(d), Ok(v)) => {
                        let rc = hpy!(ctx, ctx_SetItem_s, d, key.as_ptr(), v);
                        close(ctx, v);
                        if rc < 0 {
                            close(ctx, d);
                            Err(Error::Set)
                        } else {
                            Ok(d)
                        }
                    }
                    (Ok(d), Err(e)) => {
                        close(ctx, d);
                        Err(e)
                    }
                    (Err(e), v) => {
                        close(ctx, v.unwrap_or(HPy_NULL));
                        Err(e)
                    }
                };
            }
            dict
        }
    }

    /// A list of what `items` yields; stops at the first error.
    pub unsafe fn list(&self, items: impl IntoIterator<Item = Result<HPy>>) -> Result<HPy> {
        let ctx = self.0;
        // SAFETY: `ctx` is valid for the current call; each item is closed exactly once, and the
        // list is closed if it is not returned.
        unsafe {
            let list = check(hpy!(ctx, ctx_List_New, 0))?;
            for item in items {
                let appended = item.and_then(|item| {
                    let rc = hpy!(ctx, ctx_List_Append, list, item);
                    close(ctx, item);
                    if rc < 0 {
                        Err(Error::Set)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = appended {
                    close(ctx, list);
                    return Err(e);
                }
            }
            Ok(list)
        }
    }
}

/// The `N` arguments of a runtime function that takes exactly `N`, as `call` names them (e.g.
/// `"box(ctype, value)"`), or a `TypeError` saying how many came.
///
/// # Safety
/// `args` must point to `n` live handles (it may be null when `n` is 0).
pub unsafe fn fixed_args<'a, const N: usize>(args: *const HPy, n: usize, call: &str) -> Result<&'a [HPy; N]> {
    // SAFETY: the caller's contract; an empty slice needs no pointer.
    let given = if n == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(args, n) } };
    given.try_into().map_err(|_| Error::new(Exception::TypeError, format!("{call}: expected {N} arguments, got {n}")))
}
