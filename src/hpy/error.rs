//! Raising hpybridge's Python exceptions (defined in `hpybridge/errors.py`) from Rust, in whatever
//! context the caller gave us: the classes are looked up by name at raise time, so no handle to
//! them has to be kept, or moved between contexts.

use crate::hpy;
use crate::hpy::values::{close, set_error};
use hpy_sys::{HPyContext, HPy_NULL};
use std::ffi::CString;

/// The Python exception classes of `hpybridge.errors`, and the builtin each falls back to if that
/// module cannot be imported (so an error is never lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names of the Python classes they stand for
pub enum PyError {
    APIImportError,
    APICapsuleError,
    APIVersionError,
    APISlotError,
    CrossModeError,
    APIRegistrationError,
    SignatureSyntaxError,
}

impl PyError {
    fn class_name(self) -> &'static str {
        match self {
            PyError::APIImportError => "APIImportError",
            PyError::APICapsuleError => "APICapsuleError",
            PyError::APIVersionError => "APIVersionError",
            PyError::APISlotError => "APISlotError",
            PyError::CrossModeError => "CrossModeError",
            PyError::APIRegistrationError => "APIRegistrationError",
            PyError::SignatureSyntaxError => "SignatureSyntaxError",
        }
    }
}

/// Sets `kind` with `msg` as the current exception of `ctx`.
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn raise(ctx: *mut HPyContext, kind: PyError, msg: &str) {
    let module = hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.errors".as_ptr());
    let class = if module.is_null() {
        HPy_NULL
    } else {
        let name = CString::new(kind.class_name()).expect("class names have no NUL");
        let class = hpy!(ctx, ctx_GetAttr_s, module, name.as_ptr());
        close(ctx, module);
        class
    };
    if class.is_null() {
        hpy!(ctx, ctx_Err_Clear);
        let fallback = match kind {
            PyError::SignatureSyntaxError => (*ctx).h_ValueError,
            _ => (*ctx).h_ImportError,
        };
        set_error(ctx, fallback, msg);
    } else {
        set_error(ctx, class, msg);
        close(ctx, class);
    }
}
