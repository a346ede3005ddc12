//! Writes `bench_capi.rs` into OUT_DIR from ../bench.toml with hpybridge's generator, run by the
//! Python maturin builds for (PYO3_PYTHON) unless HPYBRIDGE_PYTHON names another.
use std::env;
use std::process::Command;

fn main() {
    let spec = format!("{}/../bench.toml", env::var("CARGO_MANIFEST_DIR").unwrap());
    let python = env::var("HPYBRIDGE_PYTHON").or_else(|_| env::var("PYO3_PYTHON")).unwrap_or("python3".into());
    let out = env::var("OUT_DIR").unwrap();
    let status = Command::new(&python)
        .args(["-m", "hpybridge", "gen", "--rust", "--cargo", &spec, "-o", &out])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(status.success(), "{python} -m hpybridge gen --rust {spec} failed");
    println!("cargo::rerun-if-env-changed=HPYBRIDGE_PYTHON");
    println!("cargo::rerun-if-env-changed=PYO3_PYTHON");
}
