//! The `__cdict__` protocol (docs/cdict.md): C entry points on Python objects, callable from
//! Python. `marshal` (Python values to C words and back), `implementation` (one C function of an
//! entry and its prepared call), `entries` (the implementations of every exported API's slots),
//! `dispatch` (which implementation a call takes), `function`
//! (a `CFunction`'s data: its implementations, resolved), `boxing` (`hpybridge.box` / `unbox`),
//! `info` (a provider's flags and doc string for an entry), `adopt` (foreign C functions as implementations: `hpybridge.cfunction`), `export` (the foreign
//! form: a plain C function pointer for ctypes, cffi, SciPy, numba).

pub mod adopt;
pub mod boxing;
pub mod dispatch;
pub mod entries;
pub mod export;
pub mod function;
pub mod implementation;
pub mod info;
pub mod marshal;
