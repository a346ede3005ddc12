//! `object_call`: a vectorcall-convention stub over an object model the test makes up (a type
//! word at byte 8, a `double` at byte 16, objects passed as their address plus one): accepted
//! calls reach the target with the objects' values or adjusted addresses, and a result is boxed or
//! adjusted back; a failed target gives null (an object result released); a null object result
//! becomes the caller's error; everything else reaches the general function with the stub's
//! arguments untouched. libffi has no such stub; too many parameters are refused.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions_within;
use common::{addr, as_fn, LIMIT};
use std::cell::Cell;
use std::ffi::c_void;
use trampolines::{BackendKind, ObjectCall, Part, Trampolines, MAX_DOUBLES, MAX_OBJECTS};

for_both_backends!(calls, objects, refused);

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
    static RELEASED: Cell<usize> = const { Cell::new(0) };
    static NULL_OF: Cell<usize> = const { Cell::new(0) };
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

extern "C" fn release(obj: usize) {
    RELEASED.set(obj);
}

const NULL_MARK: usize = 0x4e;

extern "C" fn null_result(callable: usize) -> *const c_void {
    NULL_OF.set(callable);
    NULL_MARK as *const c_void
}

/// `(first, a, x, b)`: `a` or `b` (chosen by `x`'s sign, 0 if `x` is 0), as the objects came.
extern "C" fn pick(first: u64, a: usize, x: f64, b: usize) -> usize {
    FIRST.set(first);
    if x == 0.0 {
        0
    } else if x > 0.0 {
        a
    } else {
        b
    }
}

fn request(target: *const c_void, first: Option<u64>, doubles: usize) -> ObjectCall {
    ObjectCall {
        target,
        first,
        params: vec![Part::Double; doubles],
        ret: Part::Double,
        count_mask: !(FLAG as u64),
        type_at: 8,
        exact_type: &FLOAT as *const u8 as u64,
        value_at: 16,
        object_add: 1,
        failed: addr(failed as extern "C" fn() -> *const c_void),
        box_result: addr(box_result as extern "C" fn(f64) -> *const c_void),
        release: addr(release as extern "C" fn(usize)),
        null_result: addr(null_result as extern "C" fn(usize) -> *const c_void),
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

fn p0(args: &[*const Obj]) -> usize {
    args.as_ptr() as usize
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
    let (one, three): (Vectorcall, Vectorcall) = unsafe { (as_fn(one), as_fn(three)) };
    let (a, b, c) = (float(3.0), float(0.5), float(-2.0));
    let args = [&a as *const Obj, &b, &c];
    assert_eq!(outcome(one, &args[..1], 1, 0), Ok(Some(1.5)));
    assert_eq!(outcome(one, &args[..1], 1 | FLAG, 0), Ok(Some(1.5)), "flags are not part of the count");
    FIRST.set(0);
    assert_eq!(outcome(three, &args, 3, 0), Ok(Some(3.0 + 5.0 - 200.0)));
    assert_eq!(FIRST.get(), 77, "the first word");

    // Another mask: the count is masked, not doubled.
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), None, 1);
    r.count_mask = 0xff;
    // SAFETY: made for this convention.
    let masked: Vectorcall = unsafe { as_fn(t.object_call(&r).expect("made").expect("dynasm")) };
    assert_eq!(outcome(masked, &args[..1], 0x7701, 0), Ok(Some(1.5)), "bits outside the mask are flags");
    assert_eq!(outcome(masked, &args[..1], 0x102, 0), Err([0x1234, p0(&args), 0x102, 0]));

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

fn objects(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let mut r = request(addr(pick as extern "C" fn(u64, usize, f64, usize) -> usize), Some(5), 0);
    r.params = vec![Part::Object, Part::Double, Part::Object];
    r.ret = Part::Object;
    let Some(code) = t.object_call(&r).expect("made") else {
        assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
        return;
    };
    // SAFETY: made for this convention.
    let f: Vectorcall = unsafe { as_fn(code) };
    let (a, b, pos, zero) = (float(1.0), Obj { refs: 1, ty: &OTHER, value: 0.0 }, float(1.0), float(0.0));
    let neg = float(-1.0);
    let (pa, pb) = (&a as *const Obj as usize, &b as *const Obj as usize);
    let call = |x: &Obj, nargsf: usize| {
        GENERAL.set(None);
        NULL_OF.set(0);
        RELEASED.set(0);
        FIRST.set(0);
        let args = [&a as *const Obj, x, &b];
        // SAFETY: the stub's convention, three live objects.
        (unsafe { f(0x1234, args.as_ptr(), nargsf, 0) } as usize, GENERAL.get().map(|g| g.2))
    };
    assert_eq!(call(&pos, 3 | FLAG), (pa, None), "the object result, its address again");
    assert_eq!(FIRST.get(), 5);
    assert_eq!(call(&neg, 3), (pb, None), "an object of any type");
    assert_eq!(call(&zero, 3), (NULL_MARK, None), "a null result: the caller's error");
    assert_eq!(NULL_OF.get(), 0x1234, "for the callable");
    FAIL.set(true);
    assert_eq!(call(&pos, 3), (0, None), "a failed call");
    assert_eq!(RELEASED.get(), pa, "releases its object result");
    assert_eq!(call(&zero, 3), (0, None), "a failed call with a null result");
    assert_eq!(RELEASED.get(), 0, "releases nothing");
    FAIL.set(false);
    assert_eq!(call(&b, 3), (GENERAL_MARK, Some(3)), "a double argument of another type");
    assert_eq!(call(&pos, 2), (GENERAL_MARK, Some(2)), "another count");
}

fn refused(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let e = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, MAX_DOUBLES + 1));
    let e = e.expect_err("too many doubles").to_string();
    assert!(e.contains("at most 8 doubles and 6 objects"), "{e}");
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), Some(0), 0);
    r.params = vec![Part::Object; MAX_OBJECTS];
    let e = t.object_call(&r).expect_err("too many objects").to_string();
    assert!(e.starts_with("unsupported signature \"double (uint64_t, obj, obj, obj, obj, obj, obj)\""), "{e}");
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
    // The shape and the type (6, the count doubled to drop the flag bit), the argument (4), the
    // frame (3), the call and the error check (5), the result (3, the last a jump into the boxing
    // function, where `stub_instructions` stops).
    assert_eq!(listing.len(), 21, "{listing:#?}");
    assert!(listing.iter().any(|i| i.starts_with("lea rax,[rdx+rdx]")), "{listing:#?}");
}
