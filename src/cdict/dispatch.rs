//! Calling a `CFunction` from Python: picking the implementation that accepts the arguments.
//!
//! The rule (docs/cdict.md): implementations are tried in their order (an entry's HPy
//! implementation first, then its CPython-API stub); the first whose parameters all accept the
//! arguments is called. If none does, the first implementation's error is raised. A conversion
//! that raised an exception of its own (say, from a `__float__` method) stops the search: that
//! exception is raised.

use crate::cdict::implementation::Implementation;
use crate::hpy::error::{Error, Result};
use hpy_sys::{HPy, HPyContext};
use std::ops::Deref;

/// Calls the `CFunction` whose implementations `implementations` yields, in order, with `args`.
/// They are read lazily: a call usually takes the first implementation.
///
/// # Safety
/// `ctx` must be the runtime's context of the current call and `args` live handles of it.
pub unsafe fn call<I: Deref<Target = Implementation>>(
    ctx: *mut HPyContext,
    implementations: impl Iterator<Item = Result<I>>,
    args: &[HPy],
) -> Result<HPy> {
    let mut refused = None;
    for imp in implementations {
        let imp = imp?;
        // SAFETY: the caller's contract.
        match unsafe { imp.marshal(ctx, args) } {
            // SAFETY: as above; the words were made for this implementation.
            Ok(m) => return unsafe { imp.invoke(ctx, m) },
            Err(Error::Set) => return Err(Error::Set),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    Err(refused
        .unwrap_or_else(|| Error::new(crate::hpy::error::Exception::TypeError, "a CFunction without implementations")))
}
