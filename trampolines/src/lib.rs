//! Trampolines generated from a parsed signature. Filled in by the trampoline issue.
