//! `object_call`: a vectorcall-convention stub over an object model the test makes up (a type
//! word at byte 8, a `double` at byte 16): accepted calls reach the target with the objects'
//! values and are boxed; a failed target gives null; everything else reaches the general function
//! with the stub's arguments untouched. libffi has no such stub; too many doubles are refused.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions_within;
use common::{addr, LIMIT};
use std::cell::Cell;
use std::ffi::c_void;
use trampolines::{BackendKind, ObjectCall, Trampolines, MAX_DOUBLES};

for_both_backends!(calls, refused);

/// An object of the made-up model: a word, the type, a value.
#[repr(C)]
struct Obj {
    refs: u64,
    ty: *const u8,
    value: f64,
}

static FLOAT: u8 = 0;
static OTHER: u8 = 0;
const FLAG: usize = 1 << 63;

fn float(value: f64) -> Obj {
    Obj { refs: 1, ty: &FLOAT, value }
}

thread_local! {
    static FAIL: Cell<bool> = const { Cell::new(false) };
    static BOXED: Cell<Option<f64>> = const { Cell::new(None) };
    static GENERAL: Cell<Option<(usize, usize, usize, usize)>> = const { Cell::new(None) };
    static FIRST: Cell<u64> = const { Cell::new(0) };
}

const BOXED_MARK: usize = 0xb0;
const GENERAL_MARK: usize = 0x6e;

extern "C" fn failed() -> *const c_void {
    if FAIL.get() {
        addr(failed as extern "C" fn() -> *const c_void)
    } else {
        std::ptr::null()
    }
}

extern "C" fn box_result(d: f64) -> *const c_void {
    BOXED.set(Some(d));
    BOXED_MARK as *const c_void
}

extern "C" fn general(callable: usize, args: usize, nargsf: usize, kwnames: usize) -> *const c_void {
    GENERAL.set(Some((callable, args, nargsf, kwnames)));
    GENERAL_MARK as *const c_void
}

extern "C" fn half(x: f64) -> f64 {
    x / 2.0
}

extern "C" fn weighted(first: u64, a: f64, b: f64, c: f64) -> f64 {
    FIRST.set(first);
    a + 10.0 * b + 100.0 * c
}

type Vectorcall = unsafe extern "C" fn(usize, *const *const Obj, usize, usize) -> *const c_void;

fn request(target: *const c_void, first: Option<u64>, doubles: usize) -> ObjectCall {
    ObjectCall {
        target,
        first,
        doubles,
        count_mask: !(FLAG as u64),
        type_at: 8,
        exact_type: &FLOAT as *const u8 as u64,
        value_at: 16,
        failed: addr(failed as extern "C" fn() -> *const c_void),
        box_result: addr(box_result as extern "C" fn(f64) -> *const c_void),
        general: addr(general as extern "C" fn(usize, usize, usize, usize) -> *const c_void),
    }
}

/// Calls `f` and says what happened: `Ok(boxed value)` or `Err(the general function's arguments)`.
fn outcome(f: Vectorcall, args: &[*const Obj], nargsf: usize, kwnames: usize) -> Result<Option<f64>, [usize; 4]> {
    BOXED.set(None);
    GENERAL.set(None);
    // SAFETY: the stub's convention; `args` holds live objects (or fewer than it reads, which it
    // checks first through `nargsf`).
    let r = unsafe { f(0x1234, args.as_ptr(), nargsf, kwnames) } as usize;
    match (r, GENERAL.get()) {
        (GENERAL_MARK, Some((c, a, n, k))) => Err([c, a, n, k]),
        (BOXED_MARK, None) => Ok(BOXED.get()),
        (0, None) => Ok(None),
        other => panic!("unexpected {other:?}"),
    }
}

fn calls(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let one = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, 1)).expect("made");
    let three = request(addr(weighted as extern "C" fn(u64, f64, f64, f64) -> f64), Some(77), 3);
    let three = t.object_call(&three).expect("made");
    let (Some(one), Some(three)) = (one, three) else {
        assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
        assert!(one.is_none() && three.is_none());
        return;
    };
    // SAFETY: made for this convention.
    let (one, three): (Vectorcall, Vectorcall) = unsafe { (std::mem::transmute(one), std::mem::transmute(three)) };
    let (a, b, c) = (float(3.0), float(0.5), float(-2.0));
    let args = [&a as *const Obj, &b, &c];
    assert_eq!(outcome(one, &args[..1], 1, 0), Ok(Some(1.5)));
    assert_eq!(outcome(one, &args[..1], 1 | FLAG, 0), Ok(Some(1.5)), "flags are not part of the count");
    FIRST.set(0);
    assert_eq!(outcome(three, &args, 3, 0), Ok(Some(3.0 + 5.0 - 200.0)));
    assert_eq!(FIRST.get(), 77, "the first word");

    FAIL.set(true);
    assert_eq!(outcome(three, &args, 3, 0), Ok(None), "a failed call gives null, its result unboxed");
    FAIL.set(false);

    // Refused: everything reaches the general function as the stub got it.
    let p = args.as_ptr() as usize;
    assert_eq!(outcome(one, &args, 2, 0), Err([0x1234, p, 2, 0]), "too many");
    assert_eq!(outcome(one, &args, FLAG, 0), Err([0x1234, p, FLAG, 0]), "too few");
    assert_eq!(outcome(one, &args[..1], 1, 0x99), Err([0x1234, p, 1, 0x99]), "keywords");
    let other = Obj { refs: 1, ty: &OTHER, value: 1.0 };
    let mixed = [&a as *const Obj, &other, &c];
    let m = mixed.as_ptr() as usize;
    assert_eq!(outcome(three, &mixed, 3 | FLAG, 0), Err([0x1234, m, 3 | FLAG, 0]), "another type");
    assert_eq!(outcome(one, &mixed[1..2], 1, 0), Err([0x1234, m + 8, 1, 0]), "another type");
}

fn refused(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let e = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, MAX_DOUBLES + 1));
    let e = e.expect_err("too many doubles").to_string();
    assert!(e.contains("takes at most 8 doubles"), "{e}");
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), None, 1);
    r.box_result = std::ptr::null();
    assert!(t.object_call(&r).expect_err("a null function").to_string().contains("a null function"));
}

/// The accepted path of a one-double stub, up to the tail call of the boxing function.
#[cfg(target_arch = "x86_64")]
#[test]
fn few_instructions() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let code = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, 1)).expect("made");
    let listing = stub_instructions_within(code.expect("dynasm has the stub"), 256);
    // The shape and the type (7), the argument (4), the frame (3), the call and the error check
    // (5), the result (3, the last a jump into the boxing function, where `stub_instructions`
    // stops).
    assert_eq!(listing.len(), 22, "{listing:#?}");
}
