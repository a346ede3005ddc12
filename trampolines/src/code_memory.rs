//! Executable memory that is never writable and executable at once (W^X), bounded by a limit.
//!
//! Each chunk is one memfd mapped twice: a read-write view the factory writes code through, and
//! a read-execute view the code runs from (`/proc/self/maps` shows them as `rw-s` and `r-xs`
//! mappings of `/memfd:hpybridge-trampolines`). So no page permission ever changes, and a page
//! other threads are executing is never made writable: new code only goes into bytes no code
//! pointer has been handed out for yet. Instruction fetch on x86_64 is coherent with such stores
//! (the dynasm backend only runs there); elsewhere the only code written is libffi's closure
//! trampolines, whose instruction cache `ffi_prep_closure_loc` flushes itself.
//!
//! Chunks are filled by bumping an offset and are only unmapped when the `CodeMemory` is
//! dropped: trampolines are made once and kept (callers cache them), so there is nothing to free
//! one by one.
//!
//! Shared mappings stay shared across `fork`: parent and child would both write new code into
//! the same free bytes. So a process only adds code to chunks it mapped itself; a forked child
//! keeps running the code it inherited and maps chunks of its own for anything new.

use crate::Error;
use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

/// Alignment of every reservation, as compilers align function entries.
const ALIGN: usize = 16;
/// Preferred chunk size: room for hundreds of trampolines per mapping.
const CHUNK: usize = 64 << 10;

/// One reservation: write through `rw`, run from `rx`.
pub struct Reservation {
    pub rw: *mut u8,
    pub rx: *const c_void,
}

pub struct CodeMemory {
    chunks: Vec<Chunk>,
    /// Bytes taken: reservations, their alignment padding, and chunk tails left too small to use.
    taken: usize,
    limit: usize,
}

struct Chunk {
    rw: *mut u8,
    rx: *mut u8,
    len: usize,
    /// Offset of the first free byte.
    next: usize,
    /// The process that mapped it, the only one that may write to it.
    owner: u32,
}

impl CodeMemory {
    /// Maps nothing until code is first added.
    pub fn new(limit: usize) -> CodeMemory {
        CodeMemory { chunks: Vec::new(), taken: 0, limit }
    }

    /// Bytes taken so far; never more than the limit.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// Copies `code` in and returns where it runs from.
    pub fn add(&mut self, code: &[u8]) -> Result<*const c_void, Error> {
        let r = self.reserve(code.len())?;
        // SAFETY: `reserve` gave `code.len()` writable bytes that nothing else uses.
        unsafe { ptr::copy_nonoverlapping(code.as_ptr(), r.rw, code.len()) };
        Ok(r.rx)
    }

    /// `len` zeroed bytes, 16-aligned, no code pointer of which has been handed out. Their `rx`
    /// address becomes code once they are written.
    pub fn reserve(&mut self, len: usize) -> Result<Reservation, Error> {
        let len = len.max(1).next_multiple_of(ALIGN);
        let tail = self.chunks.last().map_or(0, |c| c.len - c.next);
        let fits = len <= tail && self.chunks.last().is_some_and(|c| c.owner == std::process::id());
        let abandoned = if fits { 0 } else { tail };
        if self.taken + abandoned + len > self.limit {
            return Err(Error::Limit { needed: len, held: self.taken, limit: self.limit });
        }
        if !fits {
            let size = page_multiple(len.max(CHUNK.min(self.limit - self.taken - abandoned)))?;
            self.chunks.push(Chunk::map(size)?);
            self.taken += abandoned;
        }
        let chunk = self.chunks.last_mut().expect("a chunk with room was ensured above");
        let offset = chunk.next;
        chunk.next += len;
        self.taken += len;
        // SAFETY: `offset + len <= chunk.len`, inside both views.
        Ok(unsafe { Reservation { rw: chunk.rw.add(offset), rx: chunk.rx.add(offset).cast_const().cast() } })
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        for chunk in &self.chunks {
            // SAFETY: both views were mapped with exactly this length and are unmapped once. A
            // failure could only leak address space, and a destructor has nobody to tell.
            unsafe {
                libc::munmap(chunk.rw.cast(), chunk.len);
                libc::munmap(chunk.rx.cast(), chunk.len);
            }
        }
    }
}

impl Chunk {
    /// A fresh zeroed memfd of `len` bytes (a page multiple), mapped read-write and read-execute.
    fn map(len: usize) -> Result<Chunk, Error> {
        // SAFETY: plain system calls on a descriptor this function owns; every result is checked.
        unsafe {
            let fd = libc::memfd_create(c"hpybridge-trampolines".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(Error::last_os("memfd_create"));
            }
            // Closed on return: the mappings keep the memory alive.
            let fd = OwnedFd::from_raw_fd(fd);
            let size = libc::off_t::try_from(len).map_err(|_| Error::Os {
                call: "ftruncate",
                error: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
            if libc::ftruncate(fd.as_raw_fd(), size) != 0 {
                return Err(Error::last_os("ftruncate"));
            }
            let view = |prot| libc::mmap(ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), 0);
            let rw = view(libc::PROT_READ | libc::PROT_WRITE);
            if rw == libc::MAP_FAILED {
                return Err(Error::last_os("mmap (read-write view)"));
            }
            let rx = view(libc::PROT_READ | libc::PROT_EXEC);
            if rx == libc::MAP_FAILED {
                let error = Error::last_os("mmap (read-execute view)");
                libc::munmap(rw, len);
                return Err(error);
            }
            Ok(Chunk { rw: rw.cast(), rx: rx.cast(), len, next: 0, owner: std::process::id() })
        }
    }
}

/// `len` rounded up to whole pages.
fn page_multiple(len: usize) -> Result<usize, Error> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page).map_err(|_| Error::last_os("sysconf(_SC_PAGESIZE)"))?;
    Ok(len.next_multiple_of(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_aligned_zeroed_and_visible_through_the_executable_view() {
        let mut memory = CodeMemory::new(1 << 20);
        let a = memory.add(&[0xc3]).expect("room");
        let b = memory.reserve(40).expect("room");
        assert_eq!(a as usize % ALIGN, 0);
        assert_eq!(b.rx as usize, a as usize + ALIGN);
        // SAFETY: both views are readable and 48 bytes long from `a`.
        unsafe {
            assert_eq!(*a.cast::<u8>(), 0xc3);
            assert!(std::slice::from_raw_parts(b.rx.cast::<u8>(), 40).iter().all(|&x| x == 0));
            b.rw.write(0x90);
            assert_eq!(*b.rx.cast::<u8>(), 0x90);
        }
        assert_eq!(memory.taken(), 16 + 48);
    }

    #[test]
    fn the_limit_is_never_exceeded() {
        let mut memory = CodeMemory::new(10_000);
        memory.reserve(4000).expect("room");
        memory.reserve(4000).expect("room");
        match memory.reserve(4000) {
            Err(Error::Limit { needed, held, limit }) => assert_eq!((needed, held, limit), (4000, 8000, 10_000)),
            other => panic!("expected Error::Limit, got {:?}", other.map(|r| r.rx)),
        }
        memory.reserve(2000).expect("room");
        assert_eq!(memory.taken(), 10_000);
    }

    #[test]
    fn a_tail_too_small_for_a_request_counts_as_taken() {
        let mut memory = CodeMemory::new(1 << 20);
        memory.reserve(16).expect("room");
        memory.reserve(CHUNK).expect("room");
        assert_eq!(memory.taken(), 2 * CHUNK, "the first chunk's unused tail is taken too");
    }
}
