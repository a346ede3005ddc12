//! The CPython-API form ("fallback" form) of an HPy signature: what a C-API, Cython or PyO3
//! consumer calls instead of the HPy function, through a stub the runtime makes.
//!
//! Derived from the HPy signature, never declared separately:
//! - the leading `HPyContext *` is dropped (the stub supplies the provider's own context);
//! - `HPy` becomes `PyObject *`, in parameters and in the result;
//! - `HPy_ssize_t` becomes `Py_ssize_t` (the same type on every interpreter HPy runs on) and
//!   `HPy_UCS4` becomes `uint32_t` (its definition; the C-API has no other name for it), also
//!   behind pointers;
//! - everything else is unchanged.
//!
//! Reference semantics are the C-API's: `PyObject *` arguments are borrowed, a `PyObject *`
//! result is a new reference, and NULL with an exception set reports an error.
//!
//! Signatures that have no fallback form, each with the reason: an `HPyContext *` anywhere but
//! first; handles without a context to translate them; and pointers to handles (`HPy *`), whose
//! element count a stub cannot know, so it could not convert the array.

use crate::signature::{CType, IntKind, Pointee, Scalar, Signature};
use std::fmt;

/// Why a signature has no fallback form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFallback {
    pub signature: String,
    pub reason: String,
}

impl fmt::Display for NoFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" has no CPython-API form: {}", self.signature, self.reason)
    }
}

impl std::error::Error for NoFallback {}

/// The CPython-API form of `sig` (see the module documentation).
pub fn fallback(sig: &Signature) -> Result<Signature, NoFallback> {
    let refuse = |reason: String| NoFallback { signature: sig.to_string(), reason };
    if let Some(i) = sig.args.iter().skip(1).position(|a| *a == CType::CONTEXT) {
        return Err(refuse(format!("parameter {} is an HPyContext *; only parameter 0 may be", i + 1)));
    }
    let has_context = sig.args.first() == Some(&CType::CONTEXT);
    for (i, ty) in sig.args.iter().enumerate() {
        if let CType::Pointer { target: Pointee::Scalar(Scalar::Handle), .. } = ty {
            return Err(refuse(format!(
                "parameter {i} points to handles ({ty}), and a stub cannot know how many to convert"
            )));
        }
    }
    if let CType::Pointer { target: Pointee::Scalar(Scalar::Handle), .. } = sig.ret {
        return Err(refuse(format!("the result points to handles ({}), and a stub cannot know how many", sig.ret)));
    }
    let has_handle = sig.returns_handle() || sig.args.contains(&CType::HANDLE);
    if has_handle && !has_context {
        return Err(refuse("it passes HPy handles but no HPyContext * to translate them in".into()));
    }
    let args = sig.args.iter().skip(usize::from(has_context)).map(|&t| cpython_type(t)).collect();
    Ok(Signature { ret: cpython_type(sig.ret), args })
}

/// Whether `sig`'s fallback form is `sig` itself: no context and no handle, so the provider's
/// own function serves C-API callers as it is.
pub fn is_own_fallback(sig: &Signature) -> bool {
    fallback(sig).is_ok_and(|f| f == *sig)
}

fn cpython_type(t: CType) -> CType {
    const PY_OBJECT: CType =
        CType::Pointer { target: Pointee::PyObject, depth: std::num::NonZeroUsize::MIN, const_target: false };
    let int = |kind| match kind {
        IntKind::HPySsizeT => IntKind::PySsizeT,
        IntKind::HPyUcs4 => IntKind::UInt32T,
        other => other,
    };
    match t {
        CType::Value(Scalar::Handle) => PY_OBJECT,
        CType::Value(Scalar::Int(kind)) => CType::Value(Scalar::Int(int(kind))),
        CType::Pointer { target: Pointee::Scalar(Scalar::Int(kind)), depth, const_target } => {
            CType::Pointer { target: Pointee::Scalar(Scalar::Int(int(kind))), depth, const_target }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Result<String, String> {
        let sig = Signature::parse(s).expect("valid signature");
        fallback(&sig).map(|f| f.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn derivation() {
        let cases = [
            ("double (HPyContext *, double)", "double (double)"),
            ("HPy (HPyContext *, HPy)", "PyObject * (PyObject *)"),
            ("HPy (HPyContext *, HPy, HPy_ssize_t)", "PyObject * (PyObject *, Py_ssize_t)"),
            ("HPy_ssize_t (HPyContext *, HPy_ssize_t *, long)", "Py_ssize_t (Py_ssize_t *, long)"),
            ("int (HPyContext *)", "int (void)"),
            ("HPy_UCS4 (HPyContext *, HPy_UCS4 *)", "uint32_t (uint32_t *)"),
            ("void (HPyContext *, double *, const char *)", "void (double *, char *)"),
            ("double (double)", "double (double)"),
            ("PyObject * (PyObject *)", "PyObject * (PyObject *)"),
        ];
        for (hpy, capi) in cases {
            assert_eq!(form(hpy).as_deref(), Ok(capi), "{hpy}");
        }
    }

    #[test]
    fn own_fallback_only_without_context_and_handles() {
        let own = |s: &str| is_own_fallback(&Signature::parse(s).expect("valid"));
        assert!(own("double (double, long)"));
        assert!(own("void (void)"));
        assert!(!own("double (HPyContext *, double)"));
        assert!(!own("HPy_ssize_t (long)"), "renamed: Py_ssize_t");
        assert!(!own("HPy (HPy)"), "no fallback form at all");
    }

    #[test]
    fn refusals_say_why() {
        let e = form("HPy (HPy)").unwrap_err();
        assert_eq!(
            e,
            "\"HPy (HPy)\" has no CPython-API form: it passes HPy handles but no HPyContext * to translate them in"
        );
        let e = form("int (HPyContext *, HPy *, HPy_ssize_t)").unwrap_err();
        assert!(
            e.ends_with("parameter 1 points to handles (HPy *), and a stub cannot know how many to convert"),
            "{e}"
        );
        let e = form("int (double, HPyContext *)").unwrap_err();
        assert!(e.ends_with("parameter 1 is an HPyContext *; only parameter 0 may be"), "{e}");
        let e = form("HPy * (HPyContext *)").unwrap_err();
        assert!(e.contains("the result points to handles"), "{e}");
    }
}
