//! Generates the Rust view of the wire format from its one definition, `include/hpybridge/abi.h`.

fn main() {
    println!("cargo:rerun-if-changed=include/hpybridge/abi.h");
    let hpy = std::env::var("DEP_HPY_INCLUDE").expect("hpy-sys exports its include directory");
    let hpy = std::path::Path::new(&hpy);
    let bindings = bindgen::Builder::default()
        .header("include/hpybridge/abi.h")
        .clang_arg("-DHPY")
        .clang_arg("-DHPY_ABI_UNIVERSAL")
        .clang_arg(format!("-I{}", hpy.join("hpy").join("forbid_python_h").display()))
        .clang_arg(format!("-I{}", hpy.display()))
        .allowlist_type("HPyBridge_.*")
        .allowlist_var("HPYBRIDGE_.*")
        // HPy's own types come from hpy-sys, so both crates agree on them.
        .allowlist_recursively(false)
        .raw_line("use hpy_sys::HPyContext;")
        .layout_tests(true)
        .derive_debug(true)
        .generate()
        .expect("bindgen could not parse include/hpybridge/abi.h");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("abi.rs");
    bindings.write_to_file(out).expect("writing abi.rs");
}
