//! Call plans: what each slot of an API holds for consumers of one context family, made once per
//! slot and consumer family, and the trampoline factory that makes them.
//!
//! A slot holds, cheapest first:
//! - the provider's own function, when consumer and provider share a family, or when the
//!   signature has neither a context nor a handle (nothing to translate);
//! - a context-swapping stub, when there is no handle to move (handles are shared, as between
//!   universal and trace mode, or the signature has none) and the provider's home context is valid
//!   for any call (any mode but debug mode: CPython's hands out contexts per call, PyPy's one
//!   context may be marked invalid by a call-out): it replaces the context argument and jumps (for
//!   a consumer in CPython's debug mode it calls, then marks the consumer's context valid again);
//! - a translating trampoline (`translate::translate`) otherwise.

use crate::crossing::family::{Entry, Family};
use crate::crossing::transfer::Transfer;
use crate::crossing::translate::{translate, CrossPlan};
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::private::DebugCtxInfoHead;
use capsules::signature::{CType, Signature};
use hpy_sys::HPyContext;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::OnceLock;
use trampolines::{BackendKind, Mark, SettingError, Trampolines};

/// Sets a CPython debug context's validity flag through its `_private` (hpy::private): what a swap
/// stub for a debug consumer does after the call.
const VALID_AGAIN: Mark = Mark {
    via: std::mem::offset_of!(HPyContext, _private) as i32,
    at: std::mem::offset_of!(DebugCtxInfoHead, is_valid) as i32,
    byte: 1,
};

/// Executable memory all trampolines of the process may take.
const CODE_LIMIT: usize = 64 << 20;

static TRAMPOLINES: OnceLock<Result<Trampolines, SettingError>> = OnceLock::new();

/// The process's trampoline factory, with the backend `HPYBRIDGE_TRAMPOLINES` selects; a
/// `ValueError` naming the setting if it names no backend of this machine.
pub fn trampolines() -> Result<&'static Trampolines> {
    TRAMPOLINES
        .get_or_init(|| BackendKind::from_env().map(|kind| Trampolines::new(kind, CODE_LIMIT)))
        .as_ref()
        .map_err(|why| Error::new(Exception::ValueError, why.to_string()))
}

/// What each of one API's slots holds, per consumer family; kept with the API in the registry.
#[derive(Default)]
pub struct CallPlans {
    code: HashMap<(usize, Family), *const c_void>,
    // Boxed: trampolines hold each plan's address, which must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    translating: Vec<Box<CrossPlan>>,
}

// SAFETY: code pointers and plans are immutable and live for the process.
unsafe impl Send for CallPlans {}

impl CallPlans {
    /// What slot `index` (signature `sig`, provider function `target`) holds for consumers of
    /// family `consumer`; `consumer_ctx` is one such consumer's context, valid now.
    ///
    /// # Safety
    /// `home` must be the provider's home context and `consumer_ctx` valid for the current call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn slot_code(
        &mut self,
        index: usize,
        sig: &Signature,
        target: *const c_void,
        provider: &Family,
        home: *mut HPyContext,
        consumer: &Family,
        consumer_ctx: *mut HPyContext,
    ) -> Result<*const c_void> {
        if provider == consumer {
            return Ok(target);
        }
        if let Some(&code) = self.code.get(&(index, consumer.clone())) {
            return Ok(code);
        }
        let positions = |t: CType| sig.args.iter().enumerate().filter(move |(_, a)| **a == t).map(|(i, _)| i);
        let ctx_args: Box<[usize]> = positions(CType::CONTEXT).collect();
        let handle_args: Box<[usize]> = positions(CType::HANDLE).collect();
        let uses_handles = !handle_args.is_empty() || sig.returns_handle();
        if ctx_args.is_empty() {
            if uses_handles {
                return Err(Error::new(
                    PyError::CrossModeError,
                    format!(
                        "\"{sig}\" passes HPy handles but no HPyContext *: there is no context to translate them \
                         from"
                    ),
                ));
            }
            return Ok(target); // nothing context-dependent crosses
        }
        // SAFETY: both contexts are live; `consumer_ctx` is valid now and `home` valid for calls
        // unless the provider is in CPython's debug mode (the caller's contract).
        let to_provider = unsafe { Transfer::between(consumer, consumer_ctx, provider, home) };
        // SAFETY: as above.
        let to_consumer = unsafe { Transfer::between(provider, home, consumer, consumer_ctx) };
        // No handle work: handles are shared, or the signature has none (then only the context
        // differs, whatever the families).
        let handle_work = uses_handles && to_provider != Transfer::Shared;
        let t = trampolines()?;
        // A CPython debug consumer's context must be marked valid again when the provider returns
        // (translate.rs says why): the swap stub then calls instead of jumping, and sets the flag.
        let consumer_is_cpython_debug = consumer.entry() == Entry::ThroughTrampolineCall;
        let swap = !handle_work && provider.entry() == Entry::Home && *ctx_args == [0];
        let marking_swap = if swap && consumer_is_cpython_debug {
            t.swap_arg0_and_mark(sig, target, home as u64, VALID_AGAIN).map_err(|e| {
                Error::new(PyError::CrossModeError, format!("cannot make a trampoline for \"{sig}\": {e}"))
            })?
        } else {
            None
        };
        let code = if let Some(code) = marking_swap {
            Ok(code)
        } else if swap && !consumer_is_cpython_debug {
            t.swap_arg0(sig, target, home as u64)
        } else {
            let plan = Box::new(CrossPlan {
                target,
                home,
                entry: provider.entry(),
                to_provider,
                to_consumer,
                ctx_args,
                handle_args,
                returns_handle: sig.returns_handle(),
            });
            let handler = if consumer_is_cpython_debug { translate::<true> } else { translate::<false> };
            let code = t.intercept(sig, handler, (&*plan as *const CrossPlan).cast());
            self.translating.push(plan);
            code
        }
        .map_err(|e| Error::new(PyError::CrossModeError, format!("cannot make a trampoline for \"{sig}\": {e}")))?;
        self.code.insert((index, consumer.clone()), code);
        Ok(code)
    }
}
