//! Reading API tables out of C memory (`HPyBridge_APITable`, defined in `include/hpybridge/abi.h`)
//! and deciding whether a provider's table serves a consumer's declaration.
//!
//! Everything here is plain data and messages; the runtime turns the errors into Python exceptions.

use crate::signature::{Signature, SignatureError};
use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;

/// The C definitions, generated from `abi.h` (bindgen's code: its style and unsafe blocks are its own).
#[allow(non_camel_case_types, non_upper_case_globals, clippy::all, clippy::undocumented_unsafe_blocks)]
pub mod abi {
    include!(concat!(env!("OUT_DIR"), "/abi.rs"));
}
pub use abi::{HPyBridge_APITable, HPyBridge_Slot, HPYBRIDGE_LAYOUT_VERSION, HPYBRIDGE_MAGIC};

/// A C string constant of `abi.h` (bindgen keeps its NUL).
fn text(constant: &'static [u8]) -> &'static str {
    std::str::from_utf8(constant.strip_suffix(&[0]).unwrap_or(constant)).unwrap_or_default()
}

/// The name of the capsule that publishes API `api`: `HPYBRIDGE_CAPSULE_PREFIX` + `api`.
pub fn capsule_name(api: &str) -> CString {
    named(text(abi::HPYBRIDGE_CAPSULE_PREFIX), api, "")
}

/// The provider module's attribute that holds API `api`'s capsule: `_<api>_API`.
pub fn attribute_name(api: &str) -> CString {
    named(text(abi::HPYBRIDGE_ATTR_PREFIX), api, text(abi::HPYBRIDGE_ATTR_SUFFIX))
}

/// The name of the capsule that publishes API `api`'s CPython-API stubs: `hpybridge.capi.<api>`.
pub fn capi_capsule_name(api: &str) -> CString {
    named(text(abi::HPYBRIDGE_CAPI_CAPSULE_PREFIX), api, "")
}

/// The provider module's attribute that holds that capsule: `_<api>_CAPI`.
pub fn capi_attribute_name(api: &str) -> CString {
    named(text(abi::HPYBRIDGE_ATTR_PREFIX), api, text(abi::HPYBRIDGE_CAPI_ATTR_SUFFIX))
}

fn named(prefix: &str, api: &str, suffix: &str) -> CString {
    // API names are checked C identifiers (`read_table`); a NUL would only cut the name short.
    CString::new(format!("{prefix}{api}{suffix}").replace('\0', "")).unwrap_or_default()
}

/// More slots than any sane API has: a larger count means the pointer is not a table.
pub const MAX_SLOTS: u32 = 4096;

/// A checked API table.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDecl {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub slots: Vec<SlotDecl>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlotDecl {
    pub name: String,
    pub signature: Signature,
    /// The provider's implementation (null in a consumer's declaration).
    pub function: *mut c_void,
}

/// Whether a table declares an implementation (provider) or expectations (consumer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Provider,
    Consumer,
}

/// Why a table is not a valid table.
#[derive(Clone, Debug, PartialEq)]
pub enum WireError {
    Null,
    Magic { found: u32 },
    Layout { found: u32 },
    Flags { found: u32 },
    String { field: String, problem: &'static str },
    Identifier { field: String, found: String },
    TooManySlots { found: u32 },
    NoSlots,
    DuplicateSlot { name: String, first: usize, second: usize },
    Signature { slot: usize, name: String, error: SignatureError },
    MissingFunction { slot: usize, name: String },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Null => write!(f, "expected a pointer to an HPyBridge_APITable, found NULL"),
            WireError::Magic { found } => write!(
                f,
                "not an hpybridge API table: expected magic 0x{HPYBRIDGE_MAGIC:08x} (\"HPYB\"), found 0x{found:08x}"
            ),
            WireError::Layout { found } => write!(
                f,
                "API table layout version {found}, this runtime reads layout version {HPYBRIDGE_LAYOUT_VERSION} \
                 (rebuild the extension against this hpybridge)"
            ),
            WireError::Flags { found } => write!(f, "API table flags: expected 0 (reserved), found 0x{found:x}"),
            WireError::String { field, problem } => write!(f, "API table {field}: {problem}"),
            WireError::Identifier { field, found } => {
                write!(f, "API table {field}: expected a C identifier, found {found:?}")
            }
            WireError::TooManySlots { found } => {
                write!(f, "API table slot_count: expected at most {MAX_SLOTS}, found {found}")
            }
            WireError::NoSlots => write!(f, "API table has slots but its `slots` pointer is NULL"),
            WireError::DuplicateSlot { name, first, second } => {
                write!(f, "API table: slots {first} and {second} are both named '{name}'")
            }
            WireError::Signature { slot, name, error } => write!(f, "API table slot {slot} '{name}': {error}"),
            WireError::MissingFunction { slot, name } => {
                write!(f, "API table slot {slot} '{name}': the provider's function pointer is NULL")
            }
        }
    }
}

impl std::error::Error for WireError {}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The string at `ptr`, named `field` in errors.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string.
pub(crate) unsafe fn read_str(ptr: *const c_char, field: impl Fn() -> String) -> Result<String, WireError> {
    if ptr.is_null() {
        return Err(WireError::String { field: field(), problem: "expected a string, found NULL" });
    }
    // SAFETY: `ptr` is not null, so it points to a NUL-terminated string (the caller's contract).
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map(str::to_owned)
        .map_err(|_| WireError::String { field: field(), problem: "expected UTF-8 text, found invalid bytes" })
}

/// Reads and checks the table at `table`.
///
/// # Safety
/// `table` must be null or point to memory laid out as `HPyBridge_APITable` whose pointers, when
/// the magic and layout version match, point to what `abi.h` says.
pub unsafe fn read_table(table: *const HPyBridge_APITable, role: Role) -> Result<ApiDecl, WireError> {
    // SAFETY: `table` is null or points to an `HPyBridge_APITable` (the caller's contract).
    let t = unsafe { table.as_ref() }.ok_or(WireError::Null)?;
    if t.magic != HPYBRIDGE_MAGIC {
        return Err(WireError::Magic { found: t.magic });
    }
    if t.layout_version != HPYBRIDGE_LAYOUT_VERSION {
        return Err(WireError::Layout { found: t.layout_version });
    }
    if t.flags != 0 {
        return Err(WireError::Flags { found: t.flags });
    }
    // SAFETY: magic and layout version match, so `api_name` is null or a string (the contract).
    let name = unsafe { read_str(t.api_name, || "api_name".into()) }?;
    if !is_identifier(&name) {
        return Err(WireError::Identifier { field: "api_name".into(), found: name });
    }
    if t.slot_count > MAX_SLOTS {
        return Err(WireError::TooManySlots { found: t.slot_count });
    }
    if t.slot_count > 0 && t.slots.is_null() {
        return Err(WireError::NoSlots);
    }
    let mut slots: Vec<SlotDecl> = Vec::with_capacity(t.slot_count as usize);
    for i in 0..t.slot_count as usize {
        // SAFETY: `slots` is not null (checked above) and points to `slot_count` slots, whose names
        // and signatures are null or strings (the caller's contract).
        let raw = unsafe { &*t.slots.add(i) };
        // SAFETY: as above.
        let slot_name = unsafe { read_str(raw.name, || format!("slot {i} name")) }?;
        if !is_identifier(&slot_name) {
            return Err(WireError::Identifier { field: format!("slot {i} name"), found: slot_name });
        }
        if let Some(first) = slots.iter().position(|s| s.name == slot_name) {
            return Err(WireError::DuplicateSlot { name: slot_name, first, second: i });
        }
        // SAFETY: as above.
        let text = unsafe { read_str(raw.signature, || format!("slot {i} '{slot_name}' signature")) }?;
        let signature = Signature::parse(&text).map_err(|error| WireError::Signature {
            slot: i,
            name: slot_name.clone(),
            error,
        })?;
        if role == Role::Provider && raw.function.is_null() {
            return Err(WireError::MissingFunction { slot: i, name: slot_name });
        }
        slots.push(SlotDecl { name: slot_name, signature, function: raw.function });
    }
    Ok(ApiDecl { name, major: t.major, minor: t.minor, slots })
}

/// Why a provider's API cannot serve what a consumer declared.
#[derive(Clone, Debug, PartialEq)]
pub enum Mismatch {
    Name { found: String },
    Major,
    Minor,
    MissingSlots,
    SlotName { slot: usize, wanted: String, found: String },
    SlotSignature { slot: usize, name: String, wanted: String, found: String },
}

/// A mismatch with what a message needs to name both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportMismatch {
    pub kind: Mismatch,
    pub api: String,
    pub module: String,
    pub wanted: (u32, u32, usize),
    pub found: (u32, u32, usize),
}

impl fmt::Display for ImportMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (api, module) = (&self.api, &self.module);
        let (wmaj, wmin, wslots) = self.wanted;
        let (fmaj, fmin, fslots) = self.found;
        match &self.kind {
            Mismatch::Name { found } => {
                write!(f, "{api} API: expected it in module '{module}', which exports API '{found}' instead")
            }
            Mismatch::Major => write!(
                f,
                "{api} API: consumer needs version {wmaj}.{wmin}, provider module '{module}' has {fmaj}.{fmin} \
                 (major versions differ: incompatible)"
            ),
            Mismatch::Minor => write!(
                f,
                "{api} API: consumer needs version {wmaj}.{wmin}, provider module '{module}' has {fmaj}.{fmin}"
            ),
            Mismatch::MissingSlots => write!(
                f,
                "{api} API: consumer uses {wslots} slots, provider module '{module}' {fmaj}.{fmin} has {fslots}"
            ),
            Mismatch::SlotName { slot, wanted, found } => write!(
                f,
                "{api} API: slot {slot}: consumer expects '{wanted}', provider module '{module}' {fmaj}.{fmin} has '{found}'"
            ),
            Mismatch::SlotSignature { slot, name, wanted, found } => write!(
                f,
                "{api} API: slot {slot} '{name}': consumer expects \"{wanted}\", \
                 provider module '{module}' {fmaj}.{fmin} has \"{found}\""
            ),
        }
    }
}

impl std::error::Error for ImportMismatch {}

/// Whether `provider` serves `wanted`: same name and major, minor at least the consumer's, and
/// every slot the consumer uses present with the same name and signature (slots are append-only).
#[allow(clippy::result_large_err)] // raised once per failed import: size does not matter
pub fn check_import(provider: &ApiDecl, wanted: &ApiDecl, module: &str) -> Result<(), ImportMismatch> {
    let fail = |kind| ImportMismatch {
        kind,
        api: wanted.name.clone(),
        module: module.to_owned(),
        wanted: (wanted.major, wanted.minor, wanted.slots.len()),
        found: (provider.major, provider.minor, provider.slots.len()),
    };
    if provider.name != wanted.name {
        return Err(fail(Mismatch::Name { found: provider.name.clone() }));
    }
    if provider.major != wanted.major {
        return Err(fail(Mismatch::Major));
    }
    if provider.minor < wanted.minor {
        return Err(fail(Mismatch::Minor));
    }
    if provider.slots.len() < wanted.slots.len() {
        return Err(fail(Mismatch::MissingSlots));
    }
    for (i, (w, p)) in wanted.slots.iter().zip(&provider.slots).enumerate() {
        if w.name != p.name {
            return Err(fail(Mismatch::SlotName { slot: i, wanted: w.name.clone(), found: p.name.clone() }));
        }
        if !w.signature.is_compatible(&p.signature) {
            return Err(fail(Mismatch::SlotSignature {
                slot: i,
                name: w.name.clone(),
                wanted: w.signature.to_canonical(),
                found: p.signature.to_canonical(),
            }));
        }
    }
    Ok(())
}
