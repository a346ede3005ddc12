//! Tests for the C signature model: canonical spellings, rejected inputs with
//! their error positions, and property tests for robustness and canonical
//! round trips. (How each type is passed is tested in `trampolines/src/abi.rs`.)

use capsules::signature::{CType, IntKind, Pointee, Scalar, Signature};
use proptest::prelude::*;
use proptest::sample::select;

fn parse(input: &str) -> Signature {
    Signature::parse(input).unwrap_or_else(|e| panic!("{e}\n{}", e.caret()))
}

/// Asserts that `input` canonicalises to `canonical` and that the canonical
/// form is a fixed point denoting the same model.
fn assert_round_trip(input: &str, canonical: &str) {
    let sig = parse(input);
    assert_eq!(sig.to_canonical(), canonical, "canonical form of {input:?}");
    let reparsed = parse(canonical);
    assert_eq!(reparsed, sig, "parse(canon({input:?})) differs from parse({input:?})");
    assert_eq!(reparsed.to_canonical(), canonical, "canonical form is not a fixed point");
}

#[test]
fn canonical_forms() {
    let table = [
        ("double (double)", "double (double)"),
        ("double(double)", "double (double)"),
        ("  double  (  double  )  ", "double (double)"),
        ("void\t(\n\tdouble\r\n)", "void (double)"),
        ("double (double x, int n)", "double (double, int)"),
        ("void (void)", "void (void)"),
        ("void(  void  )", "void (void)"),
        ("void ()", "void (void)"),
        ("HPy (HPyContext *, HPy, HPy_ssize_t)", "HPy (HPyContext *, HPy, HPy_ssize_t)"),
        ("HPy(HPyContext*ctx,HPy self,HPy_ssize_t n)", "HPy (HPyContext *, HPy, HPy_ssize_t)"),
        ("void (const HPyContext *ctx)", "void (HPyContext *)"),
        ("HPy *(HPyContext *, HPy *, HPy_ssize_t)", "HPy * (HPyContext *, HPy *, HPy_ssize_t)"),
        ("HPyContext **(HPyContext **)", "HPyContext ** (HPyContext **)"),
        ("double (int, double *, void *)", "double (int, double *, void *)"),
        ("PyObject *(PyObject *, int)", "PyObject * (PyObject *, int)"),
        ("cpy_PyObject* (cpy_PyObject *o, int __pyx_skip_dispatch)", "PyObject * (PyObject *, int)"),
        ("long int (short int, signed short, short signed int)", "long (short, short, short)"),
        ("unsigned (signed, signed int, int signed)", "unsigned int (int, int, int)"),
        (
            "unsigned long int (long unsigned, unsigned long long int, long long)",
            "unsigned long (unsigned long, unsigned long long, long long)",
        ),
        ("long long int (int long unsigned long)", "long long (unsigned long long)"),
        ("unsigned short (short unsigned int)", "unsigned short (unsigned short)"),
        ("char (signed char, unsigned char, char unsigned)", "char (signed char, unsigned char, unsigned char)"),
        ("signed char *(void *)", "signed char * (void *)"),
        ("_Bool (bool, _Bool *)", "bool (bool, bool *)"),
        ("const char *(const char *const s, char const * volatile)", "char * (char *, char *)"),
        ("volatile int (const volatile unsigned short)", "int (unsigned short)"),
        ("int (int *restrict out, const void *restrict in)", "int (int *, void *)"),
        ("double **(double * * p, void***)", "double ** (double **, void ***)"),
        ("int (char **argv, int argc)", "int (char **, int)"),
        ("size_t (ssize_t, Py_ssize_t, HPy_ssize_t)", "size_t (ssize_t, Py_ssize_t, HPy_ssize_t)"),
        ("HPy_UCS4 (HPy_UCS4 *)", "HPy_UCS4 (HPy_UCS4 *)"),
        (
            "intptr_t (uintptr_t, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t)",
            "intptr_t (uintptr_t, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t)",
        ),
        ("float (float f, double d)", "float (float, double)"),
        ("unsigned (unsigned dobule)", "unsigned int (unsigned int)"),
    ];
    assert!(table.len() >= 25);
    for (input, canonical) in table {
        assert_round_trip(input, canonical);
    }
}

#[test]
fn parsed_model() {
    let sig = parse("HPy (HPyContext *ctx, HPy h, double **out)");
    assert_eq!(sig.ret, CType::HANDLE);
    assert_eq!(
        sig.args,
        [
            CType::CONTEXT,
            CType::HANDLE,
            CType::Pointer {
                target: Pointee::Scalar(Scalar::Double),
                depth: 2.try_into().unwrap(),
                const_target: false
            },
        ]
    );
    assert_eq!(parse("void (void)").args, []);
    assert_eq!(parse("void (void)").ret, CType::Void);
    assert_eq!(parse("long (long)").ret, CType::Value(Scalar::Int(IntKind::Long)));
    assert_eq!(parse("int (PyObject *)").args[0], parse("int (cpy_PyObject *)").args[0]);
    assert_eq!("double (double)".parse::<Signature>(), Signature::parse("double (double)"));
}

#[test]
fn distinct_spellings_stay_distinct() {
    let distinct = [
        "void (long)",
        "void (HPy_ssize_t)",
        "void (Py_ssize_t)",
        "void (ssize_t)",
        "void (int64_t)",
        "void (char)",
        "void (signed char)",
        "void (HPy)",
        "void (intptr_t)",
    ];
    for (i, a) in distinct.iter().enumerate() {
        for (j, b) in distinct.iter().enumerate() {
            assert_eq!(parse(a).is_compatible(&parse(b)), i == j, "{a} vs {b}");
        }
    }
    assert!(parse("long int (signed long x)").is_compatible(&parse("long (long)")));
}

#[test]
fn helpers() {
    let sig = parse("HPy (HPyContext *, HPy, HPy_ssize_t, HPy, HPy *)");
    assert!(sig.takes_context());
    assert!(sig.returns_handle());
    assert_eq!(sig.handle_args().collect::<Vec<_>>(), [1, 3]);

    let sig = parse("double (double, HPyContext *)");
    assert!(!sig.takes_context());
    assert!(!sig.returns_handle());
    assert_eq!(sig.handle_args().count(), 0);

    assert!(!parse("void (HPyContext **)").takes_context());
    assert!(!parse("HPy * (void)").returns_handle());
}

#[test]
fn malformed_inputs() {
    // (input, byte offset, part of `expected`, part of `found`)
    let table = [
        ("", 0, "a C type", "end of input"),
        ("   ", 3, "a C type", "end of input"),
        ("(int)", 0, "a C type", "'('"),
        ("double", 6, "'('", "end of input"),
        ("int f(int)", 4, "'('", "'f'"),
        ("double (double", 14, "',' or ')'", "end of input"),
        ("double (double))", 15, "end of input", "')'"),
        ("double ((double))", 8, "a C type", "'('"),
        ("double (double) x", 16, "end of input", "'x'"),
        ("int (int) ;", 10, "end of input", "';'"),
        ("double (dobule)", 8, "a C type", "'dobule'"),
        ("dobule (double)", 0, "a C type", "'dobule'"),
        ("int (int x y)", 11, "',' or ')'", "'y'"),
        ("int (int 3x)", 9, "a parameter name, ',' or ')'", "'3x'"),
        ("int (const)", 10, "a C type", "')'"),
        ("int (int,)", 9, "a C type", "')'"),
        ("int (, int)", 5, "a C type", "','"),
        ("void (void, int)", 6, "'void' must stand alone", "'void'"),
        ("void (int, void)", 11, "'void' must stand alone", "'void'"),
        ("void (void x)", 6, "'void' must stand alone", "'void'"),
        ("void (const void v)", 12, "'void' must stand alone", "'void'"),
        ("int (HPyContext)", 15, "'*' (HPyContext is only passed by pointer)", "')'"),
        ("int (HPyContext ctx)", 16, "'*'", "'ctx'"),
        ("HPyContext (void)", 11, "'*'", "'('"),
        ("PyObject (int)", 9, "'*' (PyObject is opaque", "'('"),
        ("int (double x[])", 13, "',' or ')'", "arrays are unsupported"),
        ("int (double [3])", 12, "a parameter name", "arrays are unsupported"),
        ("int (int (*)(int))", 9, "',' or ')'", "function pointers are unsupported"),
        ("int (int, ...)", 10, "a C type", "variadic functions are unsupported"),
        ("long double (double)", 5, "combines with 'long'", "long double is unsupported by the trampolines"),
        ("double (double long)", 15, "combines with 'double'", "long double is unsupported"),
        ("int (unsigned signed)", 14, "combines with 'unsigned'", "'signed'"),
        ("int (signed unsigned int)", 12, "combines with 'signed'", "'unsigned'"),
        ("int (long long long)", 15, "combines with 'long long'", "'long'"),
        ("int (short long)", 11, "combines with 'short'", "'long'"),
        ("int (short char)", 11, "combines with 'short'", "'char'"),
        ("int (int int)", 9, "combines with 'int'", "'int'"),
        ("int (unsigned float)", 14, "combines with 'unsigned'", "'float'"),
        ("HPy (unsigned HPy)", 14, "combines with 'unsigned'", "'HPy'"),
        ("int (size_t long)", 12, "combines with 'size_t'", "'long'"),
        ("int (struct X *)", 5, "a C type", "struct, union and enum types are unsupported"),
        ("int (register int x)", 5, "a C type", "unsupported C keyword"),
        ("int (int struct)", 9, "a parameter name", "struct, union and enum types are unsupported"),
        ("int\0(int)", 3, "'('", "'\\0'"),
        ("int (int\u{a0}x)", 8, "a parameter name", "'\\u{a0}'"),
    ];
    assert!(table.len() >= 20);
    for (input, offset, expected, found) in table {
        let err = match Signature::parse(input) {
            Ok(sig) => panic!("{input:?} parsed as {sig}"),
            Err(err) => err,
        };
        let context = format!("{input:?}: {err}\n{}", err.caret());
        assert_eq!(err.offset, offset, "offset for {context}");
        assert!(err.expected.contains(expected), "expected part {expected:?} in {context}");
        assert!(err.found.contains(found), "found part {found:?} in {context}");
        assert_eq!(err.input, input);
        let message = err.to_string();
        assert!(!message.contains('\n'), "multi-line message for {context}");
        assert!(message.starts_with("malformed signature "), "{context}");
    }
}

#[test]
fn error_rendering() {
    let err = Signature::parse("double (dobule)").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed signature \"double (dobule)\": at column 9: expected a C type, found 'dobule'"
    );
    assert_eq!(err.column(), 9);
    assert_eq!(err.caret(), "double (dobule)\n        ^");

    // Control characters are escaped, and the caret stays under the culprit.
    let err = Signature::parse("int\t(int x y)").unwrap_err();
    assert_eq!(err.caret(), "int\\t(int x y)\n            ^");

    let err = Signature::parse("int (int\u{a0}x)").unwrap_err();
    assert_eq!(err.caret(), "int (int\\u{a0}x)\n        ^");

    // At end of input the caret sits just past the last character.
    let err = Signature::parse("int (int").unwrap_err();
    assert_eq!(err.column(), 9);
    assert_eq!(err.caret(), "int (int\n        ^");

    // Columns count characters, not bytes.
    let err = capsules::signature::SignatureError { offset: 3, ..err };
    let err = capsules::signature::SignatureError { input: "é (x".to_owned(), ..err };
    assert_eq!(err.column(), 3);
    assert_eq!(err.caret(), "é (x\n  ^");
}

/// Words and punctuation of the grammar, for shuffled near-miss inputs.
const TOKENS: &[&str] = &[
    "double",
    "float",
    "int",
    "char",
    "short",
    "long",
    "signed",
    "unsigned",
    "void",
    "_Bool",
    "bool",
    "const",
    "volatile",
    "restrict",
    "HPy",
    "HPyContext",
    "HPy_ssize_t",
    "HPy_UCS4",
    "PyObject",
    "cpy_PyObject",
    "size_t",
    "int64_t",
    "struct",
    "x",
    "n",
    "3",
    "*",
    "**",
    "(",
    ")",
    ",",
    "...",
    "..",
    "[",
    "]",
    ";",
    "é",
    "\u{a0}",
    "\0",
];

/// Type spellings for generated signatures: canonical name, equivalent
/// spellings, and whether the type only exists behind a pointer in an
/// argument list.
const TYPES: &[(&str, &[&str], bool)] = &[
    ("double", &["double"], false),
    ("float", &["float"], false),
    ("char", &["char"], false),
    ("signed char", &["signed char", "char signed"], false),
    ("unsigned char", &["unsigned char", "char unsigned"], false),
    ("short", &["short", "short int", "signed short", "int short signed"], false),
    ("unsigned short", &["unsigned short", "short unsigned int"], false),
    ("int", &["int", "signed", "signed int", "int signed"], false),
    ("unsigned int", &["unsigned", "unsigned int", "int unsigned"], false),
    ("long", &["long", "long int", "signed long", "int long signed"], false),
    ("unsigned long", &["unsigned long", "long unsigned int"], false),
    ("long long", &["long long", "long long int", "long signed long"], false),
    ("unsigned long long", &["unsigned long long", "long int unsigned long"], false),
    ("bool", &["bool", "_Bool"], false),
    ("size_t", &["size_t"], false),
    ("HPy_ssize_t", &["HPy_ssize_t"], false),
    ("Py_ssize_t", &["Py_ssize_t"], false),
    ("HPy_UCS4", &["HPy_UCS4"], false),
    ("uint8_t", &["uint8_t"], false),
    ("intptr_t", &["intptr_t"], false),
    ("HPy", &["HPy"], false),
    ("void", &["void"], true),
    ("HPyContext", &["HPyContext"], true),
    ("PyObject", &["PyObject", "cpy_PyObject"], true),
];

/// Optional whitespace, and whitespace that must separate two words.
const GAPS: &[&str] = &["", " ", "  ", "\t", "\n"];
const SPACES: &[&str] = &[" ", "  ", "\t", "\r\n "];
const QUALIFIERS: &[&str] = &["const", "volatile", "restrict"];
const NAMES: &[&str] = &["x", "n", "_p", "arg0", "__pyx_skip_dispatch", "dobule"];

/// A generated spelling of one type and its expected canonical spelling.
fn spelled_type(is_arg: bool) -> impl Strategy<Value = (String, String)> {
    (
        select(TYPES),
        any::<prop::sample::Index>(),
        0usize..4,
        prop::option::of(select(QUALIFIERS)),
        prop::collection::vec(prop::option::of(select(QUALIFIERS)), 3),
        select(SPACES),
        select(GAPS),
        prop::option::of(select(NAMES)),
    )
        .prop_map(move |(ty, spelling, stars, lead, star_quals, space, gap, name)| {
            let (canonical, spellings, pointer_only) = ty;
            // A by-value `void` return is fine; the other pointer-only types
            // need a star everywhere.
            let stars = if (is_arg || canonical != "void") && pointer_only { stars.max(1) } else { stars };
            let mut text = String::new();
            if let Some(q) = lead {
                text.push_str(q);
                text.push_str(space);
            }
            text.push_str(&spelling.get(spellings).replace(' ', space));
            for q in star_quals.iter().take(stars) {
                text.push_str(gap);
                text.push('*');
                if let Some(q) = q {
                    text.push_str(q);
                }
            }
            if let (true, Some(name)) = (is_arg, name) {
                text.push_str(space);
                text.push_str(name);
            }
            let canonical = match stars {
                0 => canonical.to_owned(),
                n => format!("{canonical} {}", "*".repeat(n)),
            };
            (text, canonical)
        })
}

/// A generated signature spelling and its expected canonical spelling.
fn spelled_signature() -> impl Strategy<Value = (String, String)> {
    (
        spelled_type(false),
        prop::collection::vec(spelled_type(true), 0..5),
        select(&["void", ""][..]),
        select(GAPS),
        select(GAPS),
    )
        .prop_map(|((ret, ret_canon), args, no_args, gap, gap2)| {
            let (texts, canons): (Vec<_>, Vec<_>) = args.into_iter().unzip();
            let text = if texts.is_empty() { no_args.to_owned() } else { texts.join(&format!("{gap},{gap2}")) };
            let canon = if canons.is_empty() { "void".to_owned() } else { canons.join(", ") };
            (format!("{gap2}{ret}{gap}({gap2}{text}{gap}){gap2}"), format!("{ret_canon} ({canon})"))
        })
}

/// Whatever the input, parsing returns, and its result is well formed.
fn check_total(input: &str) -> Result<(), TestCaseError> {
    match Signature::parse(input) {
        Ok(sig) => {
            let reparsed = Signature::parse(&sig.to_canonical());
            prop_assert_eq!(reparsed, Ok(sig));
        }
        Err(err) => {
            prop_assert!(err.offset <= input.len());
            prop_assert!(input.is_char_boundary(err.offset));
            prop_assert!(!err.to_string().contains('\n'));
            prop_assert_eq!(err.caret().lines().count(), 2);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_strings(input in any::<String>()) {
        check_total(&input)?;
    }

    #[test]
    fn never_panics_on_arbitrary_lines(input in "(?s).{0,48}") {
        check_total(&input)?;
    }

    #[test]
    fn never_panics_on_shuffled_tokens(
        tokens in prop::collection::vec((select(TOKENS), select(GAPS)), 0..16)
    ) {
        let input: String = tokens.iter().flat_map(|&(token, gap)| [token, gap]).collect();
        check_total(&input)?;
    }

    /// Near misses: a valid signature with a random span replaced by a token.
    #[test]
    fn never_panics_on_mutated_signatures(
        (input, _) in spelled_signature(),
        start in any::<prop::sample::Index>(),
        len in 0usize..4,
        token in select(TOKENS),
    ) {
        let boundaries: Vec<usize> = input.char_indices().map(|(i, _)| i).chain([input.len()]).collect();
        let start = start.index(boundaries.len());
        let end = boundaries[(start + len).min(boundaries.len() - 1)];
        let start = boundaries[start];
        check_total(&format!("{}{token}{}", &input[..start], &input[end..]))?;
    }

    #[test]
    fn generated_signatures_round_trip((input, canonical) in spelled_signature()) {
        let sig = Signature::parse(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&sig.to_canonical(), &canonical);
        let reparsed = Signature::parse(&canonical).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&reparsed, &sig);
        prop_assert_eq!(reparsed.to_canonical(), canonical);
    }
}

#[test]
fn pointer_targets_keep_const_which_equality_ignores() {
    let sig = parse(
        "int (const double *in, double *out, double const *const p, double *const q, const char **s, const int n)",
    );
    let consts: Vec<bool> = sig.args.iter().map(CType::const_target).collect();
    assert_eq!(consts, [true, false, true, false, true, false]);
    assert_eq!(sig.to_canonical(), "int (double *, double *, double *, double *, char **, int)");
    assert_eq!(sig.to_qualified(), "int (const double *, double *, const double *, double *, const char **, int)");
    let plain = parse("int (double *, double *, double *, double *, char **, int)");
    assert_eq!(sig, plain, "const is not part of a signature's identity");
    assert!(sig.is_compatible(&plain) && plain.is_compatible(&sig));
    assert!(!sig.same_qualified(&plain));
    let back = parse(&sig.to_qualified());
    assert!(back.same_qualified(&sig), "the qualified spelling parses back with the same constness");
    assert_eq!(parse("const char *(HPyContext *)").to_qualified(), "const char * (HPyContext *)");
    assert_eq!(parse("double (HPyContext *c, HPy v)").to_qualified(), "double (HPyContext *, HPy)");
    assert_eq!(parse("void ()").to_qualified(), "void (void)");
    let hash = |s: &Signature| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    };
    assert_eq!(hash(&sig), hash(&plain));
}
