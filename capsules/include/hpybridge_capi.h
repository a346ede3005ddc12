/* hpybridge_capi.h: the `__cdict__` C-level lookup for C-API consumers (code with Python.h and no HPy
 * context: C, Cython, PyO3 through its FFI), the counterpart of hpybridge.h's HPyBridge_CDictLookup.
 * A separate header because hpybridge.h is for HPy extensions (it includes hpy.h, and HPy's universal
 * headers refuse Python.h). Find it with `hpybridge.get_include()`; include it after Python.h.
 *
 *   void *HPyBridge_CDictLookup_CAPI(PyObject *obj, const char *name, const char *signature);
 *
 * `signature` is the CPython-API form the consumer calls (no HPyContext *, PyObject * for HPy:
 * "double (PyObject *)" for an entry "double (HPyContext *, HPy)"), in any spelling the parser
 * accepts. The answer is the entry's foreign form (docs/export.md): the provider's function when it
 * takes no context, else a CPython-API stub that enters the provider's context (made once, on
 * demand for type and object entries) behind a wrapper that takes the GIL. It is valid for the
 * life of the process: keep it. NULL *without* an exception if `obj` has no such entry (no
 * `__cdict__`, a module's API `__cdict__`, no such name or no implementation of that form); NULL
 * with an exception for a malformed signature (SignatureSyntaxError) or an HPy signature
 * (TypeError). Lookup order and canonical comparison are those of HPyBridge_CDictLookup
 * (docs/cdict.md §7); there is no cache: each lookup calls hpybridge.export.cdict_lookup_capi
 * (microseconds), so look up once and keep the pointer. The caller holds the GIL. */
#ifndef HPYBRIDGE_CAPI_H
#define HPYBRIDGE_CAPI_H

#ifndef Py_PYTHON_H
#error "include Python.h before hpybridge_capi.h"
#endif

static inline void *HPyBridge_CDictLookup_CAPI(PyObject *obj, const char *name, const char *signature)
{
    /* hpybridge.export.cdict_lookup_capi, found once per translation unit and kept. */
    static PyObject *lookup;
    if (lookup == NULL) {
        PyObject *module = PyImport_ImportModule("hpybridge.export");
        if (module == NULL)
            return NULL;
        lookup = PyObject_GetAttrString(module, "cdict_lookup_capi");
        Py_DECREF(module);
        if (lookup == NULL)
            return NULL;
    }
    if (obj == NULL || name == NULL || signature == NULL) {
        PyErr_SetString(PyExc_TypeError, "HPyBridge_CDictLookup_CAPI(): obj, name and signature must not be NULL");
        return NULL;
    }
    PyObject *found = PyObject_CallFunction(lookup, "Oss", obj, name, signature);
    if (found == NULL)
        return NULL;
    void *function = found == Py_None ? NULL : PyLong_AsVoidPtr(found);
    Py_DECREF(found);
    return function;
}

#endif
