//! Which world an `HPyContext` belongs to: its HPy mode and the interpreter behind it.
//!
//! Contexts say what they are only through `ctx->name`, so classification is an exact lookup of the
//! names HPy 0.9 gives its contexts (see docs/ and `../shared/notes`). A name not in the table is an
//! unknown family of its own: callers must treat it with the fully general path, never a guess.

use crate::hpy::context::context_name;
use crate::hpy::private;
use hpy_sys::HPyContext;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Universal,
    Debug,
    Trace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interpreter {
    CPython,
    PyPy,
}

/// Contexts of one family share handle representation and calling rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Known {
        mode: Mode,
        interpreter: Interpreter,
    },
    /// Another interpreter or a future mode, keyed by the context's name.
    Unknown(String),
}

/// The context names of HPy 0.9, CPython's `hpy.universal` and PyPy 7.3.19's `_hpy_universal`.
/// (The first is the universal context that CPython's debug and trace contexts wrap: `of` checks it.)
const KNOWN_NAMES: [(&str, Mode, Interpreter); 6] = [
    ("HPy Universal ABI (CPython backend)", Mode::Universal, Interpreter::CPython),
    ("HPy Debug Mode ABI", Mode::Debug, Interpreter::CPython),
    ("HPy Trace Mode ABI", Mode::Trace, Interpreter::CPython),
    ("HPy Universal ABI (PyPy backend)", Mode::Universal, Interpreter::PyPy),
    ("HPy Debug Mode ABI (PyPy backend)", Mode::Debug, Interpreter::PyPy),
    ("HPy Trace Mode ABI (PyPy backend)", Mode::Trace, Interpreter::PyPy),
];

impl Family {
    pub fn from_name(name: &str) -> Family {
        KNOWN_NAMES
            .iter()
            .find(|(known, ..)| *known == name)
            .map(|&(_, mode, interpreter)| Family::Known { mode, interpreter })
            .unwrap_or_else(|| Family::Unknown(name.to_owned()))
    }

    /// The family of a context: by its name, except that HPy's debug and trace modes give their
    /// contexts the same names on CPython and on GraalPy (docs/graalpy.md), where entering debug
    /// mode CPython's way would abort: there the universal context they wrap says which
    /// interpreter it is, and one that is not CPython's makes the family unknown
    /// (`"HPy Debug Mode ABI over <its name>"`), as does private data without HPy 0.9's magic numbers.
    ///
    /// # Safety
    /// `ctx` must point to a live HPy context.
    pub unsafe fn of(ctx: *const HPyContext) -> Family {
        // SAFETY: `ctx` points to a live context (the caller's contract).
        let name = unsafe { context_name(ctx) }.to_string_lossy();
        let family = Family::from_name(&name);
        let Family::Known { mode: mode @ (Mode::Debug | Mode::Trace), interpreter: Interpreter::CPython } = family
        else {
            return family;
        };
        // SAFETY: the context calls itself HPy's debug or trace context, whose `_private` points to
        // the structures `wrapped_universal` reads (checking their magic numbers first); the
        // universal context it wraps lives as long as the wrapper.
        let wrapped = unsafe { private::wrapped_universal(ctx, mode == Mode::Debug).map(|u| context_name(u)) };
        match wrapped {
            Some(universal) if universal.to_bytes() == KNOWN_NAMES[0].0.as_bytes() => family,
            Some(universal) => Family::Unknown(format!("{name} over {}", universal.to_string_lossy())),
            None => Family::Unknown(name.into_owned()),
        }
    }

    pub fn mode(&self) -> Option<Mode> {
        match self {
            Family::Known { mode, .. } => Some(*mode),
            Family::Unknown(_) => None,
        }
    }

    pub fn interpreter(&self) -> Option<Interpreter> {
        match self {
            Family::Known { interpreter, .. } => Some(*interpreter),
            Family::Unknown(_) => None,
        }
    }
}

/// How a call obtains a provider context that is valid for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The provider's home context (its `_ctx_for_trampolines`) is valid whenever it is called.
    Home,
    /// CPython's debug mode: only a context handed out by `ctx_CallRealFunctionFromTrampoline` on
    /// the home context is valid, and only during that call (see docs/hpy-contexts.md).
    ThroughTrampolineCall,
    /// PyPy's debug mode: one debug context for every debug-mode module, which HPy's debug wrappers
    /// mark invalid while debug code calls out (to Python, say). The home context, marked valid for
    /// the call if such a call-out is under way (docs/hpy-contexts.md, "PyPy's debug mode and re-entry").
    HomeRevalidated,
}

impl Family {
    /// Whether a handle of this family means the same object in `other`. Universal and trace
    /// contexts share handles on CPython and on PyPy (checked on both); debug handles are wrappers
    /// of their own; an unknown family shares with nobody but itself.
    pub fn shares_handles_with(&self, other: &Family) -> bool {
        match (self, other) {
            (Family::Known { mode: a, interpreter: i }, Family::Known { mode: b, interpreter: j }) => {
                i == j && (a == b || (*a != Mode::Debug && *b != Mode::Debug))
            }
            _ => self == other,
        }
    }

    /// How to get a context of this family that is valid for a call. Unknown families get their
    /// home context: what a Python-level call of one of their functions would be given.
    pub fn entry(&self) -> Entry {
        match self {
            Family::Known { mode: Mode::Debug, interpreter: Interpreter::CPython } => Entry::ThroughTrampolineCall,
            Family::Known { mode: Mode::Debug, interpreter: Interpreter::PyPy } => Entry::HomeRevalidated,
            _ => Entry::Home,
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Universal => "universal",
            Mode::Debug => "debug",
            Mode::Trace => "trace",
        }
    }
}

impl Interpreter {
    pub fn as_str(self) -> &'static str {
        match self {
            Interpreter::CPython => "CPython",
            Interpreter::PyPy => "PyPy",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::Known { mode, interpreter } => write!(f, "{}/{}", mode.as_str(), interpreter.as_str()),
            Family::Unknown(name) => write!(f, "unknown ({name:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_classify_exactly() {
        for (name, mode, interpreter) in KNOWN_NAMES {
            assert_eq!(Family::from_name(name), Family::Known { mode, interpreter });
        }
    }

    #[test]
    fn handle_sharing() {
        let f = |name: &str| Family::from_name(name);
        let (u, d, t) = (f(KNOWN_NAMES[0].0), f(KNOWN_NAMES[1].0), f(KNOWN_NAMES[2].0));
        let (pu, pt) = (f(KNOWN_NAMES[3].0), f(KNOWN_NAMES[5].0));
        assert!(u.shares_handles_with(&t) && t.shares_handles_with(&u) && pu.shares_handles_with(&pt));
        assert!(!u.shares_handles_with(&d) && !d.shares_handles_with(&t));
        assert!(d.shares_handles_with(&d));
        assert!(!u.shares_handles_with(&pu), "never across interpreters");
        let x = f("HPy Universal ABI (GraalPy backend)");
        assert!(x.shares_handles_with(&x) && !x.shares_handles_with(&u));
    }

    #[test]
    fn only_debug_mode_needs_more_than_the_home_context() {
        for (name, mode, interpreter) in KNOWN_NAMES {
            let expected = match (mode, interpreter) {
                (Mode::Debug, Interpreter::CPython) => Entry::ThroughTrampolineCall,
                (Mode::Debug, Interpreter::PyPy) => Entry::HomeRevalidated,
                _ => Entry::Home,
            };
            assert_eq!(Family::from_name(name).entry(), expected, "{name}");
        }
        assert_eq!(Family::from_name("something new").entry(), Entry::Home);
    }

    #[test]
    fn anything_else_is_its_own_unknown_family() {
        let f = Family::from_name("HPy Universal ABI (GraalPy backend)");
        assert_eq!(f, Family::Unknown("HPy Universal ABI (GraalPy backend)".into()));
        assert_eq!(f.mode(), None);
        assert_ne!(f, Family::from_name("HPy Debug Mode ABI (GraalPy backend)"));
        // A near-miss is not a guess at the closest known name.
        assert!(matches!(Family::from_name("HPy Debug Mode ABI "), Family::Unknown(_)));
    }

    /// A context of `name` whose `_private` is `private`, as HPy lays one out.
    fn context(name: &'static std::ffi::CStr, private: *mut std::ffi::c_void) -> HPyContext {
        // SAFETY: HPyContext is a C struct of integers and pointers, for which all-zero is valid;
        // `of` reads only its name and `_private`.
        let mut ctx: HPyContext = unsafe { std::mem::zeroed() };
        ctx.name = name.as_ptr();
        ctx._private = private;
        ctx
    }

    #[test]
    fn debug_and_trace_contexts_are_cpythons_only_over_cpythons_universal_context() {
        use crate::hpy::private::*;
        // Each kind of context over a universal context of `universal`, with HPy 0.9's magic
        // numbers (`magic`) or without.
        let classify = |universal: &'static std::ffi::CStr, magic: bool| {
            let uctx = context(universal, std::ptr::null_mut());
            let spoil = |m: std::ffi::c_long| if magic { m } else { 0 };
            let info = DebugInfoHead { magic_number: spoil(DEBUG_INFO_MAGIC), uctx: &uctx };
            let mut ctx_info = DebugCtxInfoHead { magic_number: DEBUG_CTX_INFO_MAGIC, is_valid: 1, info: &info };
            let mut trace = TraceInfoHead { magic_number: spoil(TRACE_MAGIC), uctx: &uctx };
            let dctx = context(c"HPy Debug Mode ABI", (&raw mut ctx_info).cast());
            let tctx = context(c"HPy Trace Mode ABI", (&raw mut trace).cast());
            // SAFETY: live contexts whose private data is laid out as HPy 0.9's.
            unsafe { (Family::of(&dctx), Family::of(&tctx)) }
        };
        let (cpython, unchecked) = (
            classify(c"HPy Universal ABI (CPython backend)", true),
            classify(c"HPy Universal ABI (CPython backend)", false),
        );
        assert_eq!(cpython.0, Family::Known { mode: Mode::Debug, interpreter: Interpreter::CPython });
        assert_eq!(cpython.1, Family::Known { mode: Mode::Trace, interpreter: Interpreter::CPython });
        assert_eq!(unchecked.0, Family::Unknown("HPy Debug Mode ABI".into()));
        assert_eq!(unchecked.1, Family::Unknown("HPy Trace Mode ABI".into()));
        let graalpy = classify(c"HPy Universal ABI (GraalVM backend, JNI)", true);
        assert_eq!(
            graalpy.0,
            Family::Unknown("HPy Debug Mode ABI over HPy Universal ABI (GraalVM backend, JNI)".into())
        );
        assert_eq!(graalpy.0.entry(), Entry::Home, "never CPython's trampoline call, which aborts there");
        assert_eq!(
            graalpy.1,
            Family::Unknown("HPy Trace Mode ABI over HPy Universal ABI (GraalVM backend, JNI)".into())
        );
    }
}
