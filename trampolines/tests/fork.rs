//! A forked child makes trampolines without clobbering the parent's, and the other way round,
//! although code memory is shared mappings. Alone in its test binary: forking is only sound
//! while no other test thread is running.

mod common;

use common::{addr, as_fn, sig};
use trampolines::{BackendKind, Trampolines};

extern "C" fn identity(x: i64) -> i64 {
    x
}

fn swap(t: &Trampolines, value: u64) -> extern "C" fn(i64) -> i64 {
    let code = t.swap_arg0(&sig("int64_t (int64_t)"), addr(identity as extern "C" fn(_) -> _), value).expect("room");
    // SAFETY: made for this signature.
    unsafe { as_fn(code) }
}

/// Writes one byte to `wfd` and reads one from `rfd`: a handshake between parent and child.
fn signal_and_wait(wfd: i32, rfd: i32) {
    let mut byte = 0u8;
    // SAFETY: valid pipe ends and a one-byte buffer.
    unsafe {
        assert_eq!(libc::write(wfd, (&byte as *const u8).cast(), 1), 1);
        assert_eq!(libc::read(rfd, (&mut byte as *mut u8).cast(), 1), 1);
    }
}

#[test]
fn parent_and_child_make_trampolines_independently() {
    for &kind in BackendKind::available() {
        let t = Trampolines::new(kind, 1 << 20);
        let before = swap(&t, 1);
        let (mut to_child, mut to_parent) = ([0; 2], [0; 2]);
        // SAFETY: plain system calls; the child only makes and calls trampolines, then _exits.
        unsafe {
            assert_eq!(libc::pipe(to_child.as_mut_ptr()), 0);
            assert_eq!(libc::pipe(to_parent.as_mut_ptr()), 0);
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                // Child: make a stub, let the parent make one, then check ours is intact.
                let mine = swap(&t, 2);
                signal_and_wait(to_parent[1], to_child[0]);
                let ok = mine(0) == 2 && before(0) == 1;
                libc::_exit(if ok { 0 } else { 1 });
            }
            let mut byte = 0u8;
            assert_eq!(libc::read(to_parent[0], (&mut byte as *mut u8).cast(), 1), 1);
            let mine = swap(&t, 3);
            assert_eq!(libc::write(to_child[1], (&byte as *const u8).cast(), 1), 1);
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "{kind}: the child's trampoline was clobbered"
            );
            assert_eq!((mine(0), before(0)), (3, 1), "{kind}");
            for fd in to_child.into_iter().chain(to_parent) {
                libc::close(fd);
            }
        }
    }
}
