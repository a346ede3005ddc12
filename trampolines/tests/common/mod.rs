//! Shared by the integration tests: running each test once per backend, and small helpers.

// Each test file uses a different subset.
#![allow(dead_code)]

use std::ffi::c_void;
use trampolines::Signature;

/// For each `name`, a module `name` with one test per backend (`name::dynasm`, `name::libffi`)
/// that runs `name(kind)`.
#[allow(unused_macros)]
macro_rules! for_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[cfg(target_arch = "x86_64")]
            #[test]
            fn dynasm() {
                super::$name(trampolines::BackendKind::Dynasm)
            }

            #[test]
            fn libffi() {
                super::$name(trampolines::BackendKind::Libffi)
            }
        }
    )*};
}

pub fn sig(s: &str) -> Signature {
    Signature::parse(s).expect("valid signature")
}

/// Code memory for one test's factory: plenty.
pub const LIMIT: usize = 1 << 20;

/// A trampoline as the `extern "C" fn` type `F` it was made for.
///
/// # Safety
/// `F` must be an `extern "C" fn` type matching the trampoline's signature.
pub unsafe fn as_fn<F: Copy>(code: *const c_void) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*const c_void>());
    // SAFETY: `F` is a function pointer type of the trampoline's signature (the caller's contract).
    unsafe { std::mem::transmute_copy(&code) }
}

/// A function's address, as the crate takes targets.
pub fn addr<F: Copy>(f: F) -> *const c_void {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*const c_void>());
    // SAFETY: `F` is a function pointer type (checked size).
    unsafe { std::mem::transmute_copy(&f) }
}

/// The handler that changes nothing: `data` is the target.
///
/// # Safety
/// `target` must have the call's signature.
pub unsafe fn pass(call: &mut dyn trampolines::Call, target: *const c_void) {
    // SAFETY: `target` has the call's signature (the caller's contract).
    unsafe { call.invoke(target) }
}

/// The instructions of the stub at `code`, decoded up to and including its first `jmp` or `ret`.
/// Each stub the tests decode is the first code of a fresh factory, at the start of at least a page:
/// reading 96 bytes stays inside the mapping.
#[cfg(target_arch = "x86_64")]
pub fn stub_instructions(code: *const c_void) -> Vec<String> {
    stub_instructions_within(code, 96)
}

/// `stub_instructions` reading up to `len` bytes (at most a page: see there).
#[cfg(target_arch = "x86_64")]
pub fn stub_instructions_within(code: *const c_void, len: usize) -> Vec<String> {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, Mnemonic};
    assert!(len <= 4096, "within the stub's page");
    // SAFETY: as above; code memory is readable.
    let bytes = unsafe { std::slice::from_raw_parts(code.cast::<u8>(), len) };
    let mut decoder = Decoder::with_ip(64, bytes, code as u64, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let mut listing = Vec::new();
    for instruction in &mut decoder {
        let mut text = String::new();
        formatter.format(&instruction, &mut text);
        listing.push(text);
        if matches!(instruction.mnemonic(), Mnemonic::Jmp | Mnemonic::Ret) {
            return listing;
        }
    }
    panic!("no jmp or ret in the first {len} bytes: {listing:?}");
}
