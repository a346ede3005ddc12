//! `prepend`: the stub's caller passes words without the leading argument; the target gets
//! `first` in front and the adjusted words, and its result comes back adjusted. On both backends,
//! on dynasm's few-instruction path and on the generic one (arguments that the shift would push
//! to the stack), with NULL words left NULL; and how few instructions the fast stubs are.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions;
use common::{addr, as_fn, sig, LIMIT};
use std::ffi::c_void;
use trampolines::{Adjust, BackendKind, Error, Trampolines};

for_both_backends!(
    context_in_front_of_a_double,
    objects_become_handles_and_back,
    null_stays_null,
    shifted_onto_the_stack,
    floats_beside_adjusted_words,
    many_threads,
    refused_adjustments,
);

const HOME: u64 = 0x7000_0000;

extern "C" fn ctx_inc(ctx: u64, x: f64) -> f64 {
    assert_eq!(ctx, HOME, "the target gets `first` in front");
    x + 1.0
}

fn context_in_front_of_a_double(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = t
        .prepend(
            &sig("double (double)"),
            addr(ctx_inc as extern "C" fn(u64, f64) -> f64),
            HOME,
            &[Adjust::Keep],
            Adjust::Keep,
        )
        .expect("stub");
    // SAFETY: made for this signature.
    let f: extern "C" fn(f64) -> f64 = unsafe { as_fn(code) };
    assert_eq!(f(41.0), 42.0);
}

/// Gets `obj + 1` (a handle) and the other values; returns handle `a` or `b` as told.
extern "C" fn choose(ctx: u64, a: u64, x: f64, b: u64, second: i64) -> u64 {
    assert_eq!(ctx, HOME);
    assert_eq!(x, 2.5);
    if second != 0 {
        b
    } else {
        a
    }
}

type Choose = extern "C" fn(u64, f64, u64, i64) -> u64;
const CHOOSE: &str = "void * (void *, double, void *, int64_t)";
const IN: [Adjust; 4] = [Adjust::AddUnlessZero(1), Adjust::Keep, Adjust::AddUnlessZero(1), Adjust::Keep];

/// The target sees `+1` handles; what it returns comes back `-1`: the objects themselves.
extern "C" fn check_handles(ctx: u64, a: u64, x: f64, b: u64, second: i64) -> u64 {
    assert!(a == 0 || a % 16 == 1, "object addresses plus one: {a:#x}");
    choose(ctx, a, x, b, second)
}

/// The stub of `check_handles`: objects in (+1), handle out (-1).
fn choose_stub(t: &Trampolines) -> *const c_void {
    let target = addr(check_handles as extern "C" fn(u64, u64, f64, u64, i64) -> u64);
    t.prepend(&sig(CHOOSE), target, HOME, &IN, Adjust::AddUnlessZero(-1)).expect("stub")
}

fn objects_become_handles_and_back(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = choose_stub(&t);
    // SAFETY: made for this signature.
    let f: Choose = unsafe { as_fn(code) };
    assert_eq!(f(0x1000, 2.5, 0x2000, 0), 0x1000);
    assert_eq!(f(0x1000, 2.5, 0x2000, 1), 0x2000);
}

fn null_stays_null(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = choose_stub(&t);
    // SAFETY: made for this signature.
    let f: Choose = unsafe { as_fn(code) };
    assert_eq!(f(0, 2.5, 0x2000, 0), 0, "a NULL argument arrives as 0 and a 0 result leaves as NULL");
    assert_eq!(f(0x1000, 2.5, 0, 1), 0);
}

type Six = extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64;

/// Seven integer-class parameters: the last one arrives on the stack.
extern "C" fn seven(ctx: u64, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    assert_eq!(ctx, HOME);
    a + 10 * b + 100 * c + 1000 * d + 10_000 * e + 100_000 * f
}

fn shifted_onto_the_stack(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let adjust =
        [Adjust::Keep, Adjust::AddUnlessZero(1), Adjust::Keep, Adjust::Keep, Adjust::Keep, Adjust::AddUnlessZero(2)];
    let code = t
        .prepend(
            &sig("int64_t (int64_t, int64_t, int64_t, int64_t, int64_t, int64_t)"),
            addr(seven as extern "C" fn(u64, u64, u64, u64, u64, u64, u64) -> u64),
            HOME,
            &adjust,
            Adjust::AddUnlessZero(-7),
        )
        .expect("generic stub");
    // SAFETY: made for this signature.
    let f: Six = unsafe { as_fn(code) };
    assert_eq!(f(1, 2, 3, 4, 5, 6), 1 + 30 + 300 + 4000 + 50_000 + 800_000 - 7);
}

type Floats = extern "C" fn(f64, u64, f32, f64, u64) -> f64;

extern "C" fn floats(ctx: u64, x: f64, a: u64, y: f32, z: f64, b: u64) -> f64 {
    assert_eq!(ctx, HOME);
    x + 10.0 * a as f64 + 100.0 * y as f64 + 1000.0 * z + 10_000.0 * b as f64
}

fn floats_beside_adjusted_words(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let adjust = [Adjust::Keep, Adjust::AddUnlessZero(1), Adjust::Keep, Adjust::Keep, Adjust::AddUnlessZero(1)];
    let code = t
        .prepend(
            &sig("double (double, void *, float, double, void *)"),
            addr(floats as extern "C" fn(u64, f64, u64, f32, f64, u64) -> f64),
            HOME,
            &adjust,
            Adjust::Keep,
        )
        .expect("stub");
    // SAFETY: made for this signature.
    let f: Floats = unsafe { as_fn(code) };
    assert_eq!(f(0.5, 1, 0.25, 0.125, 0), 0.5 + 20.0 + 25.0 + 125.0);
}

fn many_threads(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = choose_stub(&t) as usize;
    std::thread::scope(|s| {
        for k in 0..4u64 {
            s.spawn(move || {
                // SAFETY: made for this signature.
                let f: Choose = unsafe { as_fn(code as *const c_void) };
                for i in 1..10_000u64 {
                    assert_eq!(
                        f(16 * i, 2.5, 16 * (i + k), (i % 2) as i64),
                        if i % 2 == 1 { 16 * (i + k) } else { 16 * i }
                    );
                }
            });
        }
    });
}

fn refused_adjustments(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(ctx_inc as extern "C" fn(u64, f64) -> f64);
    let refused = |s: &str, args: &[Adjust], ret| match t.prepend(&sig(s), target, HOME, args, ret) {
        Err(Error::Unsupported { reason, .. }) => reason,
        other => panic!("{s}: expected Unsupported, got {other:?}"),
    };
    assert!(refused("double (double)", &[Adjust::AddUnlessZero(1)], Adjust::Keep).contains("parameter 0 is adjusted"));
    assert!(refused("int (int)", &[Adjust::AddUnlessZero(1)], Adjust::Keep).contains("parameter 0"));
    assert!(refused("double (double)", &[Adjust::Keep], Adjust::AddUnlessZero(1)).contains("the result is adjusted"));
    assert!(refused("void (void *)", &[], Adjust::Keep).contains("0 argument adjustments for 1 parameters"));
}

/// The fast stubs, instruction by instruction: what a fallback stub adds to a call.
#[cfg(target_arch = "x86_64")]
#[test]
fn dynasm_fast_stubs_are_short() {
    let count = |s: &str, args: &[Adjust], ret| {
        let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
        let code = t.prepend(&sig(s), addr(ctx_inc as extern "C" fn(u64, f64) -> f64), HOME, args, ret).expect("stub");
        stub_instructions(code)
    };
    // mov rdi, first; jmp [rip + target]
    assert_eq!(count("double (double)", &[Adjust::Keep], Adjust::Keep).len(), 2);
    // mov rsi, rdi; cmp/sbb; mov rdi, first; sub rsp; call [rip + target]; sub/adc; add rsp; ret
    let one = count("void * (void *)", &[Adjust::AddUnlessZero(1)], Adjust::AddUnlessZero(-1));
    assert_eq!(one.len(), 10, "{one:?}");
}
