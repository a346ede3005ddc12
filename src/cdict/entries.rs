//! The process's `__cdict__` implementations: made once per exported API, on the first look at a
//! provider's `__cdict__`, from the registry (the API's slots and their CPython-API stubs), and
//! kept for the life of the process like the API itself. Python refers to an implementation by
//! its index in [`IMPLEMENTATIONS`]: a forged index is an error, never a wild call.

use crate::cdict::implementation::Implementation;
use crate::hpy::error::{Error, Exception, Result};
use crate::registry::REGISTRY;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;

/// Every implementation made so far; only ever appended to.
static IMPLEMENTATIONS: RwLock<Vec<Arc<Implementation>>> = RwLock::new(Vec::new());

/// Per API name: its entries, in slot order, each a name and the indices of its implementations.
static BY_API: Mutex<Option<HashMap<String, Arc<[Entry]>>>> = Mutex::new(None);

pub struct Entry {
    pub name: String,
    pub implementations: Vec<usize>,
    /// The provider's doc string for it (`HPyBridge_ExportEx`), if any.
    pub doc: Option<String>,
}

/// The entries of the registered API `api`: per slot its HPy implementation, then its CPython-API
/// stub where it has one of another signature.
pub fn api_entries(api: &str) -> Result<Arc<[Entry]>> {
    let mut by_api = BY_API.lock();
    if let Some(entries) = by_api.get_or_insert_with(HashMap::new).get(api) {
        return Ok(entries.clone());
    }
    let mut made = Vec::new();
    let mut entries = Vec::new();
    {
        let registry = REGISTRY.lock();
        let Some(a) = registry.iter().find(|a| a.decl.name == api) else {
            return Err(Error::new(Exception::ValueError, format!("no API named {api:?} is registered")));
        };
        let home = a.published.table.provider_ctx;
        for ((_, slot, stub), info) in a.slot_forms().zip(&a.info) {
            let entry = format!("{}.{}", a.module, slot.name);
            let mut implementations = vec![Implementation::new(
                entry.clone(),
                &slot.signature,
                slot.function,
                &a.module,
                Some(a.family.clone()),
                home,
            )?
            .with_flags(info.flags)];
            if let Some(stub) = stub {
                implementations.push(Implementation::new(
                    entry,
                    &stub.signature,
                    stub.function,
                    &a.module,
                    None,
                    home,
                )?);
            }
            entries.push((slot.name.clone(), implementations, info.doc.clone()));
        }
    }
    let mut table = IMPLEMENTATIONS.write();
    for (name, implementations, doc) in entries {
        let first = table.len();
        let count = implementations.len();
        table.extend(implementations.into_iter().map(Arc::new));
        made.push(Entry { name, implementations: (first..first + count).collect(), doc });
    }
    let made: Arc<[Entry]> = made.into();
    by_api.get_or_insert_with(HashMap::new).insert(api.to_owned(), made.clone());
    Ok(made)
}

/// The implementation Python calls `index`.
pub fn implementation(index: usize) -> Result<Arc<Implementation>> {
    IMPLEMENTATIONS
        .read()
        .get(index)
        .cloned()
        .ok_or_else(|| Error::new(Exception::ValueError, format!("no __cdict__ implementation has index {index}")))
}

/// Adds an implementation made elsewhere (a type's or an object's entry, `registry::object_cdict`)
/// and returns the index Python calls it by.
pub fn add_implementation(imp: Implementation) -> usize {
    let mut table = IMPLEMENTATIONS.write();
    table.push(Arc::new(imp));
    table.len() - 1
}
