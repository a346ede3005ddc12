//! The tables consumers call through: what each slot holds for a given consumer family, the
//! trampolines behind them (made once per slot and consumer family), and call counting.
//!
//! A slot holds, cheapest first:
//! - the provider's own function, when consumer and provider share a family, or when the
//!   signature has neither a context nor a handle (nothing to translate);
//! - a context-swapping stub, when there is no handle to move (handles are shared, as between
//!   universal and trace mode, or the signature has none) and the provider's home context is valid
//!   for any call (any mode but CPython's debug mode): it replaces the context argument and jumps;
//! - a translating trampoline (`xcall::translate`) otherwise.
//!
//! With call counting on, a counting stub stands in front of whichever of those it is.

use crate::context::{Entry, Family};
use crate::transfer::Transfer;
use crate::xcall::{translate, CrossPlan};
use capsules::signature::{CType, Signature};
use hpy_sys::HPyContext;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;
use trampolines::{BackendKind, Trampolines};

/// Executable memory all trampolines of the process may take.
const CODE_LIMIT: usize = 64 << 20;

static TRAMPOLINES: OnceLock<Result<Trampolines, String>> = OnceLock::new();

/// The process's trampoline factory, with the backend `HPYBRIDGE_TRAMPOLINES` selects.
pub fn trampolines() -> Result<&'static Trampolines, String> {
    TRAMPOLINES
        .get_or_init(|| BackendKind::from_env().map(|kind| Trampolines::new(kind, CODE_LIMIT)))
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether new and existing tables route calls through counting stubs.
pub static COUNTING: AtomicBool = AtomicBool::new(false);

/// The trampolines made for one API's slots, per consumer family; kept with the API's registry entry.
#[derive(Default)]
pub struct Crossings {
    entries: HashMap<(usize, Family), *const c_void>,
    // Boxed: trampolines hold each plan's address, which must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    plans: Vec<Box<CrossPlan>>,
}

// SAFETY: code pointers and plans are immutable and live for the process.
unsafe impl Send for Crossings {}

impl Crossings {
    /// What slot `index` (signature `sig`, provider function `target`) holds for consumers of
    /// family `consumer`; `consumer_ctx` is one such consumer's context, valid now.
    ///
    /// # Safety
    /// `home` must be the provider's home context and `consumer_ctx` valid for the current call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn entry(
        &mut self,
        index: usize,
        sig: &Signature,
        target: *const c_void,
        provider: &Family,
        home: *mut HPyContext,
        consumer: &Family,
        consumer_ctx: *mut HPyContext,
    ) -> Result<*const c_void, String> {
        if provider == consumer {
            return Ok(target);
        }
        if let Some(&code) = self.entries.get(&(index, consumer.clone())) {
            return Ok(code);
        }
        let positions = |t: CType| sig.args.iter().enumerate().filter(move |(_, a)| **a == t).map(|(i, _)| i);
        let ctx_args: Box<[usize]> = positions(CType::CONTEXT).collect();
        let handle_args: Box<[usize]> = positions(CType::HANDLE).collect();
        let uses_handles = !handle_args.is_empty() || sig.returns_handle();
        if ctx_args.is_empty() {
            if uses_handles {
                return Err(format!(
                    "\"{sig}\" passes HPy handles but no HPyContext *: there is no context to translate them from"
                ));
            }
            return Ok(target); // nothing context-dependent crosses
        }
        let to_provider = Transfer::between(consumer, consumer_ctx, provider, home);
        // No handle work: handles are shared, or the signature has none (then only the context
        // differs, whatever the families).
        let handle_work = uses_handles && to_provider != Transfer::Shared;
        let t = trampolines()?;
        let code = if !handle_work && provider.entry() == Entry::Home && *ctx_args == [0] {
            t.swap_arg0(sig, target, home as u64)
        } else {
            let plan = Box::new(CrossPlan {
                target,
                home,
                entry: provider.entry(),
                to_provider,
                to_consumer: Transfer::between(provider, home, consumer, consumer_ctx),
                ctx_args,
                handle_args,
                returns_handle: sig.returns_handle(),
                consumer_is_cpython_debug: consumer.entry() == Entry::ThroughTrampolineCall,
            });
            let code = t.intercept(sig, translate, (&*plan as *const CrossPlan).cast());
            self.plans.push(plan);
            code
        }
        .map_err(|e| format!("cannot make a trampoline for \"{sig}\": {e}"))?;
        self.entries.insert((index, consumer.clone()), code);
        Ok(code)
    }
}

/// One consumer's table: what its import returned. The slots are read by the consumer on every
/// call, so switching counting on or off takes effect at once.
pub struct Table {
    pub slots: Box<[AtomicPtr<c_void>]>,
    /// What each slot holds with counting off.
    base: Box<[*const c_void]>,
    counters: Box<[AtomicU64]>,
    counting_stubs: Vec<Option<*const c_void>>,
}

// SAFETY: the raw pointers are process-lifetime code; slots and counters are atomics.
unsafe impl Send for Table {}

impl Table {
    pub fn new(base: Vec<*const c_void>) -> Table {
        let n = base.len();
        Table {
            slots: base.iter().map(|&p| AtomicPtr::new(p.cast_mut())).collect(),
            base: base.into_boxed_slice(),
            counters: (0..n).map(|_| AtomicU64::new(0)).collect(),
            counting_stubs: vec![None; n],
        }
    }

    /// Points every slot at a counting stub (`on`) or back at its base entry.
    pub fn set_counting(&mut self, on: bool, signatures: &[Signature]) -> Result<(), String> {
        for (i, signature) in signatures.iter().enumerate().take(self.base.len()) {
            let entry = if on {
                match self.counting_stubs[i] {
                    Some(stub) => stub,
                    None => {
                        let stub = trampolines()?
                            .count(signature, self.base[i], &self.counters[i])
                            .map_err(|e| format!("cannot make a counting stub for \"{signature}\": {e}"))?;
                        self.counting_stubs[i] = Some(stub);
                        stub
                    }
                }
            } else {
                self.base[i]
            };
            self.slots[i].store(entry.cast_mut(), Ordering::Release);
        }
        Ok(())
    }

    pub fn slot_count(&self) -> usize {
        self.base.len()
    }

    /// The addresses the slots hold now.
    pub fn entries(&self) -> Vec<usize> {
        self.slots.iter().map(|s| s.load(Ordering::Acquire) as usize).collect()
    }

    pub fn calls(&self, slot: usize) -> u64 {
        self.counters[slot].load(Ordering::Relaxed)
    }

    pub fn reset_counts(&self) {
        self.counters.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    }

    /// What the consumer gets: an array of function pointers (AtomicPtr has the layout of a pointer).
    pub fn as_c_array(&self) -> *const *mut c_void {
        self.slots.as_ptr().cast()
    }
}
