//! What a provider says about an entry beyond its function and signature (runtime API 1.4,
//! `HPyBridge_EntryInfo`): its flags and its doc string. `HPyBridge_ExportEx` gives one per slot of
//! an API, `HPyBridge_CDictSetEx` one for a type's or an object's entry; the generator writes both
//! from the spec's `doc` and `nogil` keys (docs/api-spec.md).

use crate::cdict::implementation::FLAG_NOGIL;
use crate::hpy::error::{Error, Exception, Result};
use capsules::signature::{CType, Pointee, Scalar, Signature};
use capsules::wire::abi::{HPyBridge_EntryInfo, HPYBRIDGE_ENTRY_NOGIL};
use capsules::wire::SlotDecl;
use std::ffi::{c_char, CStr};

// The flag a provider passes is the flag `CFunction.implementations` shows.
const _: () = assert!(HPYBRIDGE_ENTRY_NOGIL == FLAG_NOGIL);

/// The flags a provider may set.
const KNOWN: u32 = HPYBRIDGE_ENTRY_NOGIL;

/// One entry's flags and doc string, checked.
#[derive(Clone, Debug, Default)]
pub struct EntryInfo {
    pub flags: u32,
    pub doc: Option<String>,
}

impl EntryInfo {
    /// `flags` and `doc` (null or a NUL-terminated string) for entry `what` of signature `sig`:
    /// unknown flags and a NOGIL entry whose signature needs the interpreter are refused.
    ///
    /// # Safety
    /// `doc` null or a NUL-terminated string.
    pub unsafe fn new(flags: u32, doc: *const c_char, what: &str, sig: &Signature) -> Result<EntryInfo> {
        if flags & !KNOWN != 0 {
            return Err(Error::new(
                Exception::ValueError,
                format!("{what} \"{sig}\": expected flags 0 or HPYBRIDGE_ENTRY_NOGIL ({KNOWN}), found {flags:#x}"),
            ));
        }
        if flags & HPYBRIDGE_ENTRY_NOGIL != 0 {
            if let Some(t) = needs_interpreter(sig) {
                return Err(Error::new(
                    Exception::ValueError,
                    format!(
                        "{what} \"{sig}\": nogil (HPYBRIDGE_ENTRY_NOGIL) needs a signature without HPyContext *, HPy \
                         or PyObject * (they need the GIL), found {t}"
                    ),
                ));
            }
        }
        let doc = if doc.is_null() {
            None
        } else {
            // SAFETY: non-null, so NUL-terminated (the caller's contract).
            let text = unsafe { CStr::from_ptr(doc) }.to_str();
            let text = text.map_err(|_| Error::new(Exception::ValueError, format!("{what}: the doc is not UTF-8")))?;
            (!text.is_empty()).then(|| text.to_owned())
        };
        Ok(EntryInfo { flags, doc })
    }

    /// The infos of an API's `count` slots from `HPyBridge_ExportEx`'s `info` (null: none), each
    /// checked against its slot's signature.
    ///
    /// # Safety
    /// `info` null or pointing to `slots.len()` `HPyBridge_EntryInfo`s whose docs are null or
    /// NUL-terminated strings.
    pub unsafe fn of_slots(info: *const HPyBridge_EntryInfo, api: &str, slots: &[SlotDecl]) -> Result<Vec<EntryInfo>> {
        if info.is_null() {
            return Ok(vec![EntryInfo::default(); slots.len()]);
        }
        // SAFETY: `info` points to one per slot (the caller's contract).
        let infos = unsafe { std::slice::from_raw_parts(info, slots.len()) };
        let each = infos.iter().zip(slots).map(|(i, slot)| {
            let what = format!("cannot export the {api} API: slot '{}'", slot.name);
            // SAFETY: the doc is null or NUL-terminated (the caller's contract).
            unsafe { EntryInfo::new(i.flags, i.doc, &what, &slot.signature) }
        });
        each.collect()
    }
}

/// The first type of `sig` that needs the interpreter (a context, a handle, a Python object), if any.
pub fn needs_interpreter(sig: &Signature) -> Option<String> {
    std::iter::once(&sig.ret)
        .chain(&sig.args)
        .find(|t| match t {
            CType::Value(Scalar::Handle) => true,
            CType::Pointer { target, .. } => {
                matches!(target, Pointee::Context | Pointee::PyObject | Pointee::Scalar(Scalar::Handle))
            }
            _ => false,
        })
        .map(|t| t.qualified())
}
