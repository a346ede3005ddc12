//! Consumer tables: the array of function pointers `import_api` hands one consumer, slot by slot,
//! and call counting. Each slot holds what the slot's call plan made (`plan`); with call counting
//! on, a counting stub stands in front of it.

use crate::crossing::plan::trampolines;
use crate::hpy::error::{Error, Exception, Result};
use capsules::signature::Signature;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Whether new and existing tables route calls through counting stubs.
pub static COUNTING: AtomicBool = AtomicBool::new(false);

/// One consumer's table: what its import returned. The slots are read by the consumer on every
/// call, so switching counting on or off takes effect at once.
pub struct ConsumerTable {
    pub slots: Box<[AtomicPtr<c_void>]>,
    /// What each slot holds with counting off.
    base: Box<[*const c_void]>,
    counters: Box<[AtomicU64]>,
    counting_stubs: Vec<Option<*const c_void>>,
}

// SAFETY: the raw pointers are process-lifetime code; slots and counters are atomics.
unsafe impl Send for ConsumerTable {}

impl ConsumerTable {
    pub fn new(base: Vec<*const c_void>) -> ConsumerTable {
        let n = base.len();
        ConsumerTable {
            slots: base.iter().map(|&p| AtomicPtr::new(p.cast_mut())).collect(),
            base: base.into_boxed_slice(),
            counters: (0..n).map(|_| AtomicU64::new(0)).collect(),
            counting_stubs: vec![None; n],
        }
    }

    /// Points every slot at a counting stub (`on`) or back at its base code.
    /// A `RuntimeError` if a counting stub cannot be made.
    pub fn set_counting(&mut self, on: bool, signatures: &[Signature]) -> Result<()> {
        for (i, signature) in signatures.iter().enumerate().take(self.base.len()) {
            if self.base[i].is_null() {
                continue; // a slot without a function (no CPython-API form): nothing to count
            }
            let code = if on {
                match self.counting_stubs[i] {
                    Some(stub) => stub,
                    None => {
                        let stub = trampolines()?.count(signature, self.base[i], &self.counters[i]).map_err(|e| {
                            let why = format!("cannot make a counting stub for \"{signature}\": {e}");
                            Error::new(Exception::RuntimeError, why)
                        })?;
                        self.counting_stubs[i] = Some(stub);
                        stub
                    }
                }
            } else {
                self.base[i]
            };
            self.slots[i].store(code.cast_mut(), Ordering::Release);
        }
        Ok(())
    }

    pub fn slot_count(&self) -> usize {
        self.base.len()
    }

    /// The addresses the slots hold now.
    pub fn addresses(&self) -> Vec<usize> {
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
