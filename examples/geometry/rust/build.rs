//! Writes `geometry_capi.rs` into OUT_DIR from the geometry API's spec: hpybridge's generator, run
//! with the Python that will import the extension (maturin sets PYO3_PYTHON; HPYBRIDGE_PYTHON
//! overrides it). `--cargo` makes it print the cargo directives: rerun when the spec or the
//! generator change, and a cfg `geometry_api_1_<minor>` for each version whose slots the module has.
use std::env;
use std::process::Command;

fn main() {
    let spec = format!("{}/../geometry.toml", env::var("CARGO_MANIFEST_DIR").unwrap());
    let python = env::var("HPYBRIDGE_PYTHON").or_else(|_| env::var("PYO3_PYTHON")).unwrap_or("python3".into());
    let out = env::var("OUT_DIR").unwrap();
    let status = Command::new(&python)
        .args(["-m", "hpybridge", "gen", "--rust", "--cargo", &spec, "-o", &out])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(status.success(), "{python} -m hpybridge gen --rust {spec} failed: is hpybridge installed there?");
    println!("cargo::rerun-if-env-changed=HPYBRIDGE_PYTHON");
    println!("cargo::rerun-if-env-changed=PYO3_PYTHON");
}
