//! The runtime's errors and how they become Python exceptions.
//!
//! Code below the FFI boundary returns `Result<T, Error>`; only the boundary (`hpy::boundary`)
//! raises, in the context of the call it guards. hpybridge's own exception classes (defined in
//! `hpybridge/errors.py`) are looked up by name at raise time, so no handle to them has to be
//! kept, or moved between contexts.

use crate::hpy;
use crate::hpy::values::close;
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::CString;
use std::fmt;

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
    NoFallbackError,
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
            PyError::NoFallbackError => "NoFallbackError",
        }
    }
}

/// The Python exception an [`Error`] raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    Hpybridge(PyError),
    TypeError,
    ValueError,
    KeyError,
    OverflowError,
    RuntimeError,
    ModuleNotFoundError,
    /// An internal error of the runtime (a Rust panic).
    SystemError,
}

impl From<PyError> for Exception {
    fn from(e: PyError) -> Exception {
        Exception::Hpybridge(e)
    }
}

/// Why a runtime call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// An HPy call failed and left its exception set: that exception says more than we could, and
    /// the boundary leaves it as it is.
    Set,
    /// An exception to raise.
    Raise { exception: Exception, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(exception: impl Into<Exception>, message: impl Into<String>) -> Error {
        Error::Raise { exception: exception.into(), message: message.into() }
    }

    /// This error as `exception`, its message rewritten by `message` (for `Set`: unchanged).
    pub fn wrapped(self, exception: impl Into<Exception>, message: impl FnOnce(&str) -> String) -> Error {
        match self {
            Error::Set => Error::Set,
            Error::Raise { message: m, .. } => Error::new(exception, message(&m)),
        }
    }

    /// Sets this error as the current exception of `ctx` (for `Set`: leaves the one set).
    ///
    /// # Safety
    /// `ctx` must be valid for the current call.
    pub unsafe fn raise(self, ctx: *mut HPyContext) {
        let Error::Raise { exception, message } = self else { return };
        // SAFETY: `ctx` is valid for the current call (the caller's contract); `h_*` members are
        // borrowed handles of it.
        unsafe {
            match exception {
                Exception::Hpybridge(kind) => raise_hpybridge(ctx, kind, &message),
                Exception::TypeError => set_error(ctx, (*ctx).h_TypeError, &message),
                Exception::ValueError => set_error(ctx, (*ctx).h_ValueError, &message),
                Exception::KeyError => set_error(ctx, (*ctx).h_KeyError, &message),
                Exception::OverflowError => set_error(ctx, (*ctx).h_OverflowError, &message),
                Exception::RuntimeError => set_error(ctx, (*ctx).h_RuntimeError, &message),
                Exception::ModuleNotFoundError => set_error(ctx, (*ctx).h_ModuleNotFoundError, &message),
                Exception::SystemError => set_error(ctx, (*ctx).h_SystemError, &message),
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Set => f.write_str("(a Python exception is set)"),
            Error::Raise { exception, message } => write!(f, "{exception:?}: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// `Err(Error::Set)` if `h` is `HPy_NULL` (an HPy call failed), else `h`.
pub fn check(h: HPy) -> Result<HPy> {
    if h.is_null() {
        Err(Error::Set)
    } else {
        Ok(h)
    }
}

/// Sets `exc_type` (a borrowed handle such as `ctx->h_TypeError`) with `msg`.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn set_error(ctx: *mut HPyContext, exc_type: HPy, msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: `ctx` is valid for the current call; `c` outlives the call.
    unsafe { hpy!(ctx, ctx_Err_SetString, exc_type, c.as_ptr()) };
}

/// Sets `hpybridge.errors.<kind>` with `msg` as the current exception of `ctx`.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn raise_hpybridge(ctx: *mut HPyContext, kind: PyError, msg: &str) {
    // SAFETY: `ctx` is valid for the current call; every handle used is one it returned, closed once.
    unsafe {
        let module = hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.errors".as_ptr());
        let class = if module.is_null() {
            HPy_NULL
        } else {
            let name = CString::new(kind.class_name()).unwrap_or_default();
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
}
