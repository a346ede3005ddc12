//! calcrs: the Rust twin of tests/ext/calccapi.c. `connect()` imports the calc API (so tests see
//! the error `calc_capi::import` raises); the other functions call through its safe methods.
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

mod calc_capi {
    include!(concat!(env!("OUT_DIR"), "/calc_capi.rs"));
}

fn calc(py: Python<'_>) -> PyResult<&'static calc_capi::Api> {
    CONNECTED.get(py).copied().ok_or_else(|| PyRuntimeError::new_err("calcrs: call connect() first"))
}

static CONNECTED: pyo3::sync::PyOnceLock<&'static calc_capi::Api> = pyo3::sync::PyOnceLock::new();

#[pymodule]
mod calcrs {
    use super::*;

    /// import the calc API: the import under test
    #[pyfunction]
    fn connect(py: Python<'_>) -> PyResult<()> {
        let api = calc_capi::import(py)?;
        let _ = CONNECTED.set(py, api);
        Ok(())
    }

    /// Py_REFCNT(obj)
    #[pyfunction]
    fn refcount(obj: &Bound<'_, PyAny>) -> isize {
        // SAFETY: `obj` is a live object (borrowed for the call); Py_REFCNT reads its count.
        unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) }
    }

    #[pyfunction]
    fn add<'py>(a: &Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        calc(a.py())?.add(a.py(), a, b)
    }

    #[pyfunction]
    fn hypot(py: Python<'_>, x: f64, y: f64) -> PyResult<f64> {
        calc(py)?.hypot(py, x, y)
    }

    #[pyfunction]
    fn repeat<'py>(seq: &Bound<'py, PyAny>, n: isize) -> PyResult<Bound<'py, PyAny>> {
        calc(seq.py())?.repeat(seq.py(), seq, n)
    }

    #[cfg(calc_api_1_1)]
    #[pyfunction]
    #[allow(clippy::too_many_arguments)]
    fn mix(
        py: Python<'_>,
        a: i64,
        b: f64,
        c: i32,
        d: f64,
        e: i64,
        f: f64,
        g: isize,
        h: f64,
        i: i16,
        j: f64,
    ) -> PyResult<f64> {
        calc(py)?.mix(py, a, b, c, d, e, f as f32, g, h, i, j)
    }

    /// fill(n, value) -> [0, value, 2 value, ...]: the provider writes into a Rust buffer.
    #[cfg(calc_api_1_1)]
    #[pyfunction]
    fn fill(py: Python<'_>, n: i64, value: f64) -> PyResult<Vec<f64>> {
        let mut out = [0.0f64; 16];
        if !(0..=16).contains(&n) {
            return Err(PyValueError::new_err("fill(n, value): 0 <= n <= 16"));
        }
        // SAFETY: `out` has room for the n <= 16 doubles fill writes.
        let written = unsafe { calc(py)?.fill(py, out.as_mut_ptr(), n, value)? };
        Ok(out[..written as usize].to_vec())
    }

    #[cfg(calc_api_1_2)]
    #[pyfunction]
    fn fail<'py>(message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        calc(message.py())?.fail(message.py(), message)
    }

    #[cfg(calc_api_1_2)]
    #[pyfunction]
    fn pick<'py>(
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        c: &Bound<'py, PyAny>,
        which: i32,
    ) -> PyResult<Bound<'py, PyAny>> {
        calc(a.py())?.pick(a.py(), a, b, c, which)
    }

    /// pick(a, b, c, k % 3) `n` times in a Rust loop: reference counts must not move.
    #[cfg(calc_api_1_2)]
    #[pyfunction]
    fn pick_many(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>, c: &Bound<'_, PyAny>, n: i64) -> PyResult<()> {
        let calc = calc(a.py())?;
        for k in 0..n {
            calc.pick(a.py(), a, b, c, (k % 3) as i32)?;
        }
        Ok(())
    }

    /// The name of the context the provider ran in, from a `const char *` result.
    #[cfg(calc_api_1_2)]
    #[pyfunction]
    fn provider_context(py: Python<'_>) -> PyResult<String> {
        let name = calc(py)?.context_name(py)?;
        // SAFETY: context_name returns the provider context's name, a NUL-terminated string that
        // lives as long as the context.
        Ok(unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned())
    }
}
