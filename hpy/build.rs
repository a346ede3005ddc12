//! Generates the HPy universal-ABI bindings at build time.
//!
//! The headers are never vendored: they come from the `hpy` package on PyPI (pinned to 0.9.0 by the
//! project's requirements), found by asking a Python interpreter where `hpy.devel` lives.
//! `HPY_INCLUDE_DIR` overrides the search; `HPY_PYTHON` (else `PYTHON`, else the checkout's `.venv`,
//! else `python3`) names the interpreter to ask.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// The HPy release whose universal ABI these bindings describe.
const HPY_VERSION: &str = "0.9.0";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    for var in ["HPY_INCLUDE_DIR", "HPY_PYTHON", "PYTHON"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let include = find_include_dir().unwrap_or_else(|msg| fail(&msg));
    let header = include.join("hpy.h");
    if !header.is_file() {
        fail(&format!(
            "{} does not exist: HPY_INCLUDE_DIR / the hpy package must point at HPy {HPY_VERSION}'s devel/include",
            header.display()
        ));
    }
    println!("cargo:rerun-if-changed={}", include.display());
    // Dependent crates (the runtime's C glue) compile against exactly the same headers.
    println!("cargo:include={}", include.display());

    let forbid = include.join("hpy").join("forbid_python_h");
    let bindings = std::panic::catch_unwind(|| {
        bindgen::Builder::default()
            .header("wrapper.h")
            .clang_arg("-DHPY")
            .clang_arg("-DHPY_ABI_UNIVERSAL")
            // forbid_python_h first: a header that pulls in Python.h would break the universal ABI.
            .clang_arg(format!("-I{}", forbid.display()))
            .clang_arg(format!("-I{}", include.display()))
            .allowlist_type("_?HPy.*|cpy_.*")
            .allowlist_var("HPY_.*|HPy.*")
            .allowlist_function("_?HPy.*")
            .default_enum_style(bindgen::EnumVariation::Rust { non_exhaustive: false })
            .derive_default(true)
            .derive_debug(true)
            .layout_tests(true)
            .generate()
    });
    let bindings = match bindings {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => fail(&format!("bindgen could not parse {}: {e}", header.display())),
        Err(_) => fail(
            "bindgen could not run libclang. Install it (Debian: `apt-get install libclang-dev`) \
             or set LIBCLANG_PATH to the directory holding libclang.so",
        ),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bindings.rs");
    bindings.write_to_file(&out).unwrap_or_else(|e| fail(&format!("writing {}: {e}", out.display())));
}

fn find_include_dir() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("HPY_INCLUDE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let python = env::var("HPY_PYTHON").or_else(|_| env::var("PYTHON")).unwrap_or_else(|_| {
        // The project's own venv (made by `make`), so a bare `cargo build` works in a checkout.
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    let script = "import hpy.devel, hpy.devel.version, sys; d = hpy.devel.HPyDevel(); \
                  sys.stdout.write(str(d.include_dir) + '\\n' + hpy.devel.version.__version__)";
    let output = Command::new(&python)
        .args(["-c", script])
        .output()
        .map_err(|e| format!("cannot run {python} to locate the HPy headers: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{python} has no usable `hpy` package (pip install hpy=={HPY_VERSION}), \
             or set HPY_INCLUDE_DIR. Python said:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let dir = lines.next().unwrap_or_default();
    let version = lines.next().unwrap_or_default();
    if version != HPY_VERSION {
        return Err(format!(
            "{python} has hpy {version}, hpybridge is built against hpy {HPY_VERSION} \
             (pip install hpy=={HPY_VERSION}, or set HPY_INCLUDE_DIR)"
        ));
    }
    Ok(Path::new(dir).to_path_buf())
}

fn fail(msg: &str) -> ! {
    eprintln!("\nhpy-sys: {msg}\n");
    exit(1)
}
