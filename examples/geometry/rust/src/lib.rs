//! shapes_rs: the shapes example written with PyO3, consuming the geometry API through its
//! CPython-API stubs. `geometry_capi::import(py)` fetches the provider's table once per process,
//! checked by hpybridge's runtime (version and every slot's signature); the provider runs in
//! whatever HPy mode it was loaded in, and this module neither knows nor cares.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod geometry_capi {
    include!(concat!(env!("OUT_DIR"), "/geometry_capi.rs"));
}

#[pymodule]
mod shapes_rs {
    use super::*;

    /// perimeter(points) -> the length of the closed polygon through points (2-tuples).
    #[pyfunction]
    fn perimeter(points: &Bound<'_, PyAny>) -> PyResult<f64> {
        let py = points.py();
        let geometry = geometry_capi::import(py)?;
        let points = PyTuple::new(py, points.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
        let n = points.len();
        let mut total = 0.0;
        for i in 0..n {
            // A -1.0 result with the provider's exception set comes back as Err: `?` raises it.
            total += geometry.distance(py, &points.get_item(i)?, &points.get_item((i + 1) % n)?)?;
        }
        Ok(total)
    }

    /// centroid(points) -> the mean of the points, a new vector from the provider.
    #[pyfunction]
    fn centroid<'py>(points: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = points.py();
        let geometry = geometry_capi::import(py)?;
        let mut sum = geometry.vec(py, 0.0, 0.0)?;
        let mut n = 0usize;
        for point in points.try_iter()? {
            sum = geometry.add(py, &sum, &point?)?; // the old sum's reference is dropped here
            n += 1;
        }
        if n == 0 {
            return Err(PyValueError::new_err("centroid: expected at least 1 point, found none"));
        }
        geometry.scale(py, &sum, 1.0 / n as f64)
    }

    /// norm(v) -> the provider's `norm`, straight through: its TypeError for a non-vector reaches
    /// Python unchanged.
    #[pyfunction]
    fn norm(v: &Bound<'_, PyAny>) -> PyResult<f64> {
        geometry_capi::import(v.py())?.norm(v.py(), v)
    }
}
