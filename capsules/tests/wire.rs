//! Tests for the API-table wire format: tables built in Rust memory exactly as a C provider or
//! consumer lays them out, read back with `read_table` (every `WireError`, in the documented order
//! of checks), matched with `check_import` (every `Mismatch`), the byte layout and the worked
//! example of docs/wire-format.md, and property tests that `read_table` never panics and agrees
//! with a model of the documented rules.

use capsules::signature::Signature;
use capsules::wire::{
    check_import, read_table, ApiDecl, HPyBridge_APITable, HPyBridge_Slot, ImportMismatch, Mismatch, Role, SlotDecl,
    WireError, HPYBRIDGE_LAYOUT_VERSION, HPYBRIDGE_MAGIC, MAX_SLOTS,
};
use hpy_sys::HPyContext;
use proptest::prelude::*;
use proptest::sample::select;
use std::ffi::{c_void, CString};
use std::mem::{align_of, offset_of, size_of};
use std::ptr::{null, null_mut};

// ---------------------------------------------------------------------------------------------
// Building tables

/// A `const char *` field: `None` is NULL, else the bytes before the terminating NUL.
type Text = Option<Vec<u8>>;

fn text(s: &str) -> Text {
    Some(s.as_bytes().to_vec())
}

/// Implementations for provider slots. Their bodies differ so that their addresses do.
extern "C" fn area_impl(_ctx: *mut c_void, _shape: isize) -> f64 {
    1.0
}
extern "C" fn perimeter_impl(_ctx: *mut c_void, _shape: isize) -> f64 {
    2.0
}
extern "C" fn scale_impl(_ctx: *mut c_void, shape: isize, _factor: f64) -> isize {
    shape + 3
}
extern "C" fn describe_impl(_ctx: *mut c_void, _shape: isize) -> *const std::ffi::c_char {
    c"shape".as_ptr()
}

fn area_fn() -> *mut c_void {
    area_impl as *mut c_void
}
fn perimeter_fn() -> *mut c_void {
    perimeter_impl as *mut c_void
}
fn scale_fn() -> *mut c_void {
    scale_impl as *mut c_void
}
fn describe_fn() -> *mut c_void {
    describe_impl as *mut c_void
}

#[derive(Clone, Debug)]
struct SlotSpec {
    name: Text,
    signature: Text,
    function: *mut c_void,
}

fn slot(name: &str, signature: &str, function: *mut c_void) -> SlotSpec {
    SlotSpec { name: text(name), signature: text(signature), function }
}

/// Everything a table can say, including what a broken provider could put in it.
#[derive(Clone, Debug)]
struct TableSpec {
    magic: u32,
    layout_version: u32,
    api_name: Text,
    major: u32,
    minor: u32,
    flags: u32,
    provider_ctx: *mut HPyContext,
    slots: Vec<SlotSpec>,
    /// `slot_count` when it is not `slots.len()`: at most `slots.len()`, or above `MAX_SLOTS`
    /// (never read past), or anything when `null_slots`.
    slot_count: Option<u32>,
    /// Store NULL in `slots` whatever `slots` holds.
    null_slots: bool,
}

impl TableSpec {
    fn new(api: &str, major: u32, minor: u32, slots: Vec<SlotSpec>) -> Self {
        TableSpec {
            magic: HPYBRIDGE_MAGIC,
            layout_version: HPYBRIDGE_LAYOUT_VERSION,
            api_name: text(api),
            major,
            minor,
            flags: 0,
            provider_ctx: null_mut(),
            slots,
            slot_count: None,
            null_slots: false,
        }
    }

    /// The same declaration with every function NULL, as a consumer writes it.
    fn into_consumer(mut self) -> Self {
        for s in &mut self.slots {
            s.function = null_mut();
        }
        self
    }

    fn count(&self) -> u32 {
        self.slot_count.unwrap_or(self.slots.len() as u32)
    }

    fn build(&self) -> Built {
        let count = self.count();
        assert!(
            self.null_slots || count as usize <= self.slots.len() || count > MAX_SLOTS,
            "a table that would make read_table read past its slots"
        );
        let mut strings = Vec::new();
        let mut keep = |t: &Text| match t {
            None => null(),
            Some(bytes) => {
                let c = CString::new(bytes.clone()).expect("no NUL inside a C string");
                let p = c.as_ptr();
                strings.push(c);
                p
            }
        };
        let api_name = keep(&self.api_name);
        let slots: Vec<HPyBridge_Slot> = self
            .slots
            .iter()
            .map(|s| HPyBridge_Slot { name: keep(&s.name), signature: keep(&s.signature), function: s.function })
            .collect();
        let table = Box::new(HPyBridge_APITable {
            magic: self.magic,
            layout_version: self.layout_version,
            api_name,
            major: self.major,
            minor: self.minor,
            slot_count: count,
            flags: self.flags,
            provider_ctx: self.provider_ctx,
            slots: if self.null_slots { null() } else { slots.as_ptr() },
        });
        Built { table, _slots: slots, _strings: strings }
    }

    fn read(&self, role: Role) -> Result<ApiDecl, WireError> {
        self.build().read(role)
    }

    fn decl(&self, role: Role) -> ApiDecl {
        self.read(role).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(&self, role: Role) -> WireError {
        match self.read(role) {
            Ok(decl) => panic!("expected an error, read {decl:?}"),
            Err(e) => e,
        }
    }
}

/// A table in C layout and the memory it points into (moving this moves no heap data).
struct Built {
    table: Box<HPyBridge_APITable>,
    _slots: Vec<HPyBridge_Slot>,
    _strings: Vec<CString>,
}

impl Built {
    fn read(&self, role: Role) -> Result<ApiDecl, WireError> {
        // SAFETY: `table` and everything it points to live in `self`; `build` checked that
        // slot_count does not exceed the slots unless read_table must reject it first.
        unsafe { read_table(&*self.table, role) }
    }
}

/// The "geometry" API through its minor versions: 1.N has N + 1 slots, each minor appending one.
const GEOMETRY: [(&str, &str); 4] = [
    ("area", "double (HPyContext *ctx, HPy shape)"),
    ("perimeter", "double (HPyContext *, HPy)"),
    ("scale", "HPy (HPyContext *ctx, HPy shape, double factor)"),
    ("describe", "const char *(HPyContext *, HPy)"),
];
const GEOMETRY_CANONICAL: [&str; 4] = [
    "double (HPyContext *, HPy)",
    "double (HPyContext *, HPy)",
    "HPy (HPyContext *, HPy, double)",
    "char * (HPyContext *, HPy)",
];

fn geometry_functions() -> [*mut c_void; 4] {
    [area_fn(), perimeter_fn(), scale_fn(), describe_fn()]
}

/// The geometry provider at version 1.`minor`.
fn geometry(minor: u32) -> TableSpec {
    let functions = geometry_functions();
    let slots = (0..=minor as usize).map(|i| slot(GEOMETRY[i].0, GEOMETRY[i].1, functions[i])).collect();
    TableSpec::new("geometry", 1, minor, slots)
}

/// What a consumer of geometry 1.`minor` declares.
fn geometry_consumer(minor: u32) -> TableSpec {
    geometry(minor).into_consumer()
}

fn assert_one_line(message: &str) {
    assert!(!message.is_empty());
    assert!(!message.contains('\n') && !message.contains('\r'), "multi-line message: {message:?}");
}

/// Checks the error's Display: exactly `message`, on one line, naming `parts` (what was expected
/// and what was found).
fn assert_message(err: &WireError, message: &str, parts: &[&str]) {
    let shown = err.to_string();
    assert_one_line(&shown);
    assert_eq!(shown, message);
    for part in parts {
        assert!(shown.contains(part), "{shown:?} does not name {part:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Layout

#[test]
fn layout_is_the_documented_lp64_layout() {
    assert_eq!(size_of::<HPyBridge_Slot>(), 24);
    assert_eq!(align_of::<HPyBridge_Slot>(), 8);
    assert_eq!(offset_of!(HPyBridge_Slot, name), 0);
    assert_eq!(offset_of!(HPyBridge_Slot, signature), 8);
    assert_eq!(offset_of!(HPyBridge_Slot, function), 16);

    assert_eq!(size_of::<HPyBridge_APITable>(), 48);
    assert_eq!(align_of::<HPyBridge_APITable>(), 8);
    assert_eq!(offset_of!(HPyBridge_APITable, magic), 0);
    assert_eq!(offset_of!(HPyBridge_APITable, layout_version), 4);
    assert_eq!(offset_of!(HPyBridge_APITable, api_name), 8);
    assert_eq!(offset_of!(HPyBridge_APITable, major), 16);
    assert_eq!(offset_of!(HPyBridge_APITable, minor), 20);
    assert_eq!(offset_of!(HPyBridge_APITable, slot_count), 24);
    assert_eq!(offset_of!(HPyBridge_APITable, flags), 28);
    assert_eq!(offset_of!(HPyBridge_APITable, provider_ctx), 32);
    assert_eq!(offset_of!(HPyBridge_APITable, slots), 40);

    assert_eq!(HPYBRIDGE_MAGIC, 0x4259_5048);
    assert_eq!(&HPYBRIDGE_MAGIC.to_le_bytes(), b"HPYB", "the magic reads \"HPYB\" in memory");
    assert_eq!(HPYBRIDGE_LAYOUT_VERSION, 1);
    assert_eq!(capsules::wire::abi::HPYBRIDGE_CAPSULE_PREFIX, b"hpybridge.api.\0");
    assert_eq!(capsules::wire::capsule_name("geometry").as_c_str(), c"hpybridge.api.geometry");
    assert_eq!(capsules::wire::attribute_name("geometry").as_c_str(), c"_geometry_API");
    assert_eq!(MAX_SLOTS, 4096);
}

/// Where the worked example of docs/wire-format.md (geometry 1.1: `area`, `perimeter`) is placed
/// in memory.
const EXAMPLE_BASE: u64 = 0x7f00_0000_1000;
/// The example's function addresses (never called, only carried).
const EXAMPLE_FUNCTIONS: [u64; 2] = [0x7f00_0040_2a10, 0x7f00_0040_2a80];

/// Lays out the worked example byte by byte at the offsets docs/wire-format.md gives, as another
/// implementation would, with the image placed at `base`. Returns the bytes.
fn example_image(base: u64, functions: [u64; 2]) -> Vec<u8> {
    let mut image = vec![0u8; 0x30 + 2 * 0x18];
    let mut strings: Vec<u8> = Vec::new();
    let mut string = |s: &str| {
        let at = base + (0x60 + strings.len()) as u64;
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
        at
    };
    let api_name = string("geometry");
    let names = [string("area"), string("perimeter")];
    let signatures = [string("double (HPyContext *, HPy)"), string("double (HPyContext *ctx, HPy shape)")];
    let mut put = |offset: usize, bytes: &[u8]| image[offset..offset + bytes.len()].copy_from_slice(bytes);
    // HPyBridge_APITable at +0x00
    put(0, &HPYBRIDGE_MAGIC.to_le_bytes());
    put(4, &1u32.to_le_bytes()); // layout_version
    put(8, &api_name.to_le_bytes());
    put(16, &1u32.to_le_bytes()); // major
    put(20, &1u32.to_le_bytes()); // minor
    put(24, &2u32.to_le_bytes()); // slot_count
    put(28, &0u32.to_le_bytes()); // flags
    put(32, &0u64.to_le_bytes()); // provider_ctx: NULL in a declaration
    put(40, &(base + 0x30).to_le_bytes()); // slots
                                           // HPyBridge_Slot[2] at +0x30
    for i in 0..2 {
        let at = 0x30 + 0x18 * i;
        put(at, &names[i].to_le_bytes());
        put(at + 8, &signatures[i].to_le_bytes());
        put(at + 16, &functions[i].to_le_bytes());
    }
    image.extend_from_slice(&strings);
    image
}

/// `hexdump -C` style, with absolute addresses.
fn hexdump(base: u64, bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:016x} ", base + 16 * row as u64));
        for i in 0..16 {
            if i % 8 == 0 {
                out.push(' ');
            }
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
        }
        out.push_str(" |");
        out.extend(chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }));
        out.push_str("|\n");
    }
    out
}

#[test]
fn worked_example_of_the_spec_reads_back() {
    // Place the hand-made image in real, 8-byte aligned memory and patch in its real address.
    let len = example_image(0, [0, 0]).len();
    let mut storage = vec![0u64; len.div_ceil(8)];
    let base = storage.as_mut_ptr() as u64;
    let functions = [area_fn() as u64, perimeter_fn() as u64];
    let image = example_image(base, functions);
    // SAFETY: `storage` holds at least `len` bytes.
    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), storage.as_mut_ptr().cast::<u8>(), len) };

    // SAFETY: the image is a valid table whose pointers point into `storage`.
    let decl = unsafe { read_table(storage.as_ptr().cast::<HPyBridge_APITable>(), Role::Provider) }.unwrap();
    assert_eq!(decl.name, "geometry");
    assert_eq!((decl.major, decl.minor), (1, 1));
    let slots: Vec<_> = decl.slots.iter().map(|s| (s.name.as_str(), s.signature.to_canonical(), s.function)).collect();
    assert_eq!(
        slots,
        [
            ("area", "double (HPyContext *, HPy)".to_owned(), area_fn()),
            ("perimeter", "double (HPyContext *, HPy)".to_owned(), perimeter_fn()),
        ]
    );

    // The same bytes as a Rust-built table with those pointers.
    // SAFETY: `storage` holds the table, 8-byte aligned.
    let table: &HPyBridge_APITable = unsafe { &*storage.as_ptr().cast() };
    assert_eq!(table.magic, HPYBRIDGE_MAGIC);
    assert_eq!(table.slot_count, 2);
    assert!(table.provider_ctx.is_null());
    assert_eq!(table.slots as u64, base + 0x30);
    // SAFETY: `slots` points to the table's two slots, in `storage`.
    assert_eq!(unsafe { (*table.slots.add(1)).function } as u64, functions[1]);
}

#[test]
fn worked_example_matches_docs() {
    let image = example_image(EXAMPLE_BASE, EXAMPLE_FUNCTIONS);
    assert_eq!(image.len(), 0x60 + 9 + 5 + 10 + 27 + 36);
    let dump = hexdump(EXAMPLE_BASE, &image);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/wire-format.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(doc.contains(&dump), "docs/wire-format.md should contain this hexdump of its example:\n{dump}");
}

// ---------------------------------------------------------------------------------------------
// Valid tables

#[test]
fn provider_table_reads_back_exactly() {
    let decl = geometry(3).decl(Role::Provider);
    let functions = geometry_functions();
    let expected = ApiDecl {
        name: "geometry".into(),
        major: 1,
        minor: 3,
        slots: (0..4)
            .map(|i| SlotDecl {
                name: GEOMETRY[i].0.into(),
                signature: Signature::parse(GEOMETRY[i].1).unwrap(),
                function: functions[i],
            })
            .collect(),
    };
    assert_eq!(decl, expected);
    for (i, s) in decl.slots.iter().enumerate() {
        assert_eq!(s.signature.to_canonical(), GEOMETRY_CANONICAL[i]);
        assert_eq!(s.function, functions[i]);
    }
    // The model is what the trampolines need: context first, handle arguments and results.
    assert!(decl.slots.iter().all(|s| s.signature.takes_context()));
    assert!(decl.slots[2].signature.returns_handle());
    assert_eq!(decl.slots[2].signature.handle_args().collect::<Vec<_>>(), [1]);
}

#[test]
fn consumer_table_reads_back_with_null_functions() {
    let decl = geometry_consumer(3).decl(Role::Consumer);
    assert_eq!((decl.name.as_str(), decl.major, decl.minor), ("geometry", 1, 3));
    let names: Vec<_> = decl.slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["area", "perimeter", "scale", "describe"]);
    let canonical: Vec<_> = decl.slots.iter().map(|s| s.signature.to_canonical()).collect();
    assert_eq!(canonical, GEOMETRY_CANONICAL);
    assert!(decl.slots.iter().all(|s| s.function.is_null()));

    // The same declaration as a provider's is rejected: its functions are missing.
    assert_eq!(geometry_consumer(3).err(Role::Provider), WireError::MissingFunction { slot: 0, name: "area".into() });
}

#[test]
fn a_provider_table_is_also_a_valid_consumer_declaration() {
    // A consumer's `function` fields are not checked: they are read back, and ignored by the runtime.
    let decl = geometry(2).decl(Role::Consumer);
    assert_eq!(decl, geometry(2).decl(Role::Provider));
}

#[test]
fn provider_ctx_is_not_read() {
    // NULL in declarations; the runtime sets it only in the tables it publishes and never trusts
    // a caller's value, so read_table neither checks nor returns it.
    let mut spec = geometry(0);
    spec.provider_ctx = std::ptr::NonNull::<HPyContext>::dangling().as_ptr();
    assert_eq!(spec.decl(Role::Provider), geometry(0).decl(Role::Provider));
}

#[test]
fn empty_tables_are_valid() {
    let mut spec = TableSpec::new("empty", 0, 0, vec![]);
    spec.null_slots = true;
    let expected = ApiDecl { name: "empty".into(), major: 0, minor: 0, slots: vec![] };
    assert_eq!(spec.decl(Role::Provider), expected);
    spec.null_slots = false;
    assert_eq!(spec.decl(Role::Consumer), expected);

    // slot_count, not the array, says how many slots there are.
    let mut spec = geometry(3);
    spec.slot_count = Some(0);
    assert!(spec.decl(Role::Provider).slots.is_empty());
    spec.slot_count = Some(2);
    let names: Vec<_> = spec.decl(Role::Provider).slots.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["area", "perimeter"]);
}

#[test]
fn versions_are_read_verbatim() {
    for (major, minor) in [(0, 0), (1, 0), (7, 42), (u32::MAX, u32::MAX)] {
        let mut spec = geometry(0);
        (spec.major, spec.minor) = (major, minor);
        let decl = spec.decl(Role::Provider);
        assert_eq!((decl.major, decl.minor), (major, minor));
    }
}

#[test]
fn identifiers() {
    let good = ["geometry", "_", "_private", "a1", "A", "Geo_Metry_2", "__pyx_capi__", "hpybridge", "int"];
    let bad =
        ["", "geo metry", "1abc", "9", "geo-metry", "geo.metry", "géométrie", " geometry", "geometry ", "a\tb", "$x"];
    for name in good {
        let mut spec = geometry(0);
        spec.api_name = text(name);
        assert_eq!(spec.decl(Role::Provider).name, name);
        let mut spec = geometry(0);
        spec.slots[0].name = text(name);
        assert_eq!(spec.decl(Role::Provider).slots[0].name, name);
    }
    for name in bad {
        let mut spec = geometry(0);
        spec.api_name = text(name);
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::Identifier { field: "api_name".into(), found: name.into() });
        assert_message(
            &err,
            &format!("API table api_name: expected a C identifier, found {name:?}"),
            &["expected a C identifier", &format!("{name:?}")],
        );

        let mut spec = geometry(1);
        spec.slots[1].name = text(name);
        let err = spec.err(Role::Consumer);
        assert_eq!(err, WireError::Identifier { field: "slot 1 name".into(), found: name.into() });
        assert_message(
            &err,
            &format!("API table slot 1 name: expected a C identifier, found {name:?}"),
            &["slot 1", "expected a C identifier", &format!("{name:?}")],
        );
    }
}

#[test]
fn max_slots_is_inclusive() {
    let functions = geometry_functions();
    let slots: Vec<_> =
        (0..MAX_SLOTS as usize).map(|i| slot(&format!("f{i}"), "int (int)", functions[i % 4])).collect();
    let spec = TableSpec::new("wide", 1, 0, slots);
    let decl = spec.decl(Role::Provider);
    assert_eq!(decl.slots.len(), MAX_SLOTS as usize);
    assert_eq!(decl.slots[4095].name, "f4095");
    assert_eq!(decl.slots[4095].function, functions[3]);
}

// ---------------------------------------------------------------------------------------------
// Each WireError

#[test]
fn null_table() {
    // SAFETY: null is allowed (and rejected).
    let err = unsafe { read_table(null(), Role::Provider) }.unwrap_err();
    assert_eq!(err, WireError::Null);
    assert_message(&err, "expected a pointer to an HPyBridge_APITable, found NULL", &["expected", "found NULL"]);
    // SAFETY: as above.
    assert_eq!(unsafe { read_table(null(), Role::Consumer) }, Err(WireError::Null));
}

#[test]
fn wrong_magic() {
    for found in [0, 0xdead_beef, 0x4859_5042 /* "HPYB" stored big-endian */, HPYBRIDGE_MAGIC + 1, u32::MAX] {
        let mut spec = geometry(0);
        spec.magic = found;
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::Magic { found });
        let shown = format!("0x{found:08x}");
        assert_message(
            &err,
            &format!("not an hpybridge API table: expected magic 0x42595048 (\"HPYB\"), found {shown}"),
            &["expected magic 0x42595048", "\"HPYB\"", &format!("found {shown}")],
        );
    }
}

#[test]
fn wrong_layout_version() {
    for found in [0, 2, u32::MAX] {
        let mut spec = geometry(0);
        spec.layout_version = found;
        let err = spec.err(Role::Consumer);
        assert_eq!(err, WireError::Layout { found });
        assert_message(
            &err,
            &format!(
                "API table layout version {found}, this runtime reads layout version 1 \
                 (rebuild the extension against this hpybridge)"
            ),
            &[&format!("layout version {found}"), "reads layout version 1"],
        );
    }
}

#[test]
fn nonzero_flags() {
    for (found, shown) in [(1, "0x1"), (0x8000_0000, "0x80000000"), (u32::MAX, "0xffffffff")] {
        let mut spec = geometry(0);
        spec.flags = found;
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::Flags { found });
        assert_message(
            &err,
            &format!("API table flags: expected 0 (reserved), found {shown}"),
            &["expected 0", &format!("found {shown}")],
        );
    }
}

#[test]
fn null_and_invalid_strings() {
    let null_string = "expected a string, found NULL";
    let bad_utf8 = "expected UTF-8 text, found invalid bytes";

    let mut spec = geometry(1);
    spec.api_name = None;
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::String { field: "api_name".into(), problem: null_string });
    assert_message(&err, "API table api_name: expected a string, found NULL", &["expected a string", "found NULL"]);

    for bytes in [&b"geo\xffmetry"[..], b"\xc3", b"\xed\xa0\x80", b"geom\xe9trie"] {
        let mut spec = geometry(1);
        spec.api_name = Some(bytes.to_vec());
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::String { field: "api_name".into(), problem: bad_utf8 });
        assert_message(&err, "API table api_name: expected UTF-8 text, found invalid bytes", &["UTF-8"]);
    }

    let mut spec = geometry(1);
    spec.slots[1].name = None;
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::String { field: "slot 1 name".into(), problem: null_string });
    assert_message(&err, "API table slot 1 name: expected a string, found NULL", &["slot 1 name", "found NULL"]);

    let mut spec = geometry(1);
    spec.slots[1].name = Some(b"peri\x80meter".to_vec());
    let err = spec.err(Role::Consumer);
    assert_eq!(err, WireError::String { field: "slot 1 name".into(), problem: bad_utf8 });
    assert_message(&err, "API table slot 1 name: expected UTF-8 text, found invalid bytes", &["slot 1 name"]);

    let mut spec = geometry(1);
    spec.slots[0].signature = None;
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::String { field: "slot 0 'area' signature".into(), problem: null_string });
    assert_message(
        &err,
        "API table slot 0 'area' signature: expected a string, found NULL",
        &["slot 0 'area' signature", "found NULL"],
    );

    let mut spec = geometry(1);
    spec.slots[0].signature = Some(b"double (HPyContext *, HPy \xff)".to_vec());
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::String { field: "slot 0 'area' signature".into(), problem: bad_utf8 });
    assert_message(&err, "API table slot 0 'area' signature: expected UTF-8 text, found invalid bytes", &["UTF-8"]);
}

#[test]
fn too_many_slots() {
    for found in [MAX_SLOTS + 1, 100_000, u32::MAX] {
        let mut spec = geometry(1);
        spec.slot_count = Some(found);
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::TooManySlots { found });
        assert_message(
            &err,
            &format!("API table slot_count: expected at most 4096, found {found}"),
            &["expected at most 4096", &format!("found {found}")],
        );
        // Checked before the slots pointer.
        spec.null_slots = true;
        assert_eq!(spec.err(Role::Consumer), WireError::TooManySlots { found });
    }
}

#[test]
fn null_slots_with_a_count() {
    for count in [1, 2, MAX_SLOTS] {
        let mut spec = geometry(1);
        spec.null_slots = true;
        spec.slot_count = Some(count);
        let err = spec.err(Role::Provider);
        assert_eq!(err, WireError::NoSlots);
        assert_message(&err, "API table has slots but its `slots` pointer is NULL", &["`slots` pointer is NULL"]);
    }
}

#[test]
fn duplicate_slot_names() {
    let mut spec = geometry(3);
    spec.slots[3].name = text("perimeter");
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::DuplicateSlot { name: "perimeter".into(), first: 1, second: 3 });
    assert_message(&err, "API table: slots 1 and 3 are both named 'perimeter'", &["slots 1 and 3", "'perimeter'"]);

    // The first repeat is reported, against the first slot of that name.
    let mut spec = geometry(3);
    spec.slots[2].name = text("area");
    spec.slots[3].name = text("area");
    let err = spec.err(Role::Consumer);
    assert_eq!(err, WireError::DuplicateSlot { name: "area".into(), first: 0, second: 2 });
    assert_message(&err, "API table: slots 0 and 2 are both named 'area'", &["slots 0 and 2", "'area'"]);

    // Names are compared exactly: case matters.
    let mut spec = geometry(1);
    spec.slots[1].name = text("Area");
    assert!(spec.read(Role::Provider).is_ok());
}

#[test]
fn malformed_signatures() {
    // (slot, signature), with the parser's own error as the oracle for the column.
    let cases = [
        (1, "double (HPyContext *, dobule)", 23),
        (0, "", 1),
        (2, "HPy (HPyContext *, HPy, double", 31),
        (3, "long double (HPyContext *)", 6),
        (1, "int (int, ...)", 11),
        (2, "void (void, int)", 7),
        (0, "int (struct shape *)", 6),
    ];
    for (i, signature, column) in cases {
        let mut spec = geometry(3);
        spec.slots[i].signature = text(signature);
        let parse_error = Signature::parse(signature).unwrap_err();
        assert_eq!(parse_error.column(), column, "{parse_error}");
        let name = GEOMETRY[i].0;
        for role in [Role::Provider, Role::Consumer] {
            let err = spec.err(role);
            assert_eq!(err, WireError::Signature { slot: i, name: name.into(), error: parse_error.clone() });
            let message = format!("API table slot {i} '{name}': {parse_error}");
            assert_message(
                &err,
                &message,
                &[
                    &format!("slot {i} '{name}'"),
                    &format!("{signature:?}"),
                    &format!("at column {column}: expected "),
                    ", found ",
                ],
            );
        }
    }
    assert_eq!(
        {
            let mut spec = geometry(1);
            spec.slots[1].signature = text("double (HPyContext *, dobule)");
            spec.err(Role::Provider).to_string()
        },
        "API table slot 1 'perimeter': malformed signature \"double (HPyContext *, dobule)\": \
         at column 23: expected a C type, found 'dobule'"
    );
}

#[test]
fn signature_errors_stay_on_one_line() {
    let mut spec = geometry(0);
    spec.slots[0].signature = text("double (HPyContext *,\n\tHPy\r\n x y)");
    let err = spec.err(Role::Provider);
    assert!(matches!(err, WireError::Signature { slot: 0, .. }));
    assert_one_line(&err.to_string());
}

#[test]
fn provider_slot_without_function() {
    let mut spec = geometry(3);
    spec.slots[2].function = null_mut();
    let err = spec.err(Role::Provider);
    assert_eq!(err, WireError::MissingFunction { slot: 2, name: "scale".into() });
    assert_message(
        &err,
        "API table slot 2 'scale': the provider's function pointer is NULL",
        &["slot 2 'scale'", "function pointer is NULL"],
    );
    // A consumer declares no functions.
    assert_eq!(spec.decl(Role::Consumer).slots[2].function, null_mut());
}

#[test]
fn checks_run_in_the_documented_order() {
    // Every field wrong at once: each fix reveals the next check in order.
    let mut spec = geometry(3);
    spec.magic = 0;
    spec.layout_version = 9;
    spec.flags = 1;
    spec.api_name = text("geo metry");
    spec.slot_count = Some(MAX_SLOTS + 1);
    spec.slots[0].function = null_mut(); // slot 0: missing function
    spec.slots[1].signature = text("bogus"); // slot 1: bad signature
    spec.slots[2].name = text("area"); // slot 2: duplicate of slot 0
    spec.slots[3].name = text("1abc"); // slot 3: not an identifier
    let role = Role::Provider;

    assert_eq!(spec.err(role), WireError::Magic { found: 0 });
    spec.magic = HPYBRIDGE_MAGIC;
    assert_eq!(spec.err(role), WireError::Layout { found: 9 });
    spec.layout_version = HPYBRIDGE_LAYOUT_VERSION;
    assert_eq!(spec.err(role), WireError::Flags { found: 1 });
    spec.flags = 0;
    assert_eq!(spec.err(role), WireError::Identifier { field: "api_name".into(), found: "geo metry".into() });
    spec.api_name = text("geometry");
    assert_eq!(spec.err(role), WireError::TooManySlots { found: MAX_SLOTS + 1 });
    spec.slot_count = None;
    spec.null_slots = true;
    assert_eq!(spec.err(role), WireError::NoSlots);
    spec.null_slots = false;
    // Slot by slot; within a slot: name, identifier, duplicate, signature, function.
    assert_eq!(spec.err(role), WireError::MissingFunction { slot: 0, name: "area".into() });
    assert!(matches!(spec.err(Role::Consumer), WireError::Signature { slot: 1, .. }));
    spec.slots[0].function = area_fn();
    assert!(matches!(spec.err(role), WireError::Signature { slot: 1, .. }));
    spec.slots[1].signature = text("double (HPyContext *, HPy)");
    assert_eq!(spec.err(role), WireError::DuplicateSlot { name: "area".into(), first: 0, second: 2 });
    spec.slots[2].name = text("scale");
    assert_eq!(spec.err(role), WireError::Identifier { field: "slot 3 name".into(), found: "1abc".into() });
    spec.slots[3].name = text("describe");
    assert!(spec.read(role).is_ok());

    // Within one slot: the name before its signature, the signature before the function.
    let mut spec = geometry(0);
    spec.slots[0] = SlotSpec { name: text(""), signature: None, function: null_mut() };
    assert!(matches!(spec.err(role), WireError::Identifier { .. }));
    spec.slots[0].name = text("area");
    assert!(matches!(spec.err(role), WireError::String { .. }));
    spec.slots[0].signature = text("int (");
    assert!(matches!(spec.err(role), WireError::Signature { .. }));
    spec.slots[0].signature = text("int (void)");
    assert!(matches!(spec.err(role), WireError::MissingFunction { .. }));

    // A duplicate name is reported before that slot's own malformed signature.
    let mut spec = geometry(1);
    spec.slots[1] = SlotSpec { name: text("area"), signature: text("?"), function: null_mut() };
    assert!(matches!(spec.err(role), WireError::DuplicateSlot { .. }));
}

// ---------------------------------------------------------------------------------------------
// check_import

#[allow(clippy::result_large_err)] // check_import's own error type
fn import(provider: &TableSpec, consumer: &TableSpec) -> Result<(), ImportMismatch> {
    check_import(&provider.decl(Role::Provider), &consumer.decl(Role::Consumer), "geometry")
}

fn mismatch(provider: &TableSpec, consumer: &TableSpec) -> ImportMismatch {
    match import(provider, consumer) {
        Ok(()) => panic!("expected a mismatch"),
        Err(m) => {
            assert_one_line(&m.to_string());
            m
        }
    }
}

#[test]
fn import_equal_versions() {
    for minor in 0..4 {
        assert_eq!(import(&geometry(minor), &geometry_consumer(minor)), Ok(()));
    }
}

#[test]
fn import_older_consumer() {
    // Provider 1.3, consumer written for 1.1 and using its two slots.
    assert_eq!(import(&geometry(3), &geometry_consumer(1)), Ok(()));
    for (p, c) in [(3, 0), (2, 1), (1, 0)] {
        assert_eq!(import(&geometry(p), &geometry_consumer(c)), Ok(()), "provider 1.{p}, consumer 1.{c}");
    }
    // A consumer may declare fewer slots than its version has: the ones it uses.
    let mut consumer = geometry_consumer(3);
    consumer.slots.truncate(1);
    assert_eq!(import(&geometry(3), &consumer), Ok(()));
    let mut consumer = geometry_consumer(0);
    consumer.slots.clear();
    assert_eq!(import(&geometry(0), &consumer), Ok(()));
}

#[test]
fn import_newer_consumer() {
    let m = mismatch(&geometry(1), &geometry_consumer(3));
    assert_eq!(m.kind, Mismatch::Minor);
    assert_eq!((m.api.as_str(), m.module.as_str()), ("geometry", "geometry"));
    assert_eq!(m.wanted, (1, 3, 4));
    assert_eq!(m.found, (1, 1, 2));
    assert_eq!(m.to_string(), "geometry API: consumer needs version 1.3, provider module 'geometry' has 1.1");

    // The minor is checked even when the consumer uses only slots the provider has.
    let mut consumer = geometry_consumer(3);
    consumer.slots.truncate(1);
    assert_eq!(mismatch(&geometry(1), &consumer).kind, Mismatch::Minor);
}

#[test]
fn import_other_major() {
    // Consumer newer.
    let mut consumer = geometry_consumer(1);
    consumer.major = 2;
    consumer.minor = 0;
    let m = mismatch(&geometry(3), &consumer);
    assert_eq!(m.kind, Mismatch::Major);
    assert_eq!(
        m.to_string(),
        "geometry API: consumer needs version 2.0, provider module 'geometry' has 1.3 \
         (major versions differ: incompatible)"
    );

    // Consumer older: a newer major does not serve it either, whatever the minors.
    let mut provider = geometry(3);
    provider.major = 2;
    let m = mismatch(&provider, &geometry_consumer(0));
    assert_eq!(m.kind, Mismatch::Major);
    assert_eq!(
        m.to_string(),
        "geometry API: consumer needs version 1.0, provider module 'geometry' has 2.3 \
         (major versions differ: incompatible)"
    );

    // Major 0 is a major like the others.
    let mut provider = geometry(1);
    provider.major = 0;
    assert_eq!(mismatch(&provider, &geometry_consumer(1)).kind, Mismatch::Major);
}

#[test]
fn import_other_api() {
    let mut provider = geometry(1);
    provider.api_name = text("shapes");
    let m = mismatch(&provider, &geometry_consumer(1));
    assert_eq!(m.kind, Mismatch::Name { found: "shapes".into() });
    assert_eq!(m.to_string(), "geometry API: expected it in module 'geometry', which exports API 'shapes' instead");

    // Names are compared exactly, before versions.
    let mut provider = geometry(0);
    provider.api_name = text("Geometry");
    provider.major = 5;
    assert_eq!(mismatch(&provider, &geometry_consumer(1)).kind, Mismatch::Name { found: "Geometry".into() });
}

#[test]
fn import_missing_slots() {
    // Same version, but the provider's table is shorter than what the consumer uses.
    let mut provider = geometry(3);
    provider.slots.truncate(3);
    let m = mismatch(&provider, &geometry_consumer(3));
    assert_eq!(m.kind, Mismatch::MissingSlots);
    assert_eq!((m.wanted, m.found), ((1, 3, 4), (1, 3, 3)));
    assert_eq!(m.to_string(), "geometry API: consumer uses 4 slots, provider module 'geometry' 1.3 has 3");
}

#[test]
fn import_renamed_slot() {
    let mut provider = geometry(3);
    provider.slots[1].name = text("circumference");
    let m = mismatch(&provider, &geometry_consumer(3));
    assert_eq!(m.kind, Mismatch::SlotName { slot: 1, wanted: "perimeter".into(), found: "circumference".into() });
    assert_eq!(
        m.to_string(),
        "geometry API: slot 1: consumer expects 'perimeter', provider module 'geometry' 1.3 has 'circumference'"
    );

    // Slots are matched by position: a reordering is a rename.
    let mut provider = geometry(1);
    provider.slots.swap(0, 1);
    assert_eq!(
        mismatch(&provider, &geometry_consumer(1)).kind,
        Mismatch::SlotName { slot: 0, wanted: "area".into(), found: "perimeter".into() }
    );

    // Slots past the consumer's are not compared.
    let mut provider = geometry(3);
    provider.slots[3].name = text("anything_else");
    assert_eq!(import(&provider, &geometry_consumer(2)), Ok(()));
}

#[test]
fn import_different_signature() {
    let mut provider = geometry(3);
    provider.slots[2].signature = text("HPy (HPyContext *ctx, HPy shape, float factor)");
    let mut consumer = geometry_consumer(3);
    consumer.slots[2].signature = text("HPy(HPyContext*,HPy,double f)");
    let m = mismatch(&provider, &consumer);
    assert_eq!(
        m.kind,
        Mismatch::SlotSignature {
            slot: 2,
            name: "scale".into(),
            wanted: "HPy (HPyContext *, HPy, double)".into(),
            found: "HPy (HPyContext *, HPy, float)".into(),
        }
    );
    assert_eq!(
        m.to_string(),
        "geometry API: slot 2 'scale': consumer expects \"HPy (HPyContext *, HPy, double)\", \
         provider module 'geometry' 1.3 has \"HPy (HPyContext *, HPy, float)\""
    );

    // Same ABI, different declared type: still a mismatch.
    let mut provider = geometry(0);
    provider.slots[0].signature = text("long (HPyContext *, HPy)");
    let mut consumer = geometry_consumer(0);
    consumer.slots[0].signature = text("HPy_ssize_t (HPyContext *, HPy)");
    let m = mismatch(&provider, &consumer);
    assert!(matches!(m.kind, Mismatch::SlotSignature { slot: 0, .. }));
    assert!(m.to_string().contains("consumer expects \"HPy_ssize_t (HPyContext *, HPy)\""));
    assert!(m.to_string().contains("has \"long (HPyContext *, HPy)\""));

    // The first differing slot is reported.
    let mut provider = geometry(3);
    provider.slots[1].signature = text("float (HPyContext *, HPy)");
    provider.slots[3].signature = text("void (void)");
    assert!(matches!(mismatch(&provider, &geometry_consumer(3)).kind, Mismatch::SlotSignature { slot: 1, .. }));
}

#[test]
fn import_spelling_differences_are_compatible() {
    let mut provider = geometry(0);
    provider.slots[0].signature = text("double (HPyContext *ctx, HPy v)");
    let mut consumer = geometry_consumer(0);
    consumer.slots[0].signature = text("double(HPyContext*, HPy)");
    assert_eq!(import(&provider, &consumer), Ok(()));

    let pairs = [
        ("long int (const char *s)", "long(char const*)"),
        ("unsigned (void)", "unsigned int ()"),
        ("HPy *(HPyContext *restrict ctx, HPy_ssize_t n)", "HPy* ( HPyContext* , HPy_ssize_t )"),
        ("_Bool (PyObject *)", "bool (cpy_PyObject *o)"),
        ("long long unsigned (void)", "unsigned long long int(void)"),
    ];
    for (a, b) in pairs {
        let mut provider = geometry(0);
        provider.slots[0].signature = text(a);
        let mut consumer = geometry_consumer(0);
        consumer.slots[0].signature = text(b);
        assert_eq!(import(&provider, &consumer), Ok(()), "{a:?} vs {b:?}");
    }
}

#[test]
fn import_checks_run_in_order() {
    // Name, major, minor, slot count, then slots in order (name before signature).
    let mut provider = geometry(1);
    provider.api_name = text("other");
    provider.major = 2;
    provider.slots[0].name = text("x");
    let consumer = geometry_consumer(3);
    assert!(matches!(mismatch(&provider, &consumer).kind, Mismatch::Name { .. }));
    provider.api_name = text("geometry");
    assert_eq!(mismatch(&provider, &consumer).kind, Mismatch::Major);
    provider.major = 1;
    assert_eq!(mismatch(&provider, &consumer).kind, Mismatch::Minor);
    provider.minor = 3;
    assert_eq!(mismatch(&provider, &consumer).kind, Mismatch::MissingSlots);
    provider = geometry(3);
    provider.slots[0].name = text("x");
    provider.slots[0].signature = text("void (void)");
    assert!(matches!(mismatch(&provider, &consumer).kind, Mismatch::SlotName { slot: 0, .. }));
    provider.slots[0].name = text("area");
    assert!(matches!(mismatch(&provider, &consumer).kind, Mismatch::SlotSignature { slot: 0, .. }));
}

#[test]
fn import_message_names_the_module() {
    let m = check_import(&geometry(1).decl(Role::Provider), &geometry_consumer(2).decl(Role::Consumer), "pkg.geo")
        .unwrap_err();
    assert_eq!(m.module, "pkg.geo");
    assert_eq!(m.to_string(), "geometry API: consumer needs version 1.2, provider module 'pkg.geo' has 1.1");
}

// ---------------------------------------------------------------------------------------------
// Properties

/// What read_table must answer for `spec`, from the rules in docs/wire-format.md.
fn model(spec: &TableSpec, role: Role) -> Result<ApiDecl, WireError> {
    fn string(t: &Text, field: impl Fn() -> String) -> Result<String, WireError> {
        match t {
            None => Err(WireError::String { field: field(), problem: "expected a string, found NULL" }),
            Some(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| WireError::String { field: field(), problem: "expected UTF-8 text, found invalid bytes" }),
        }
    }
    fn identifier(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && (b[0] == b'_' || b[0].is_ascii_alphabetic())
            && b.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric())
    }
    if spec.magic != HPYBRIDGE_MAGIC {
        return Err(WireError::Magic { found: spec.magic });
    }
    if spec.layout_version != HPYBRIDGE_LAYOUT_VERSION {
        return Err(WireError::Layout { found: spec.layout_version });
    }
    if spec.flags != 0 {
        return Err(WireError::Flags { found: spec.flags });
    }
    let name = string(&spec.api_name, || "api_name".into())?;
    if !identifier(&name) {
        return Err(WireError::Identifier { field: "api_name".into(), found: name });
    }
    let count = spec.count();
    if count > MAX_SLOTS {
        return Err(WireError::TooManySlots { found: count });
    }
    if count > 0 && spec.null_slots {
        return Err(WireError::NoSlots);
    }
    let mut slots: Vec<SlotDecl> = Vec::new();
    for (i, raw) in spec.slots.iter().take(count as usize).enumerate() {
        let slot_name = string(&raw.name, || format!("slot {i} name"))?;
        if !identifier(&slot_name) {
            return Err(WireError::Identifier { field: format!("slot {i} name"), found: slot_name });
        }
        if let Some(first) = slots.iter().position(|s| s.name == slot_name) {
            return Err(WireError::DuplicateSlot { name: slot_name, first, second: i });
        }
        let text = string(&raw.signature, || format!("slot {i} '{slot_name}' signature"))?;
        let signature = Signature::parse(&text).map_err(|error| WireError::Signature {
            slot: i,
            name: slot_name.clone(),
            error,
        })?;
        if role == Role::Provider && raw.function.is_null() {
            return Err(WireError::MissingFunction { slot: i, name: slot_name });
        }
        slots.push(SlotDecl { name: slot_name, signature, function: raw.function });
    }
    Ok(ApiDecl { name, major: spec.major, minor: spec.minor, slots })
}

const NAMES: &[&str] = &["area", "perimeter", "scale", "_", "x1", "area", "scale", "1abc", "geo metry", "", "é"];
const SIGNATURES: &[&str] = &[
    "double (HPyContext *, HPy)",
    "double(HPyContext*ctx,HPy v)",
    "void * (HPyContext *, char *, void *)",
    "HPy_ssize_t (HPyContext *, HPy, HPy_ssize_t *)",
    "HPy (HPyContext *, HPy, double)",
    "void (void)",
    "int ()",
    "const char *(HPyContext *, HPy)",
    "long double (void)",
    "int (int, ...)",
    "double (dobule)",
    "",
    "(",
];

/// A C string, NULL, or bytes that may not be UTF-8 (never containing NUL).
fn c_text(words: &'static [&'static str], random: &'static str) -> impl Strategy<Value = Text> {
    prop_oneof![
        12 => select(words).prop_map(text),
        2 => proptest::string::string_regex(random).unwrap().prop_map(|s| text(&s)),
        1 => Just(None),
        1 => prop::collection::vec(1u8..=255, 0..8).prop_map(Some),
    ]
}

fn function() -> impl Strategy<Value = *mut c_void> {
    prop_oneof![3 => Just(area_fn()), 1 => Just(null_mut())]
}

fn slot_spec() -> impl Strategy<Value = SlotSpec> {
    (c_text(NAMES, "[a-z_ 0-9]{0,6}"), c_text(SIGNATURES, "[^\u{0}]{0,40}"), function())
        .prop_map(|(name, signature, function)| SlotSpec { name, signature, function })
}

#[derive(Clone, Copy, Debug)]
enum Count {
    Exact,
    Fewer(prop::sample::Index),
    Huge(u32),
}

fn table_spec() -> impl Strategy<Value = TableSpec> {
    (
        prop_oneof![8 => Just(HPYBRIDGE_MAGIC), 1 => any::<u32>()],
        prop_oneof![8 => Just(HPYBRIDGE_LAYOUT_VERSION), 1 => any::<u32>()],
        prop_oneof![8 => Just(0u32), 1 => any::<u32>()],
        c_text(&["geometry", "shapes", "_x", "geometry", "shapes", "_x", "1abc", "geo metry", ""], "[a-z_ 0-9]{0,6}"),
        (any::<u32>(), any::<u32>()),
        prop::collection::vec(slot_spec(), 0..6),
        prop_oneof![
            4 => Just(Count::Exact),
            1 => any::<prop::sample::Index>().prop_map(Count::Fewer),
            1 => (MAX_SLOTS + 1..=u32::MAX).prop_map(Count::Huge),
        ],
        prop::bool::weighted(0.1),
        prop::bool::ANY,
    )
        .prop_map(|(magic, layout_version, flags, api_name, (major, minor), slots, count, null_slots, ctx)| {
            let slot_count = match count {
                Count::Exact => None,
                Count::Fewer(index) => Some(index.index(slots.len() + 1) as u32),
                Count::Huge(n) => Some(n),
            };
            TableSpec {
                magic,
                layout_version,
                api_name,
                major,
                minor,
                flags,
                provider_ctx: if ctx { std::ptr::NonNull::dangling().as_ptr() } else { null_mut() },
                slots,
                slot_count,
                null_slots,
            }
        })
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Provider), Just(Role::Consumer)]
}

/// A valid declaration: distinct identifier names, parseable signatures, functions set.
fn valid_api() -> impl Strategy<Value = TableSpec> {
    (
        0u32..3,
        0u32..5,
        prop::sample::subsequence(&["a", "b", "c", "d", "e", "f", "g"][..], 0..7),
        prop::collection::vec(select(SIGNATURES).prop_filter("valid", |s| Signature::parse(s).is_ok()), 7),
    )
        .prop_map(|(major, minor, names, signatures)| {
            let slots = names.iter().zip(&signatures).map(|(n, s)| slot(n, s, area_fn())).collect();
            TableSpec::new("geometry", major, minor, slots)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn read_table_never_panics_and_follows_the_rules(spec in table_spec(), role in role()) {
        let built = spec.build();
        let read = std::panic::catch_unwind(|| built.read(role));
        prop_assert!(read.is_ok(), "read_table panicked on {:?}", spec);
        let read = read.unwrap();
        prop_assert_eq!(&read, &model(&spec, role));
        match read {
            Ok(decl) => {
                prop_assert_eq!(decl.slots.len(), spec.count() as usize);
                for s in &decl.slots {
                    // Canonical spellings are signatures too, and mean the same.
                    prop_assert_eq!(&Signature::parse(&s.signature.to_canonical()).unwrap(), &s.signature);
                }
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(!message.is_empty() && !message.contains('\n') && !message.contains('\r'), "{:?}", message);
            }
        }
    }

    #[test]
    fn random_signatures_never_panic(signature in "[^\u{0}]{0,64}", role in role()) {
        let mut spec = geometry(0);
        spec.slots[0].signature = text(&signature);
        match (spec.read(role), Signature::parse(&signature)) {
            (Ok(decl), Ok(sig)) => prop_assert_eq!(&decl.slots[0].signature, &sig),
            (Err(WireError::Signature { slot: 0, name, error }), Err(parse_error)) => {
                prop_assert_eq!(name, "area");
                prop_assert_eq!(error, parse_error);
            }
            (read, parse) => prop_assert!(false, "read {:?} but parse {:?}", read, parse),
        }
    }

    #[test]
    fn a_provider_serves_its_own_prefixes(spec in valid_api(), keep in any::<prop::sample::Index>(), older in any::<prop::sample::Index>()) {
        let provider = spec.decl(Role::Provider);
        prop_assert_eq!(check_import(&provider, &provider, "geometry"), Ok(()));
        let mut consumer = spec.into_consumer();
        consumer.slots.truncate(keep.index(consumer.slots.len() + 1));
        consumer.minor = older.index(provider.minor as usize + 1) as u32;
        prop_assert_eq!(check_import(&provider, &consumer.decl(Role::Consumer), "geometry"), Ok(()));
    }

    #[test]
    fn a_provider_never_serves_newer_minors_or_other_majors(spec in valid_api(), newer in 1u32..100, major in 0u32..3) {
        let provider = spec.decl(Role::Provider);
        let mut consumer = spec.clone().into_consumer();
        consumer.minor += newer;
        let m = check_import(&provider, &consumer.decl(Role::Consumer), "geometry").unwrap_err();
        prop_assert_eq!(m.kind, Mismatch::Minor);
        let mut consumer = spec.clone().into_consumer();
        consumer.major = major;
        let result = check_import(&provider, &consumer.decl(Role::Consumer), "geometry");
        if major == provider.major {
            prop_assert_eq!(result, Ok(()));
        } else {
            prop_assert_eq!(result.unwrap_err().kind, Mismatch::Major);
        }
    }
}
