//! The host interpreter's own C API, where it has one (CPython; PyPy through cpyext): the few
//! functions HPy 0.9's universal ABI lacks and `__cdict__` calls need. A `PyObject *` argument
//! must be released after the call (`Py_DecRef`), and HPy 0.9 has no way for a module to read
//! another object's buffer (its `HPy_buffer` is for exporters only), so `T *` arguments use
//! `PyObject_GetBuffer` / `PyBuffer_Release`. Exported entries that foreign callers (ctypes, cffi,
//! SciPy, numba) may call without the GIL take it with `PyGILState_Ensure` / `Release` (`gil`).
//! `symbol` is the one lookup of the interpreter's symbols (CPython's own object API for the native
//! call path builds on it: `hpy::cpython`).
//!
//! Found once with `dlsym` under CPython's names, else PyPy's (`PyPy_DecRef`, ...): both export
//! them to the extensions they load. An interpreter without them (none is known) simply has no
//! `PyObject *` or buffer arguments: callers report it.

use hpy_sys::cpy_PyObject;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// `PyBUF_WRITABLE`, `PyBUF_FORMAT`, `PyBUF_STRIDES` (which implies `PyBUF_ND`): the same values
/// on every interpreter (PEP 3118).
pub const PYBUF_WRITABLE: c_int = 0x0001;
pub const PYBUF_FORMAT: c_int = 0x0004;
pub const PYBUF_STRIDES: c_int = 0x0018;

/// The fields of a `Py_buffer` that CPython's and PyPy's share at the start, in this order (PyPy's
/// cpyext appends fields of its own; `View` leaves room for them).
#[repr(C)]
pub struct BufferHead {
    pub buf: *mut c_void,
    pub obj: *mut cpy_PyObject,
    pub len: isize,
    pub itemsize: isize,
    pub readonly: c_int,
    pub ndim: c_int,
    pub format: *mut c_char,
    pub shape: *mut isize,
    pub strides: *mut isize,
    pub suboffsets: *mut isize,
}

/// Storage for a `Py_buffer` of either interpreter: CPython's is 80 bytes, PyPy 7.3.19's 664
/// (with its own `_strides` and `_shape` arrays). Boxed by users: the exporter may keep pointers
/// into it until it is released.
#[repr(C, align(16))]
pub struct View {
    bytes: [u8; 1024],
}

impl View {
    pub fn zeroed() -> Box<View> {
        Box::new(View { bytes: [0; 1024] })
    }

    pub fn head(&self) -> &BufferHead {
        // SAFETY: `View` is larger than and aligned for `BufferHead`, whose fields are plain
        // integers and pointers (all zeros is valid); an exporter fills them in.
        unsafe { &*(self.bytes.as_ptr() as *const BufferHead) }
    }

    fn as_mut_ptr(&mut self) -> *mut c_void {
        self.bytes.as_mut_ptr().cast()
    }
}

/// The host C API functions `__cdict__` calls use.
pub struct Host {
    dec_ref: unsafe extern "C" fn(*mut cpy_PyObject),
    get_buffer: unsafe extern "C" fn(*mut cpy_PyObject, *mut c_void, c_int) -> c_int,
    release_buffer: unsafe extern "C" fn(*mut c_void),
}

static HOST: OnceLock<Option<Host>> = OnceLock::new();

/// The host's C API, if this process has one.
pub fn host() -> Option<&'static Host> {
    HOST.get_or_init(|| {
        find([c"Py_DecRef", c"PyObject_GetBuffer", c"PyBuffer_Release"])
            .or_else(|| find([c"PyPy_DecRef", c"PyPyObject_GetBuffer", c"PyPyBuffer_Release"]))
    })
    .as_ref()
}

/// The address of the interpreter's symbol `name` (CPython's or cpyext's), if it has one.
pub fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym only reads the dynamic linker's tables.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!f.is_null()).then_some(f)
}

/// The three functions under one interpreter's names, if all exist.
fn find(names: [&CStr; 3]) -> Option<Host> {
    let [dec_ref, get_buffer, release_buffer] = names;
    let (dec_ref, get_buffer, release_buffer) = (symbol(dec_ref)?, symbol(get_buffer)?, symbol(release_buffer)?);
    // SAFETY: these are the interpreter's C API functions of these C signatures (`void
    // Py_DecRef(PyObject *)`, `int PyObject_GetBuffer(PyObject *, Py_buffer *, int)`, `void
    // PyBuffer_Release(Py_buffer *)`), under CPython's or cpyext's names.
    unsafe {
        Some(Host {
            dec_ref: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut cpy_PyObject)>(dec_ref),
            get_buffer: std::mem::transmute::<
                *mut c_void,
                unsafe extern "C" fn(*mut cpy_PyObject, *mut c_void, c_int) -> c_int,
            >(get_buffer),
            release_buffer: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*mut c_void)>(release_buffer),
        })
    }
}

impl Host {
    /// Releases one reference to `obj`.
    ///
    /// # Safety
    /// The caller holds the GIL and owns a reference to `obj`, a live object of this interpreter.
    pub unsafe fn dec_ref(&self, obj: *mut cpy_PyObject) {
        // SAFETY: the caller's contract.
        unsafe { (self.dec_ref)(obj) }
    }

    /// `PyObject_GetBuffer(obj, view, flags)`: 0, or -1 with an exception set.
    ///
    /// # Safety
    /// The caller holds the GIL, `obj` is a live object of this interpreter, and `view` is released
    /// (`release`) once, if this returns 0, before it is dropped.
    pub unsafe fn get_buffer(&self, obj: *mut cpy_PyObject, view: &mut View, flags: c_int) -> c_int {
        // SAFETY: the caller's contract; `view` has room for either interpreter's `Py_buffer`.
        unsafe { (self.get_buffer)(obj, view.as_mut_ptr(), flags) }
    }

    /// `PyBuffer_Release(view)`.
    ///
    /// # Safety
    /// The caller holds the GIL, and `view` was filled by a successful `get_buffer` not released yet.
    pub unsafe fn release(&self, view: &mut View) {
        // SAFETY: the caller's contract.
        unsafe { (self.release_buffer)(view.as_mut_ptr()) }
    }
}

/// The interpreter's `PyGILState_Ensure` and `PyGILState_Release` (CPython's names, else cpyext's):
/// what C code called by a foreign caller that may not hold the GIL takes it with.
pub struct Gil {
    ensure: unsafe extern "C" fn() -> c_int,
    release: unsafe extern "C" fn(c_int),
}

static GIL: OnceLock<Option<Gil>> = OnceLock::new();

/// The interpreter's GIL functions, if it has them.
pub fn gil() -> Option<&'static Gil> {
    GIL.get_or_init(|| {
        let find = |ensure: &CStr, release: &CStr| {
            let (e, r) = (symbol(ensure)?, symbol(release)?);
            // SAFETY: these are the interpreter's `PyGILState_STATE PyGILState_Ensure(void)` and
            // `void PyGILState_Release(PyGILState_STATE)` (an enum: an int).
            Some(unsafe {
                Gil {
                    ensure: std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(e),
                    release: std::mem::transmute::<*mut c_void, unsafe extern "C" fn(c_int)>(r),
                }
            })
        };
        find(c"PyGILState_Ensure", c"PyGILState_Release")
            .or_else(|| find(c"PyPyGILState_Ensure", c"PyPyGILState_Release"))
    })
    .as_ref()
}

impl Gil {
    /// Runs `f` holding the GIL (taken and given back here; re-entrant for a thread holding it).
    ///
    /// # Safety
    /// The interpreter is initialised.
    pub unsafe fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the caller's contract; `state` is released once, on this thread.
        unsafe {
            let state = (self.ensure)();
            let r = f();
            (self.release)(state);
            r
        }
    }
}

/// The format of a buffer as its exporter describes it: NULL means unsigned bytes (`B`).
///
/// # Safety
/// `head` was filled by a successful `get_buffer` not released yet.
pub unsafe fn format(head: &BufferHead) -> String {
    if head.format.is_null() {
        return "B".to_owned();
    }
    // SAFETY: a non-NULL format is a NUL-terminated string that lives as long as the view.
    unsafe { CStr::from_ptr(head.format) }.to_string_lossy().into_owned()
}
