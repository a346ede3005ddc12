//! A `__cdict__` entry as Python holds it (`hpybridge._runtime.CFunction`, docs/cdict.md §2): its
//! name, description and implementations, resolved once when it is made, so that a call goes
//! straight to them (no index to look up, no lock, no reference count to touch). Immutable: many
//! threads may call one concurrently.

use crate::cdict::dispatch;
use crate::cdict::entries::implementation;
use crate::cdict::implementation::{Implementation, FLAG_FOREIGN};
use crate::hpy::error::{Error, Exception, Result};
use hpy_sys::{HPy, HPyContext};
use std::sync::Arc;

pub struct CFunction {
    /// `<module>.<entry>`.
    pub name: String,
    pub doc: String,
    /// In the order calls try them, each with its index (what `cdict_entries` calls it).
    pub implementations: Box<[(usize, Arc<Implementation>)]>,
}

impl CFunction {
    /// The entry `name` of the implementations `indices` (at least one), described by `doc`.
    pub fn new(name: String, indices: &[usize], doc: String) -> Result<CFunction> {
        if indices.is_empty() {
            return Err(Error::new(Exception::ValueError, format!("{name}: a CFunction needs an implementation")));
        }
        let implementations = indices.iter().map(|&i| Ok((i, implementation(i)?))).collect::<Result<_>>()?;
        Ok(CFunction { name, doc, implementations })
    }

    /// A `CFunction` of this one's implementation of the canonical signature `canonical` alone.
    pub fn select(&self, canonical: &str) -> Result<CFunction> {
        let found = self.implementations.iter().find(|(_, imp)| imp.signature.to_canonical() == canonical);
        let Some((index, imp)) = found else {
            let have = self.signatures().iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
            return Err(Error::new(
                Exception::KeyError,
                format!("{} has no implementation '{canonical}' (it has {have})", self.name),
            ));
        };
        Ok(CFunction {
            name: self.name.clone(),
            doc: self.doc.clone(),
            implementations: [(*index, imp.clone())].into(),
        })
    }

    pub fn signatures(&self) -> Vec<String> {
        self.implementations.iter().map(|(_, imp)| imp.signature.to_canonical()).collect()
    }

    /// `<hpybridge.CFunction geometry.norm: double (HPyContext *, HPy) [universal/CPython]; ...>`; an
    /// adopted one `<hpybridge.CFunction cy.j0: double (double) [foreign, cython:m; binds argument 2 (int) = 0]>`.
    pub fn repr(&self) -> String {
        let parts: Vec<String> = self
            .implementations
            .iter()
            .map(|(_, imp)| {
                let family = match (&imp.family, imp.flags & FLAG_FOREIGN != 0) {
                    (Some(f), _) => f.to_string(),
                    (None, false) => "C-API".to_owned(),
                    (None, true) => match &imp.binds {
                        Some(binds) => format!("foreign, {}; binds {binds}", imp.provider),
                        None => format!("foreign, {}", imp.provider),
                    },
                };
                format!("{} [{family}]", imp.signature.to_canonical())
            })
            .collect();
        format!("<hpybridge.CFunction {}: {}>", self.name, parts.join("; "))
    }

    /// Calls it with `args` (`dispatch::call`).
    ///
    /// # Safety
    /// `ctx` must be the runtime's context of the current call and `args` live handles of it.
    pub unsafe fn call(&self, ctx: *mut HPyContext, args: &[HPy]) -> Result<HPy> {
        // SAFETY: the caller's contract. The first implementation's fast path takes the call if it
        // applies: then the general path would have picked that implementation too.
        unsafe {
            if let Some(result) = self.implementations[0].1.call_scalar(ctx, args) {
                return result;
            }
            dispatch::call(ctx, self.implementations.iter().map(|(_, imp)| Ok(&**imp)), args)
        }
    }
}
