//! `drop_first`: the stub's caller passes a leading word the target does not take; the target gets
//! the rest, adjusted, and its result comes back adjusted. On both backends, on dynasm's
//! few-instruction path and on the generic one (a stub argument on the stack), with NULL words left
//! NULL; and how few instructions the fast stubs are.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions;
use common::{addr, as_fn, sig, LIMIT};
use trampolines::{Adjust, BackendKind, Error, Trampolines};

for_both_backends!(a_double_without_the_context, handles_become_objects_and_back, from_the_stack, refused);

extern "C" fn inc(x: f64) -> f64 {
    x + 1.0
}

fn a_double_without_the_context(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = t.drop_first(
        &sig("double (void *, double)"),
        addr(inc as extern "C" fn(f64) -> f64),
        &[Adjust::Keep],
        Adjust::Keep,
    );
    // SAFETY: made for this signature.
    let f: extern "C" fn(u64, f64) -> f64 = unsafe { as_fn(code.expect("stub")) };
    assert_eq!(f(0x7000, 41.0), 42.0);
}

/// Gets objects (handles minus one) and the other values; returns object `a` or `b` as told.
extern "C" fn choose(a: u64, x: f64, b: u64, second: i64) -> u64 {
    assert!(a == 0 || a % 16 == 0, "handles minus one: {a:#x}");
    assert_eq!(x, 2.5);
    if second != 0 {
        b
    } else {
        a
    }
}

const CHOOSE: &str = "void * (void *, void *, double, void *, int64_t)";
const IN: [Adjust; 4] = [Adjust::AddUnlessZero(-1), Adjust::Keep, Adjust::AddUnlessZero(-1), Adjust::Keep];

fn handles_become_objects_and_back(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(choose as extern "C" fn(u64, f64, u64, i64) -> u64);
    let code = t.drop_first(&sig(CHOOSE), target, &IN, Adjust::AddUnlessZero(1)).expect("stub");
    // SAFETY: made for this signature.
    let f: extern "C" fn(u64, u64, f64, u64, i64) -> u64 = unsafe { as_fn(code) };
    assert_eq!(f(7, 0x1001, 2.5, 0x2001, 0), 0x1001);
    assert_eq!(f(7, 0x1001, 2.5, 0x2001, 1), 0x2001);
    assert_eq!(f(7, 0, 2.5, 0x2001, 0), 0, "NULL in, NULL out");
}

extern "C" fn seven(a: u64, b: u64, c: u64, d: u64, e: u64, g: u64) -> u64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * g
}

/// Seven integer-class parameters: the stub's last one is on the stack, the target's in r9.
fn from_the_stack(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(seven as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64);
    let args = [Adjust::Keep, Adjust::Keep, Adjust::Keep, Adjust::Keep, Adjust::Keep, Adjust::AddUnlessZero(-1)];
    let code = t.drop_first(&sig("long (void *, long, long, long, long, long, void *)"), target, &args, Adjust::Keep);
    // SAFETY: made for this signature.
    let f: extern "C" fn(u64, u64, u64, u64, u64, u64, u64) -> u64 = unsafe { as_fn(code.expect("stub")) };
    assert_eq!(f(99, 1, 1, 1, 1, 1, 2), 1 + 2 + 3 + 4 + 5 + 6);
}

fn refused(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(inc as extern "C" fn(f64) -> f64);
    let e = t.drop_first(&sig("double (double, double)"), target, &[Adjust::Keep], Adjust::Keep).unwrap_err();
    assert!(matches!(e, Error::Unsupported { ref reason, .. } if reason.contains("integer-class parameter 0")), "{e}");
    let e = t.drop_first(&sig("double (void *, double)"), target, &[Adjust::AddUnlessZero(-1)], Adjust::Keep);
    assert!(e.unwrap_err().to_string().contains("parameter 1 is adjusted but is no pointer"));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dynasm_stubs_are_short() {
    let count = |s: &str, args: &[Adjust], ret| {
        let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
        stub_instructions(t.drop_first(&sig(s), addr(inc as extern "C" fn(f64) -> f64), args, ret).expect("stub"))
    };
    // jmp [rip + target]
    assert_eq!(count("double (void *, double)", &[Adjust::Keep], Adjust::Keep).len(), 1);
    // mov rdi, rsi; sub/adc; sub rsp; call [rip + target]; cmp/sbb; add rsp; ret
    let one = count("void * (void *, void *)", &[Adjust::AddUnlessZero(-1)], Adjust::AddUnlessZero(1));
    assert_eq!(one.len(), 9, "{one:?}");
}
