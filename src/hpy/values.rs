//! Python values from Rust: strings, attributes, type names, and the dicts and lists the
//! introspection functions return. Every function takes the context it is called in.

use crate::hpy;
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::{CStr, CString};

/// A new `str` handle, or `HPy_NULL` with an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn unicode(ctx: *mut HPyContext, s: &str) -> HPy {
    match CString::new(s) {
        Ok(c) => hpy!(ctx, ctx_Unicode_FromString, c.as_ptr()),
        Err(_) => {
            set_error(ctx, (*ctx).h_ValueError, "string with an embedded NUL byte");
            HPy_NULL
        }
    }
}

/// Sets `exc_type` (a borrowed handle such as `ctx->h_TypeError`) with `msg`.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn set_error(ctx: *mut HPyContext, exc_type: HPy, msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).expect("NULs were escaped");
    hpy!(ctx, ctx_Err_SetString, exc_type, c.as_ptr());
}

/// Closes `h` unless it is `HPy_NULL`.
///
/// # Safety
/// `ctx` must be valid for the current call and own `h`.
pub unsafe fn close(ctx: *mut HPyContext, h: HPy) {
    if !h.is_null() {
        hpy!(ctx, ctx_Close, h);
    }
}

/// Sets `dict[key] = value`, consuming `value` (closed in every case).
/// Returns false, with an exception set, when `value` is `HPy_NULL` or the store fails.
///
/// # Safety
/// `ctx` must be valid for the current call; `dict` a live handle in it.
pub unsafe fn set_item_consume(ctx: *mut HPyContext, dict: HPy, key: &CStr, value: HPy) -> bool {
    if value.is_null() {
        return false;
    }
    let rc = hpy!(ctx, ctx_SetItem_s, dict, key.as_ptr(), value);
    close(ctx, value);
    rc == 0
}

/// The text of a `str` handle, or `None` with a `TypeError` naming `what` set.
///
/// # Safety
/// `ctx` must be valid for the current call; `h` a live handle in it.
pub unsafe fn str_arg(ctx: *mut HPyContext, h: HPy, what: &str) -> Option<String> {
    if hpy!(ctx, ctx_Unicode_Check, h) == 0 {
        set_error(ctx, (*ctx).h_TypeError, &format!("{what}: expected a str"));
        return None;
    }
    let mut size: hpy_sys::HPy_ssize_t = 0;
    let data = hpy!(ctx, ctx_Unicode_AsUTF8AndSize, h, &mut size);
    if data.is_null() {
        return None;
    }
    let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// `str(getattr(obj, name))` if that attribute is a `str`; `None` (no exception left set) if not.
///
/// # Safety
/// `ctx` must be valid for the current call; `obj` a live handle in it.
pub unsafe fn str_attr(ctx: *mut HPyContext, obj: HPy, name: &CStr) -> Option<String> {
    let value = hpy!(ctx, ctx_GetAttr_s, obj, name.as_ptr());
    if value.is_null() {
        hpy!(ctx, ctx_Err_Clear);
        return None;
    }
    let text = str_arg(ctx, value, "attribute");
    close(ctx, value);
    if text.is_none() {
        hpy!(ctx, ctx_Err_Clear);
    }
    text
}

/// The name of `obj`'s type (`int`, `PyCapsule`, ...), for messages.
///
/// # Safety
/// `ctx` must be valid for the current call; `obj` a live handle in it.
pub unsafe fn type_name(ctx: *mut HPyContext, obj: HPy) -> String {
    let ty = hpy!(ctx, ctx_Type, obj);
    let name = if ty.is_null() { None } else { str_attr(ctx, ty, c"__name__") };
    close(ctx, ty);
    name.unwrap_or_else(|| "?".to_owned())
}

/// Builds Python values for introspection results; every constructor returns a new handle or
/// `HPy_NULL` with an exception set, and `set` consumes what it is given.
pub struct Builder(pub *mut HPyContext);

/// # Safety
/// For every method: `self.0` must be valid for the current call, and handles passed in live in it.
#[allow(clippy::missing_safety_doc)]
impl Builder {
    pub unsafe fn str(&self, s: &str) -> HPy {
        unicode(self.0, s)
    }
    pub unsafe fn int(&self, v: i64) -> HPy {
        hpy!(self.0, ctx_Long_FromInt64_t, v)
    }
    pub unsafe fn opt_str(&self, s: Option<&str>) -> HPy {
        match s {
            Some(s) => self.str(s),
            None => hpy!(self.0, ctx_Dup, (*self.0).h_None),
        }
    }
    pub unsafe fn dict(&self) -> HPy {
        hpy!(self.0, ctx_Dict_New)
    }
    /// `dict[key] = value`; false (with an exception) if `dict` or `value` is NULL or the store fails.
    pub unsafe fn set(&self, dict: HPy, key: &CStr, value: HPy) -> bool {
        if dict.is_null() {
            close(self.0, value);
            return false;
        }
        set_item_consume(self.0, dict, key, value)
    }
    /// A list of what `items` yields; NULL if any item is NULL.
    pub unsafe fn list(&self, items: impl IntoIterator<Item = HPy>) -> HPy {
        let list = hpy!(self.0, ctx_List_New, 0);
        for item in items {
            if list.is_null() || item.is_null() || hpy!(self.0, ctx_List_Append, list, item) < 0 {
                close(self.0, item);
                close(self.0, list);
                return HPy_NULL;
            }
            close(self.0, item);
        }
        list
    }
}
