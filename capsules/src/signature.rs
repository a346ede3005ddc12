//! The C signature model: what an exported API function looks like.
//!
//! Exported functions are described by C declarator strings in the convention
//! of Cython's `__pyx_capi__` capsule names and SciPy's `LowLevelCallable`
//! signatures, e.g. `"double (double)"` or `"HPy (HPyContext *, HPy, HPy_ssize_t)"`.
//! Providers and consumers spell the same signature in many equivalent ways
//! (`long int` vs `long`, argument names, `const`), so every layer above works
//! on the parsed [`Signature`] and compares canonical forms, never raw strings.
//!
//! The accepted language is deliberately small: scalars the trampolines can
//! move through registers, and pointers to them. Everything else (arrays,
//! function pointers, variadics, `long double`, aggregates, unknown names) is
//! rejected with a [`SignatureError`] pointing at the offending character,
//! because a signature that silently means something else corrupts calls at
//! run time.
//!
//! How each type is passed in a call is not modelled here: that is the
//! trampolines' business (`trampolines/src/abi.rs`).

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

/// A parsed function signature.
///
/// Parameter names and spelling variants are not kept. Of the qualifiers only
/// a pointer's `const` target is (`const double *`), for code that must know
/// whether the callee may write through it; equality ignores it, so two
/// signatures are equal exactly when their canonical spellings are equal.
/// The parser never puts [`CType::Void`] in `args`: `(void)` is an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    pub ret: CType,
    pub args: Vec<CType>,
}

/// A C type that can cross a trampoline.
///
/// Shaped so that types which cannot exist by value (`HPyContext`, `PyObject`)
/// are only representable behind a pointer.
///
/// Equality and hashing ignore `const_target`: qualifiers are not part of a
/// type's identity (docs/signatures.md §5); [`CType::same_qualified`] compares it too.
#[derive(Debug, Clone, Copy)]
pub enum CType {
    /// `void`; meaningful only as a return type.
    Void,
    /// A non-void value passed by value.
    Value(Scalar),
    /// `depth` levels of pointer to `target`: `double **` has depth 2.
    /// `const_target`: `target` itself was declared `const` (`const double *`,
    /// `double const **`); a `const` after a `*` qualifies a pointer and is dropped.
    Pointer { target: Pointee, depth: NonZeroUsize, const_target: bool },
}

impl PartialEq for CType {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Void, Self::Void) => true,
            (Self::Value(a), Self::Value(b)) => a == b,
            (Self::Pointer { target: a, depth: m, .. }, Self::Pointer { target: b, depth: n, .. }) => a == b && m == n,
            _ => false,
        }
    }
}

impl Eq for CType {}

impl std::hash::Hash for CType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Self::Void => {}
            Self::Value(scalar) => scalar.hash(state),
            Self::Pointer { target, depth, .. } => (target, depth).hash(state),
        }
    }
}

/// A type passed by value in a single register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    Int(IntKind),
    Float,
    Double,
    /// `HPy`: a handle, which must be translated between contexts.
    Handle,
}

/// What a pointer points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pointee {
    Void,
    Scalar(Scalar),
    /// `HPyContext`: only ever handled through a pointer.
    Context,
    /// `PyObject`, also spelled `cpy_PyObject` in HPy headers: opaque.
    PyObject,
}

/// C integer types, each with one canonical spelling ([`IntKind::name`]).
///
/// Typedef names such as `size_t` or `HPy_ssize_t` stay distinct from the
/// keyword types they alias: they are different declared APIs, and callers
/// expect to see the spelling they wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntKind {
    Char,
    SignedChar,
    UnsignedChar,
    Short,
    UnsignedShort,
    Int,
    UnsignedInt,
    Long,
    UnsignedLong,
    LongLong,
    UnsignedLongLong,
    SizeT,
    SSizeT,
    PySsizeT,
    HPySsizeT,
    HPyUcs4,
    IntPtrT,
    UIntPtrT,
    Int8T,
    UInt8T,
    Int16T,
    UInt16T,
    Int32T,
    UInt32T,
    Int64T,
    UInt64T,
    /// `bool` / `_Bool`.
    Bool,
}

/// Integer kinds spelled as a single typedef-like name rather than built
/// from keywords; the parser looks them up by [`IntKind::name`].
const NAMED_INTS: [IntKind; 16] = [
    IntKind::SizeT,
    IntKind::SSizeT,
    IntKind::PySsizeT,
    IntKind::HPySsizeT,
    IntKind::HPyUcs4,
    IntKind::IntPtrT,
    IntKind::UIntPtrT,
    IntKind::Int8T,
    IntKind::UInt8T,
    IntKind::Int16T,
    IntKind::UInt16T,
    IntKind::Int32T,
    IntKind::UInt32T,
    IntKind::Int64T,
    IntKind::UInt64T,
    IntKind::Bool,
];

impl IntKind {
    /// The canonical C spelling.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::SignedChar => "signed char",
            Self::UnsignedChar => "unsigned char",
            Self::Short => "short",
            Self::UnsignedShort => "unsigned short",
            Self::Int => "int",
            Self::UnsignedInt => "unsigned int",
            Self::Long => "long",
            Self::UnsignedLong => "unsigned long",
            Self::LongLong => "long long",
            Self::UnsignedLongLong => "unsigned long long",
            Self::SizeT => "size_t",
            Self::SSizeT => "ssize_t",
            Self::PySsizeT => "Py_ssize_t",
            Self::HPySsizeT => "HPy_ssize_t",
            Self::HPyUcs4 => "HPy_UCS4",
            Self::IntPtrT => "intptr_t",
            Self::UIntPtrT => "uintptr_t",
            Self::Int8T => "int8_t",
            Self::UInt8T => "uint8_t",
            Self::Int16T => "int16_t",
            Self::UInt16T => "uint16_t",
            Self::Int32T => "int32_t",
            Self::UInt32T => "uint32_t",
            Self::Int64T => "int64_t",
            Self::UInt64T => "uint64_t",
            Self::Bool => "bool",
        }
    }
}

impl CType {
    /// `HPy`.
    pub const HANDLE: Self = Self::Value(Scalar::Handle);
    /// `HPyContext *`.
    pub const CONTEXT: Self = Self::Pointer { target: Pointee::Context, depth: NonZeroUsize::MIN, const_target: false };

    /// Equal, and of the same constness.
    pub fn same_qualified(&self, other: &CType) -> bool {
        self == other && self.const_target() == other.const_target()
    }

    /// Whether this is a pointer whose target was declared `const`.
    pub fn const_target(&self) -> bool {
        matches!(self, Self::Pointer { const_target: true, .. })
    }

    /// The canonical spelling with a `const` target kept: `const double *`.
    pub fn qualified(&self) -> String {
        if self.const_target() {
            format!("const {self}")
        } else {
            self.to_string()
        }
    }
}

impl Signature {
    /// Parses a C declarator string such as `"double (double x, int n)"`.
    pub fn parse(input: &str) -> Result<Self, SignatureError> {
        Parser::new(input).signature()
    }

    /// The one spelling shared by all equivalent inputs, e.g.
    /// `"PyObject * (PyObject *, int)"`; same as `to_string()`.
    pub fn to_canonical(&self) -> String {
        self.to_string()
    }

    /// The canonical spelling with `const` kept before every pointer target
    /// declared so, e.g. `"int (const double *, double *, long)"`: what the
    /// generator writes into a provider's table, so that the runtime learns
    /// which pointers the provider only reads. Parses back to an equal
    /// signature with the same constness; equals the canonical spelling when
    /// nothing is `const`.
    pub fn to_qualified(&self) -> String {
        let args: Vec<String> = self.args.iter().map(CType::qualified).collect();
        let args = if args.is_empty() { "void".to_owned() } else { args.join(", ") };
        format!("{} ({args})", self.ret.qualified())
    }

    /// Equal, and every pointer of the same constness.
    pub fn same_qualified(&self, other: &Signature) -> bool {
        self.ret.same_qualified(&other.ret)
            && self.args.len() == other.args.len()
            && self.args.iter().zip(&other.args).all(|(a, b)| a.same_qualified(b))
    }

    /// Whether a consumer declaring `other` may bind to a provider exporting
    /// `self`. Deliberately exact: `long` and `HPy_ssize_t` share an ABI but
    /// are different declared APIs, and silently accepting one for the other
    /// hides version skew between extensions.
    pub fn is_compatible(&self, other: &Signature) -> bool {
        self == other
    }

    /// Whether the first argument is `HPyContext *`, which trampolines must
    /// replace with the callee's context.
    pub fn takes_context(&self) -> bool {
        self.args.first() == Some(&CType::CONTEXT)
    }

    /// Indices of the `HPy` arguments, which trampolines must translate.
    pub fn handle_args(&self) -> impl Iterator<Item = usize> + '_ {
        self.args.iter().enumerate().filter(|(_, ty)| **ty == CType::HANDLE).map(|(i, _)| i)
    }

    /// Whether the return value is an `HPy` that must be translated back.
    pub fn returns_handle(&self) -> bool {
        self.ret == CType::HANDLE
    }
}

impl FromStr for Signature {
    type Err = SignatureError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.ret)?;
        if self.args.is_empty() {
            f.write_str("void")?;
        }
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{arg}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for CType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Void => f.write_str("void"),
            Self::Value(scalar) => write!(f, "{scalar}"),
            Self::Pointer { target, depth, .. } => write!(f, "{target} {}", "*".repeat(depth.get())),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Int(kind) => kind.name(),
            Self::Float => "float",
            Self::Double => "double",
            Self::Handle => "HPy",
        })
    }
}

impl fmt::Display for Pointee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Void => f.write_str("void"),
            Self::Scalar(scalar) => write!(f, "{scalar}"),
            Self::Context => f.write_str("HPyContext"),
            Self::PyObject => f.write_str("PyObject"),
        }
    }
}

impl fmt::Display for IntKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a signature string was rejected, precise enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    /// The rejected input, verbatim.
    pub input: String,
    /// Byte offset of the offending character (`input.len()` at end of input).
    pub offset: usize,
    /// What would have been accepted there.
    pub expected: String,
    /// What was there, quoted, plus the reason when the construct is
    /// recognised but unsupported rather than misspelled.
    pub found: String,
}

impl SignatureError {
    /// 1-based character column of `offset`.
    pub fn column(&self) -> usize {
        self.input.char_indices().take_while(|&(i, _)| i < self.offset).count() + 1
    }

    /// Two lines: the input and a caret under the offending character.
    /// Control characters and unusual spaces are escaped, so the input stays
    /// on one line and an invisible culprit is visible.
    pub fn caret(&self) -> String {
        let mut line = String::with_capacity(self.input.len());
        let mut width = 0;
        let mut caret = None;
        for (i, c) in self.input.char_indices() {
            if i >= self.offset && caret.is_none() {
                caret = Some(width);
            }
            let before = line.len();
            if c.is_control() || (c.is_whitespace() && c != ' ') {
                line.extend(c.escape_default());
            } else {
                line.push(c);
            }
            width += line[before..].chars().count();
        }
        let pad = caret.unwrap_or(width);
        format!("{line}\n{:pad$}^", "")
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed signature {:?}: at column {}: expected {}, found {}",
            self.input,
            self.column(),
            self.expected,
            self.found
        )
    }
}

impl std::error::Error for SignatureError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A run of `[A-Za-z0-9_]`: keyword, type name, parameter name, or
    /// garbage such as `3x`, which is rejected wherever it appears.
    Word(&'a str),
    /// `...`, recognised only to explain that variadics are unsupported.
    Ellipsis,
    /// Any other single character.
    Sym(char),
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    offset: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// C's whitespace set; other Unicode spaces are errors like any stray character.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn tokenize(input: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &input[offset..];
        let Some(c) = rest.chars().next() else { break };
        let (tok, len) = if is_c_space(c) {
            (None, c.len_utf8())
        } else if is_word_char(c) {
            let len = rest.find(|d| !is_word_char(d)).unwrap_or(rest.len());
            (Some(Tok::Word(&rest[..len])), len)
        } else if rest.starts_with("...") {
            (Some(Tok::Ellipsis), 3)
        } else {
            (Some(Tok::Sym(c)), c.len_utf8())
        };
        if let Some(tok) = tok {
            tokens.push(Token { tok, offset });
        }
        offset += len;
    }
    tokens.push(Token { tok: Tok::End, offset: input.len() });
    tokens
}

/// Qualifiers change nothing the trampolines care about; only a `const`
/// among a type's specifiers is kept (see `CType::Pointer`).
fn is_qualifier(word: &str) -> bool {
    matches!(word, "const" | "volatile" | "restrict")
}

/// Explains C keywords that are recognised but unsupported, so the error
/// does not read like a typo.
fn unsupported_keyword(word: &str) -> Option<&'static str> {
    match word {
        "struct" | "union" | "enum" => Some("struct, union and enum types are unsupported"),
        "auto" | "register" | "static" | "extern" | "typedef" | "inline" | "_Atomic" | "_Complex" | "_Imaginary"
        | "_Noreturn" | "_Alignas" | "_Thread_local" => Some("unsupported C keyword"),
        _ => None,
    }
}

/// Whether `word` can be a parameter name (which is then dropped).
fn is_name(word: &str) -> bool {
    !word.starts_with(|c: char| c.is_ascii_digit())
        && specifier(word).is_none()
        && !is_qualifier(word)
        && unsupported_keyword(word).is_none()
}

fn describe(tok: Tok<'_>) -> String {
    match tok {
        Tok::Word(word) => match unsupported_keyword(word) {
            Some(why) => format!("'{word}' ({why})"),
            None => format!("'{word}'"),
        },
        Tok::Ellipsis => "'...' (variadic functions are unsupported)".to_owned(),
        Tok::Sym('[') => "'[' (arrays are unsupported; pass a pointer)".to_owned(),
        Tok::Sym(c) => format!("'{}'", c.escape_debug()),
        Tok::End => "end of input".to_owned(),
    }
}

/// One word of a type, before the words are combined into a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Specifier {
    Sign(Sign),
    Short,
    Long,
    Base(Base),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Signed,
    Unsigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Size {
    #[default]
    Plain,
    Short,
    Long,
    LongLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Char,
    Int,
    Float,
    Double,
    Void,
    /// A typedef-like name that combines with nothing else.
    Named(Pointee),
}

fn specifier(word: &str) -> Option<Specifier> {
    let named = |pointee| Some(Specifier::Base(Base::Named(pointee)));
    match word {
        "signed" => Some(Specifier::Sign(Sign::Signed)),
        "unsigned" => Some(Specifier::Sign(Sign::Unsigned)),
        "short" => Some(Specifier::Short),
        "long" => Some(Specifier::Long),
        "char" => Some(Specifier::Base(Base::Char)),
        "int" => Some(Specifier::Base(Base::Int)),
        "float" => Some(Specifier::Base(Base::Float)),
        "double" => Some(Specifier::Base(Base::Double)),
        "void" => Some(Specifier::Base(Base::Void)),
        "_Bool" => named(Pointee::Scalar(Scalar::Int(IntKind::Bool))),
        "HPy" => named(Pointee::Scalar(Scalar::Handle)),
        "HPyContext" => named(Pointee::Context),
        "PyObject" | "cpy_PyObject" => named(Pointee::PyObject),
        _ => NAMED_INTS
            .into_iter()
            .find(|kind| kind.name() == word)
            .and_then(|kind| named(Pointee::Scalar(Scalar::Int(kind)))),
    }
}

enum Conflict {
    Incompatible,
    LongDouble,
}

/// The specifiers of one type seen so far, in any order as C allows
/// (`long unsigned int` is `unsigned long`).
#[derive(Default)]
struct TypeSpec {
    sign: Option<Sign>,
    size: Size,
    base: Option<Base>,
}

impl TypeSpec {
    fn add(&mut self, spec: Specifier) -> Result<(), Conflict> {
        let modifiable = matches!(self.base, None | Some(Base::Int));
        let unmodified = self.sign.is_none() && self.size == Size::Plain;
        let long_double = match spec {
            Specifier::Long => self.base == Some(Base::Double),
            Specifier::Base(Base::Double) => matches!(self.size, Size::Long | Size::LongLong),
            _ => false,
        };
        if long_double {
            return Err(Conflict::LongDouble);
        }
        match spec {
            Specifier::Sign(sign)
                if self.sign.is_none() && matches!(self.base, None | Some(Base::Char | Base::Int)) =>
            {
                self.sign = Some(sign);
            }
            Specifier::Short if self.size == Size::Plain && modifiable => self.size = Size::Short,
            Specifier::Long if self.size == Size::Plain && modifiable => self.size = Size::Long,
            Specifier::Long if self.size == Size::Long && modifiable => self.size = Size::LongLong,
            Specifier::Base(Base::Char) if self.base.is_none() && self.size == Size::Plain => {
                self.base = Some(Base::Char);
            }
            Specifier::Base(Base::Int) if self.base.is_none() => self.base = Some(Base::Int),
            Specifier::Base(base) if self.base.is_none() && unmodified => self.base = Some(base),
            _ => return Err(Conflict::Incompatible),
        }
        Ok(())
    }

    /// The type named by the specifiers, or `None` if there were none.
    fn resolve(&self) -> Option<Pointee> {
        let int = |kind| Some(Pointee::Scalar(Scalar::Int(kind)));
        let unsigned = self.sign == Some(Sign::Unsigned);
        match self.base {
            Some(Base::Float) => Some(Pointee::Scalar(Scalar::Float)),
            Some(Base::Double) => Some(Pointee::Scalar(Scalar::Double)),
            Some(Base::Void) => Some(Pointee::Void),
            Some(Base::Named(pointee)) => Some(pointee),
            Some(Base::Char) => int(match self.sign {
                None => IntKind::Char,
                Some(Sign::Signed) => IntKind::SignedChar,
                Some(Sign::Unsigned) => IntKind::UnsignedChar,
            }),
            None if self.sign.is_none() && self.size == Size::Plain => None,
            Some(Base::Int) | None => int(match (self.size, unsigned) {
                (Size::Plain, false) => IntKind::Int,
                (Size::Plain, true) => IntKind::UnsignedInt,
                (Size::Short, false) => IntKind::Short,
                (Size::Short, true) => IntKind::UnsignedShort,
                (Size::Long, false) => IntKind::Long,
                (Size::Long, true) => IntKind::UnsignedLong,
                (Size::LongLong, false) => IntKind::LongLong,
                (Size::LongLong, true) => IntKind::UnsignedLongLong,
            }),
        }
    }
}

/// Recursive-descent parser over a pre-tokenized input. The grammar:
///
/// ```text
/// signature := type '(' params ')'
/// params    := ε | 'void' | param (',' param)*
/// param     := type name?
/// type      := (qualifier | specifier)+ ('*' qualifier*)*
/// ```
struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    /// Index of the next token; never past the final `End` token.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, tokens: tokenize(input), pos: 0 }
    }

    fn peek(&self) -> Token<'a> {
        self.tokens[self.pos]
    }

    fn bump(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn error(&self, offset: usize, expected: &str, found: String) -> SignatureError {
        SignatureError { input: self.input.to_owned(), offset, expected: expected.to_owned(), found }
    }

    /// An error at the next token, described generically.
    fn unexpected(&self, expected: &str) -> SignatureError {
        let token = self.peek();
        self.error(token.offset, expected, describe(token.tok))
    }

    fn signature(&mut self) -> Result<Signature, SignatureError> {
        let (ret, _) = self.ty()?;
        if self.peek().tok != Tok::Sym('(') {
            return Err(self.unexpected("'(' opening the parameter list"));
        }
        self.bump();
        let args = self.params()?;
        if self.peek().tok != Tok::End {
            return Err(self.unexpected("end of input after the parameter list"));
        }
        Ok(Signature { ret, args })
    }

    /// Parses the parameters and the closing `)`. An empty `()` is read as
    /// `(void)`, as in C23 and C++.
    fn params(&mut self) -> Result<Vec<CType>, SignatureError> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::Sym(')') {
            self.bump();
            return Ok(args);
        }
        loop {
            let (ty, start) = self.ty()?;
            let named = matches!(self.peek().tok, Tok::Word(word) if is_name(word));
            if named {
                self.bump();
            }
            if ty == CType::Void {
                if named || !args.is_empty() || self.peek().tok == Tok::Sym(',') {
                    return Err(self.error(
                        start,
                        "a non-void parameter type ('void' must stand alone and unnamed, as '(void)')",
                        "'void'".to_owned(),
                    ));
                }
            } else {
                args.push(ty);
            }
            match self.peek().tok {
                Tok::Sym(',') => self.bump(),
                Tok::Sym(')') => {
                    self.bump();
                    return Ok(args);
                }
                Tok::Sym('(') => {
                    let offset = self.peek().offset;
                    let found = "'(' (function pointers are unsupported)".to_owned();
                    return Err(self.error(offset, "',' or ')'", found));
                }
                _ if named => return Err(self.unexpected("',' or ')'")),
                _ => return Err(self.unexpected("a parameter name, ',' or ')'")),
            }
        }
    }

    /// Parses specifiers, qualifiers and pointer stars, stopping before a
    /// parameter name. Returns the type and the offset of its first specifier.
    fn ty(&mut self) -> Result<(CType, usize), SignatureError> {
        let mut spec = TypeSpec::default();
        let mut words: Vec<&str> = Vec::new();
        let mut start = self.peek().offset;
        let mut const_target = false;
        while let Tok::Word(word) = self.peek().tok {
            if word == "const" {
                const_target = true;
            } else if !is_qualifier(word) {
                let Some(specifier) = specifier(word) else {
                    break;
                };
                if let Err(conflict) = spec.add(specifier) {
                    let expected = format!("a type specifier that combines with '{}'", words.join(" "));
                    let found = match conflict {
                        Conflict::Incompatible => format!("'{word}'"),
                        Conflict::LongDouble => {
                            format!("'{word}' (long double is unsupported by the trampolines)")
                        }
                    };
                    return Err(self.error(self.peek().offset, &expected, found));
                }
                if words.is_empty() {
                    start = self.peek().offset;
                }
                words.push(word);
            }
            self.bump();
        }
        let Some(base) = spec.resolve() else {
            return Err(self.unexpected("a C type"));
        };

        let mut stars = 0;
        loop {
            match self.peek().tok {
                Tok::Sym('*') => stars += 1,
                Tok::Word(word) if is_qualifier(word) => {}
                _ => break,
            }
            self.bump();
        }
        let ty = match (NonZeroUsize::new(stars), base) {
            (Some(depth), target) => CType::Pointer { target, depth, const_target },
            (None, Pointee::Void) => CType::Void,
            (None, Pointee::Scalar(scalar)) => CType::Value(scalar),
            (None, Pointee::Context) => {
                return Err(self.unexpected("'*' (HPyContext is only passed by pointer)"));
            }
            (None, Pointee::PyObject) => {
                return Err(self.unexpected("'*' (PyObject is opaque and only passed by pointer)"));
            }
        };
        Ok((ty, start))
    }
}
