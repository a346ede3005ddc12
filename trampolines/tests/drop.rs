//! Dropping a factory unmaps its code memory. Alone in its test binary, so that no other
//! factory maps or unmaps code memory meanwhile.

mod common;

use common::{addr, as_fn, pass, sig};
use trampolines::{BackendKind, Trampolines};

extern "C" fn twice(x: i32) -> i32 {
    2 * x
}

fn code_mappings() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("procfs");
    maps.lines().filter(|l| l.contains("memfd:hpybridge-trampolines")).count()
}

#[test]
fn dropping_unmaps_code_memory() {
    assert_eq!(code_mappings(), 0);
    for &kind in BackendKind::available() {
        let t = Trampolines::new(kind, 1 << 20);
        for _ in 0..100 {
            let code = t.intercept(&sig("int (int)"), pass, addr(twice as extern "C" fn(_) -> _)).expect("room");
            // SAFETY: made for this signature.
            let f: extern "C" fn(i32) -> i32 = unsafe { as_fn(code) };
            assert_eq!(f(21), 42);
        }
        assert!(code_mappings() >= 2, "{kind}: a read-write and a read-execute view");
        drop(t);
        assert_eq!(code_mappings(), 0, "{kind}: all unmapped");
    }
}
