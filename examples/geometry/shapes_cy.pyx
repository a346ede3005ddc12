# shapes_cy: the shapes example in Cython, consuming the geometry API through its CPython-API
# stubs: `cimport geometry_capi` (the .pxd `python -m hpybridge gen geometry.toml` writes) gives
# its functions, called with Python objects and C doubles. The provider runs in whatever HPy mode
# it was loaded in.
cimport geometry_capi

cdef const geometry_capi.geometry_CAPI *geometry = geometry_capi.import_geometry_capi()


def perimeter(points):
    """The length of the closed polygon through points (2-tuples)."""
    pts = tuple(points)
    cdef double total = 0.0
    cdef Py_ssize_t i, n = len(pts)
    for i in range(n):
        total += geometry.distance(pts[i], pts[(i + 1) % n])
    return total


def centroid(points):
    """The mean of the points: a new vector from the provider."""
    pts = tuple(points)
    if not pts:
        raise ValueError("centroid: expected at least 1 point, found none")
    total = geometry.vec(0.0, 0.0)
    for p in pts:
        total = geometry.add(total, p)
    return geometry.scale(total, 1.0 / len(pts))
