//! Adopting foreign C functions (docs/cdict.md §10, `hpybridge.cfunction`): a function pointer from
//! ctypes, cffi, numba, Cython, SciPy, a capsule or an address, with its canonical signature,
//! becomes an implementation like any other (`FLAG_FOREIGN`, no family: called directly), which a
//! `CFunction` holds, Python calls through the same marshalling, and a `__cdict__` may store.
//!
//! Which object is what, and its signature text, is the Python side's business
//! (python/hpybridge/adopt.py); here the signature is parsed, checked and the call prepared.
//! Adopting the same function under the same name, signature and bound words again gives the same
//! implementation: implementations live for the process, so repeated adoption must not grow them.

use crate::cdict::entries::add_implementation;
use crate::cdict::implementation::Implementation;
use crate::cdict::info::EntryInfo;
use crate::hpy::error::{Error, Exception, PyError, Result};
use capsules::signature::{CType, Pointee, Scalar, Signature};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;

/// What an adoption is keyed by: entry name, provider, address, full canonical signature, bound
/// words, flags.
type Key = (String, String, usize, String, Vec<u64>, u32);

/// The implementations made by `adopt`, by what made them.
static ADOPTED: Mutex<Option<HashMap<Key, usize>>> = Mutex::new(None);

/// The index of an implementation of `entry` by the foreign function at `address`, of the
/// signature `text` (its last `bound.len()` parameters filled in with `bound`, hidden from
/// Python), adopted from `provider`, with `flags` (0 or `FLAG_NOGIL`: the caller says it may run
/// without the GIL, checked as a provider's `HPyBridge_EntryInfo` is).
pub fn adopt(entry: &str, provider: &str, address: u64, text: &str, bound: &[u64], flags: u32) -> Result<usize> {
    let full = Signature::parse(text).map_err(|e| {
        Error::new(PyError::SignatureSyntaxError, format!("{entry}: signature \"{text}\": {e}\n{}", e.caret()))
    })?;
    if address == 0 {
        return Err(Error::new(Exception::ValueError, format!("{entry} \"{full}\": the function address is NULL")));
    }
    if let Some(why) = needs_context(&full) {
        return Err(Error::new(
            Exception::TypeError,
            format!(
                "{entry} \"{full}\": {why}, which only a function of a known HPy context family can take; \
                 a foreign C function has none (export it through an API spec instead)"
            ),
        ));
    }
    if bound.len() > full.args.len() {
        return Err(Error::new(
            Exception::ValueError,
            format!("{entry} \"{full}\": {} bound arguments, but it has {} parameters", bound.len(), full.args.len()),
        ));
    }
    let first = full.args.len() - bound.len();
    if let Some((i, ty)) = full.args[first..].iter().enumerate().find(|(_, ty)| !word_sized(ty)) {
        return Err(Error::new(
            Exception::TypeError,
            format!(
                "{entry} \"{full}\": argument {} ({}) cannot be bound: only integer and pointer parameters can",
                first + i + 1,
                ty.qualified()
            ),
        ));
    }
    // SAFETY: no doc string (null).
    let info = unsafe { EntryInfo::new(flags, std::ptr::null(), entry, &full) }?;
    let key = (entry.to_owned(), provider.to_owned(), address as usize, full.to_canonical(), bound.to_vec(), flags);
    let mut adopted = ADOPTED.lock();
    if let Some(&index) = adopted.get_or_insert_with(HashMap::new).get(&key) {
        return Ok(index);
    }
    let function = address as usize as *const c_void;
    let implementation = Implementation::foreign(entry.to_owned(), &full, bound, function, provider)?;
    let index = add_implementation(implementation.with_flags(info.flags));
    adopted.get_or_insert_with(HashMap::new).insert(key, index);
    Ok(index)
}

/// Why a function of `sig` needs an HPy context family, if it does: an `HPyContext *` or an `HPy`
/// (or a pointer to one) anywhere.
fn needs_context(sig: &Signature) -> Option<&'static str> {
    let types = || sig.args.iter().chain([&sig.ret]);
    if types().any(|t| matches!(t, CType::Pointer { target: Pointee::Context, .. })) {
        return Some("it takes an HPyContext *");
    }
    let handle = |t: &CType| {
        matches!(t, CType::Value(Scalar::Handle) | CType::Pointer { target: Pointee::Scalar(Scalar::Handle), .. })
    };
    types().any(handle).then_some("it passes HPy handles")
}

/// Whether a bound word can stand for a parameter of type `ty`: integers and pointers, passed in
/// an integer register.
fn word_sized(ty: &CType) -> bool {
    matches!(ty, CType::Value(Scalar::Int(_)) | CType::Pointer { .. })
}
