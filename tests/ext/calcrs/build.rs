//! Generates `calc_capi.rs` into OUT_DIR from the spec in CALCRS_SPEC (default: ../calc.toml) for
//! the version in CALCRS_MINOR (default: the spec's), with the Python named by HPYBRIDGE_PYTHON or
//! PYO3_PYTHON (maturin sets it). `--cargo` makes the generator print the cargo directives: rerun
//! when the spec or the generator change, and the cfgs `calc_api_1_<minor>` of the slots there are.
use std::env;
use std::process::Command;

fn main() {
    let here = env::var("CARGO_MANIFEST_DIR").unwrap();
    let spec = env::var("CALCRS_SPEC").unwrap_or(format!("{here}/../calc.toml"));
    let python = env::var("HPYBRIDGE_PYTHON").or_else(|_| env::var("PYO3_PYTHON")).unwrap_or("python3".into());
    let mut gen = Command::new(&python);
    gen.args(["-m", "hpybridge", "gen", "--rust", "--cargo", &spec, "-o", &env::var("OUT_DIR").unwrap()]);
    if let Ok(minor) = env::var("CALCRS_MINOR") {
        gen.args(["--minor", &minor]);
    }
    let status = gen.status().unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(status.success(), "{python} -m hpybridge gen --rust {spec} failed");
    for var in ["CALCRS_SPEC", "CALCRS_MINOR", "HPYBRIDGE_PYTHON", "PYO3_PYTHON", "PYTHONPATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
}
