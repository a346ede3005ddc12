//! benchrs: timed loops calling the bench API's CPython-API stubs from Rust, two ways:
//! - "safe": the generated safe methods (`Bound` in and out, `PyResult`, `PyErr_Occurred` after a
//!   scalar result), what a PyO3 author writes;
//! - "raw": the same function pointers called directly through `api.raw`, as C does (benchcapi.c).
//!
//! The table is re-read through `black_box` on every call, so that each call is an indirect call
//! through a pointer loaded from memory, as in the C loops; results are released every call.
use std::hint::black_box;
use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;

mod bench_capi {
    include!(concat!(env!("OUT_DIR"), "/bench_capi.rs"));
}

/// A NULL result: the provider's exception.
fn check(py: Python<'_>, r: *mut ffi::PyObject) -> PyResult<*mut ffi::PyObject> {
    if r.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(r)
    }
}

/// `n` calls of the bench API's `function` through `table` ("safe" or "raw"); the nanoseconds they took.
fn run(py: Python<'_>, table: &str, function: &str, obj: &Bound<'_, PyAny>, n: u64) -> PyResult<u64> {
    let api = bench_capi::import(py)?;
    let start = Instant::now();
    match (table, function) {
        ("safe", "ident") => {
            for _ in 0..n {
                drop(black_box(api).ident(py, black_box(obj))?);
            }
        }
        ("raw", "ident") => {
            for _ in 0..n {
                // SAFETY: `ident` takes a borrowed object and returns a new reference or NULL.
                let r = check(py, unsafe { (black_box(api).raw.ident)(black_box(obj).as_ptr()) })?;
                // SAFETY: `r` is the new reference the call returned, released once.
                unsafe { ffi::Py_DECREF(r) };
            }
        }
        ("safe", "inc") => {
            let mut x = 0.0;
            for _ in 0..n {
                x = black_box(api).inc(py, black_box(x))?;
            }
            black_box(x);
        }
        ("raw", "inc") => {
            let mut x = 0.0;
            for _ in 0..n {
                // SAFETY: `inc` takes and returns a double; it cannot fail.
                x = unsafe { (black_box(api).raw.inc)(black_box(x)) };
            }
            black_box(x);
        }
        ("safe", "mix") => {
            for i in 0..n {
                drop(black_box(api).mix(py, black_box(obj), 0.5, i as std::ffi::c_long)?);
            }
        }
        ("raw", "mix") => {
            for i in 0..n {
                // SAFETY: `mix` takes a borrowed object and two scalars, returns a new reference or NULL.
                let r = check(py, unsafe { (black_box(api).raw.mix)(black_box(obj).as_ptr(), 0.5, i as _) })?;
                // SAFETY: `r` is the new reference the call returned, released once.
                unsafe { ffi::Py_DECREF(r) };
            }
        }
        _ => {
            return Err(PyValueError::new_err(format!(
                "time(table, function, ...): expected table 'safe' or 'raw' and function 'ident', 'inc' or 'mix', \
                 found {table:?}, {function:?}"
            )))
        }
    }
    Ok(start.elapsed().as_nanos() as u64)
}

#[pymodule]
mod benchrs {
    use super::*;

    /// import the bench API (once per process)
    #[pyfunction]
    fn connect(py: Python<'_>) -> PyResult<()> {
        bench_capi::import(py).map(|_| ())
    }

    /// time(table, function, obj, n) -> nanoseconds for n calls
    #[pyfunction]
    fn time(py: Python<'_>, table: &str, function: &str, obj: &Bound<'_, PyAny>, n: u64) -> PyResult<u64> {
        run(py, table, function, obj, n)
    }
}
