//! Foreign tables: a consumer's declaration of C-API functions that another module publishes
//! without hpybridge (`HPyBridge_ForeignDecl` in `include/hpybridge/abi.h`), and the HPy form in
//! which an HPy consumer calls them (docs/foreign-capsules.md).
//!
//! The HPy form of a C-API signature is the reverse of `fallback`: an `HPyContext *` in front,
//! `HPy` for every `PyObject *` (parameter or result), `HPy_ssize_t` for `Py_ssize_t` (also behind
//! pointers); everything else unchanged. Reference semantics are those of the HPy API: handles
//! passed in are borrowed, a handle result is new. Refused, each with the reason: signatures that
//! already speak HPy (an `HPyContext *` or `HPy` anywhere), and pointers to objects (`PyObject **`),
//! whose element count and ownership a stub cannot know.

use crate::signature::{CType, IntKind, Pointee, Scalar, Signature};
use crate::wire::abi::{HPyBridge_ForeignDecl, HPYBRIDGE_FOREIGN_PYX_CAPI, HPYBRIDGE_FOREIGN_TABLE};
use crate::wire::{is_identifier, read_str, WireError, HPYBRIDGE_LAYOUT_VERSION, HPYBRIDGE_MAGIC, MAX_SLOTS};
use std::fmt;

/// How the foreign module publishes its functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForeignKind {
    /// A capsule (named `capsule_name`, or without a name) holding a table of at least `size` entries.
    Table { capsule_name: Option<String>, size: u32 },
    /// A dict of capsules, one per function, each named by its C signature (Cython's `__pyx_capi__`).
    PyxCapi,
}

/// Where a slot's function is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Index(u32),
    Key(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Index(i) => write!(f, "entry {i}"),
            Location::Key(k) => write!(f, "entry '{k}'"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForeignSlot {
    pub name: String,
    /// The C-API signature, as the consumer declares it.
    pub signature: Signature,
    /// What the consumer calls: `signature`'s HPy form.
    pub hpy_form: Signature,
    pub location: Location,
}

/// A checked foreign declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignDecl {
    pub name: String,
    pub module: String,
    pub attribute: String,
    pub kind: ForeignKind,
    pub slots: Vec<ForeignSlot>,
}

/// Why a C-API signature has no HPy form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoHPyForm {
    pub signature: String,
    pub reason: String,
}

impl fmt::Display for NoHPyForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" has no HPy form: {}", self.signature, self.reason)
    }
}

impl std::error::Error for NoHPyForm {}

/// The HPy form of the C-API signature `sig` (see the module documentation).
pub fn hpy_form(sig: &Signature) -> Result<Signature, NoHPyForm> {
    let refuse = |reason: String| NoHPyForm { signature: sig.to_string(), reason };
    for (what, ty) in std::iter::once(("the result".to_owned(), &sig.ret))
        .chain(sig.args.iter().enumerate().map(|(i, t)| (format!("parameter {i}"), t)))
    {
        match ty {
            CType::Value(Scalar::Handle) | CType::Pointer { target: Pointee::Scalar(Scalar::Handle), .. } => {
                return Err(refuse(format!("{what} is {ty}: a foreign C-API function takes no HPy handles")))
            }
            CType::Pointer { target: Pointee::Context, .. } => {
                return Err(refuse(format!("{what} is {ty}: a foreign C-API function takes no HPy context")))
            }
            CType::Pointer { target: Pointee::PyObject, depth, .. } if depth.get() > 1 => {
                return Err(refuse(format!(
                    "{what} is {ty}, and a stub cannot know how many objects it points to, nor who owns them"
                )))
            }
            _ => {}
        }
    }
    let mut args = vec![CType::CONTEXT];
    args.extend(sig.args.iter().map(|&t| hpy_type(t)));
    Ok(Signature { ret: hpy_type(sig.ret), args })
}

fn hpy_type(t: CType) -> CType {
    match t {
        CType::Pointer { target: Pointee::PyObject, .. } => CType::HANDLE,
        CType::Value(Scalar::Int(IntKind::PySsizeT)) => CType::Value(Scalar::Int(IntKind::HPySsizeT)),
        CType::Pointer { target: Pointee::Scalar(Scalar::Int(IntKind::PySsizeT)), depth, const_target } => {
            CType::Pointer { target: Pointee::Scalar(Scalar::Int(IntKind::HPySsizeT)), depth, const_target }
        }
        other => other,
    }
}

/// Why a foreign declaration is not valid.
#[derive(Clone, Debug, PartialEq)]
pub enum ForeignError {
    Wire(WireError),
    Kind { found: u32 },
    Slot { slot: usize, name: String, problem: String },
}

impl fmt::Display for ForeignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForeignError::Wire(e) => write!(f, "{}", e.to_string().replacen("API table", "foreign declaration", 1)),
            ForeignError::Kind { found } => write!(
                f,
                "foreign declaration kind: expected {HPYBRIDGE_FOREIGN_TABLE} (a table) or {HPYBRIDGE_FOREIGN_PYX_CAPI} \
                 (__pyx_capi__), found {found}"
            ),
            ForeignError::Slot { slot, name, problem } => write!(f, "foreign declaration slot {slot} '{name}': {problem}"),
        }
    }
}

impl std::error::Error for ForeignError {}

impl From<WireError> for ForeignError {
    fn from(e: WireError) -> Self {
        ForeignError::Wire(e)
    }
}

/// Reads and checks the foreign declaration at `decl`.
///
/// # Safety
/// `decl` must be null or point to memory laid out as `HPyBridge_ForeignDecl` whose pointers, when
/// the magic and layout version match, point to what `abi.h` says.
pub unsafe fn read_foreign(decl: *const HPyBridge_ForeignDecl) -> Result<ForeignDecl, ForeignError> {
    // SAFETY: `decl` is null or points to an `HPyBridge_ForeignDecl` (the caller's contract).
    let d = unsafe { decl.as_ref() }.ok_or(WireError::Null)?;
    if d.magic != HPYBRIDGE_MAGIC {
        return Err(WireError::Magic { found: d.magic }.into());
    }
    if d.layout_version != HPYBRIDGE_LAYOUT_VERSION {
        return Err(WireError::Layout { found: d.layout_version }.into());
    }
    // SAFETY: magic and layout version match, so the strings are null or strings (the contract).
    let (name, module, attribute) = unsafe {
        (
            read_str(d.name, || "name".into())?,
            read_str(d.module, || "module".into())?,
            read_str(d.attribute, || "attribute".into())?,
        )
    };
    if !is_identifier(&name) {
        return Err(WireError::Identifier { field: "name".into(), found: name }.into());
    }
    let kind = match d.kind {
        HPYBRIDGE_FOREIGN_TABLE => ForeignKind::Table {
            capsule_name: if d.capsule_name.is_null() {
                None
            } else {
                // SAFETY: as above.
                Some(unsafe { read_str(d.capsule_name, || "capsule_name".into()) }?)
            },
            size: d.table_size,
        },
        HPYBRIDGE_FOREIGN_PYX_CAPI => ForeignKind::PyxCapi,
        found => return Err(ForeignError::Kind { found }),
    };
    if d.slot_count > MAX_SLOTS {
        return Err(WireError::TooManySlots { found: d.slot_count }.into());
    }
    if d.slot_count > 0 && d.slots.is_null() {
        return Err(WireError::NoSlots.into());
    }
    let mut slots: Vec<ForeignSlot> = Vec::with_capacity(d.slot_count as usize);
    for i in 0..d.slot_count as usize {
        // SAFETY: `slots` is not null and points to `slot_count` slots (the caller's contract).
        let raw = unsafe { &*d.slots.add(i) };
        // SAFETY: as above: the strings are null or strings.
        let slot_name = unsafe { read_str(raw.name, || format!("slot {i} name")) }?;
        if !is_identifier(&slot_name) {
            return Err(WireError::Identifier { field: format!("slot {i} name"), found: slot_name }.into());
        }
        if let Some(first) = slots.iter().position(|s| s.name == slot_name) {
            return Err(WireError::DuplicateSlot { name: slot_name, first, second: i }.into());
        }
        let problem = |problem: String| ForeignError::Slot { slot: i, name: slot_name.clone(), problem };
        // SAFETY: as above.
        let text = unsafe { read_str(raw.signature, || format!("slot {i} '{slot_name}' signature")) }?;
        let signature = Signature::parse(&text).map_err(|e| problem(e.to_string()))?;
        let hpy_form = hpy_form(&signature).map_err(|e| problem(e.to_string()))?;
        let location = match &kind {
            ForeignKind::Table { size, .. } => {
                if raw.index >= *size {
                    return Err(problem(format!(
                        "index {} is out of range: the table is declared with {size} entries",
                        raw.index
                    )));
                }
                Location::Index(raw.index)
            }
            // SAFETY: as above.
            ForeignKind::PyxCapi => Location::Key(unsafe { read_str(raw.key, || format!("slot {i} key")) }?),
        };
        slots.push(ForeignSlot { name: slot_name, signature, hpy_form, location });
    }
    Ok(ForeignDecl { name, module, attribute, kind, slots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::abi::HPyBridge_ForeignSlot;
    use std::ffi::CString;

    fn form(s: &str) -> Result<String, String> {
        hpy_form(&Signature::parse(s).expect("valid")).map(|f| f.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn derivation() {
        let cases = [
            ("PyObject * (PyObject *, double)", "HPy (HPyContext *, HPy, double)"),
            ("Py_ssize_t (PyObject *)", "HPy_ssize_t (HPyContext *, HPy)"),
            ("int (PyObject *, Py_ssize_t *, int)", "int (HPyContext *, HPy, HPy_ssize_t *, int)"),
            ("unsigned int (void)", "unsigned int (HPyContext *)"),
            ("PyObject * (double, double, double, int)", "HPy (HPyContext *, double, double, double, int)"),
            (
                "PyObject *(PyObject *, void *, int, int, int, PyObject *)",
                "HPy (HPyContext *, HPy, void *, int, int, int, HPy)",
            ),
        ];
        for (capi, hpy) in cases {
            assert_eq!(form(capi).as_deref(), Ok(hpy), "{capi}");
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            form("int (PyObject **, int)").unwrap_err(),
            "\"int (PyObject **, int)\" has no HPy form: parameter 0 is PyObject **, and a stub cannot know how \
             many objects it points to, nor who owns them"
        );
        assert!(form("HPy (HPyContext *)")
            .unwrap_err()
            .ends_with("the result is HPy: a foreign C-API function takes no HPy handles"));
        assert!(form("int (HPyContext *)")
            .unwrap_err()
            .ends_with("parameter 0 is HPyContext *: a foreign C-API function takes no HPy context"));
    }

    struct Owned {
        _strings: Vec<CString>,
        _slots: Vec<HPyBridge_ForeignSlot>,
        decl: HPyBridge_ForeignDecl,
    }

    fn decl(kind: u32, size: u32, slots: &[(&str, &str, Option<&str>, u32)]) -> Owned {
        let mut strings = Vec::new();
        let mut s = |t: &str| {
            let c = CString::new(t).expect("no NUL");
            let p = c.as_ptr();
            strings.push(c);
            p
        };
        let raw: Vec<HPyBridge_ForeignSlot> = slots
            .iter()
            .map(|(n, sig, key, index)| HPyBridge_ForeignSlot {
                name: s(n),
                signature: s(sig),
                key: key.map_or(std::ptr::null(), &mut s),
                index: *index,
            })
            .collect();
        let decl = HPyBridge_ForeignDecl {
            magic: HPYBRIDGE_MAGIC,
            layout_version: HPYBRIDGE_LAYOUT_VERSION,
            name: s("np"),
            module: s("numpy"),
            attribute: s("_ARRAY_API"),
            capsule_name: std::ptr::null(),
            kind,
            table_size: size,
            slot_count: raw.len() as u32,
            slots: raw.as_ptr(),
        };
        Owned { _strings: strings, _slots: raw, decl }
    }

    #[test]
    fn reads_a_table_declaration() {
        let d = decl(HPYBRIDGE_FOREIGN_TABLE, 400, &[("Size", "Py_ssize_t (PyObject *)", None, 59)]);
        // SAFETY: `d` owns a valid declaration.
        let read = unsafe { read_foreign(&d.decl) }.expect("valid");
        assert_eq!(read.kind, ForeignKind::Table { capsule_name: None, size: 400 });
        assert_eq!(read.slots[0].location, Location::Index(59));
        assert_eq!(read.slots[0].hpy_form.to_string(), "HPy_ssize_t (HPyContext *, HPy)");
    }

    #[test]
    fn refuses_bad_declarations() {
        let d = decl(HPYBRIDGE_FOREIGN_TABLE, 10, &[("Size", "Py_ssize_t (PyObject *)", None, 59)]);
        // SAFETY: `d` owns a valid declaration.
        let e = unsafe { read_foreign(&d.decl) }.unwrap_err().to_string();
        assert_eq!(
            e,
            "foreign declaration slot 0 'Size': index 59 is out of range: the table is declared with 10 entries"
        );
        let d = decl(7, 10, &[]);
        // SAFETY: as above.
        let e = unsafe { read_foreign(&d.decl) }.unwrap_err().to_string();
        assert!(e.starts_with("foreign declaration kind: expected 1"), "{e}");
        let d = decl(HPYBRIDGE_FOREIGN_PYX_CAPI, 0, &[("f", "double (double)", None, 0)]);
        // SAFETY: as above.
        let e = unsafe { read_foreign(&d.decl) }.unwrap_err().to_string();
        assert_eq!(e, "foreign declaration slot 0 key: expected a string, found NULL");
        let d = decl(HPYBRIDGE_FOREIGN_PYX_CAPI, 0, &[("f", "HPy (HPy)", Some("f"), 0)]);
        // SAFETY: as above.
        let e = unsafe { read_foreign(&d.decl) }.unwrap_err().to_string();
        assert!(e.starts_with("foreign declaration slot 0 'f': \"HPy (HPy)\" has no HPy form"), "{e}");
    }
}
