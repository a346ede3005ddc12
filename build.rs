//! Compiles the runtime's module-definition glue (`src/module/module.c`) against the same HPy headers that
//! hpy-sys bound (it passes their directory as `DEP_HPY_INCLUDE`).

fn main() {
    println!("cargo:rerun-if-changed=src/module/module.c");
    println!("cargo:rerun-if-changed=src/module/cfunction.c");
    println!("cargo:rerun-if-changed=src/module/runtime.h");
    let include = std::env::var("DEP_HPY_INCLUDE").expect("hpy-sys exports its include directory");
    let include = std::path::Path::new(&include);
    cc::Build::new()
        .file("src/module/module.c")
        .file("src/module/cfunction.c")
        .define("HPY", None)
        .define("HPY_ABI_UNIVERSAL", None)
        .include(include.join("hpy").join("forbid_python_h"))
        .include(include)
        // -Wall, not cc's default -Wextra: HPy's own macros trip -Wextra (cast-function-type).
        .warnings(false)
        .flag("-Wall")
        .flag("-Werror")
        .compile("hpybridge_module");
}
