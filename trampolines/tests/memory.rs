//! Code memory: what `code_bytes` reports, the limit, and W^X.

#[macro_use]
mod common;

use common::{addr, as_fn, pass, sig, LIMIT};
use std::ffi::{c_long, c_void};
use std::sync::atomic::AtomicU64;
use trampolines::{BackendKind, Error, Trampolines};

for_both_backends!(code_bytes_grow_only_when_making, exceeding_the_limit_is_an_error);

extern "C" fn negate(x: c_long) -> c_long {
    -x
}

fn target() -> *const c_void {
    addr(negate as extern "C" fn(_) -> _)
}

/// Makes and checks one trampoline of each kind for `long (long)`.
fn make_all(t: &Trampolines, counter: &AtomicU64) -> Result<[*const c_void; 3], Error> {
    let s = sig("long (long)");
    Ok([t.intercept(&s, pass, target())?, t.swap_arg0(&s, target(), 5)?, t.count(&s, target(), counter)?])
}

fn call_all(codes: &[*const c_void; 3]) {
    // SAFETY: all made for `long (long)`.
    let [intercept, swap, count]: [extern "C" fn(c_long) -> c_long; 3] = codes.map(|c| unsafe { as_fn(c) });
    assert_eq!(intercept(3), -3);
    assert_eq!(swap(3), -5);
    assert_eq!(count(3), -3);
}

fn code_bytes_grow_only_when_making(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let counter = AtomicU64::new(0);
    assert_eq!(t.code_bytes(), 0, "nothing mapped before anything is made");
    let first = make_all(&t, &counter).expect("room");
    let after_first = t.code_bytes();
    assert!(after_first > 0);
    for _ in 0..100 {
        call_all(&first);
    }
    assert_eq!(t.code_bytes(), after_first, "calling takes no code memory");
    let second = make_all(&t, &counter).expect("room");
    let after_second = t.code_bytes();
    assert!(after_second > after_first, "new trampolines take code memory");
    // Reusing the signature reuses its invoker (dynasm) or cif (libffi): no more than the first time.
    assert!(after_second - after_first <= after_first);
    let third = make_all(&t, &counter).expect("room");
    assert_eq!(t.code_bytes() - after_second, after_second - after_first, "same signature, same sizes");
    for codes in [first, second, third] {
        call_all(&codes);
    }
    assert_eq!(t.code_bytes(), after_second + (after_second - after_first));
}

fn exceeding_the_limit_is_an_error(kind: BackendKind) {
    const SMALL: usize = 2000;
    let t = Trampolines::new(kind, SMALL);
    let counter = AtomicU64::new(0);
    let mut made = Vec::new();
    let error = loop {
        match make_all(&t, &counter) {
            Ok(codes) => made.push(codes),
            Err(e) => break e,
        }
        assert!(made.len() < SMALL, "the limit must stop this");
    };
    match &error {
        Error::Limit { needed, held, limit } => {
            assert_eq!(*limit, SMALL);
            assert!(held + needed > SMALL, "{error}");
        }
        other => panic!("expected Error::Limit, got {other:?}"),
    }
    assert!(error.to_string().contains("2000-byte limit"), "{error}");
    assert!(!made.is_empty());
    assert!(t.code_bytes() <= SMALL);
    for codes in &made {
        call_all(codes);
    }
    // Once even the smallest stub no longer fits, everything fails cleanly.
    while t.swap_arg0(&sig("long (long)"), target(), 0).is_ok() {}
    assert!(matches!(t.intercept(&sig("double (double)"), pass, target()), Err(Error::Limit { .. })));
    assert!(t.code_bytes() <= SMALL);
}

/// After many trampolines of every backend, no mapping of the process is both writable and
/// executable, and the trampolines run from read-execute views of our memfds.
#[test]
fn no_mapping_is_writable_and_executable() {
    let counter = AtomicU64::new(0);
    let factories: Vec<Trampolines> = BackendKind::available().iter().map(|&k| Trampolines::new(k, 4 << 20)).collect();
    let mut codes = Vec::new();
    for t in &factories {
        for _ in 0..300 {
            codes.push(make_all(t, &counter).expect("room"));
        }
    }
    for c in &codes {
        call_all(c);
    }
    let maps = std::fs::read_to_string("/proc/self/maps").expect("procfs");
    let perms = |line: &str| line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let wx: Vec<&str> = maps.lines().filter(|l| perms(l).contains('w') && perms(l).contains('x')).collect();
    assert!(wx.is_empty(), "writable and executable mappings:\n{}", wx.join("\n"));
    let code_maps: Vec<(u64, u64)> = maps
        .lines()
        .filter(|l| l.contains("memfd:hpybridge-trampolines") && perms(l) == "r-xs")
        .map(|l| {
            let range = l.split_whitespace().next().unwrap_or("");
            let (start, end) = range.split_once('-').expect("address range");
            (u64::from_str_radix(start, 16).expect("hex"), u64::from_str_radix(end, 16).expect("hex"))
        })
        .collect();
    for code in codes.iter().flatten() {
        let a = *code as u64;
        assert!(
            code_maps.iter().any(|&(start, end)| (start..end).contains(&a)),
            "{a:#x} is not in a read-execute memfd view"
        );
    }
}
