//! `export_api`: a provider registers its API and publishes it as a capsule on its module.

use crate::crossing::family::Family;
use crate::hpy::error::{raise, PyError};
use crate::hpy;
use crate::hpy::values::{close, str_attr};
use crate::registry::{file_of, Api, Published, REGISTRY};
use capsules::wire::{read_table, HPyBridge_APITable, Role};
use hpy_sys::{HPy, HPyContext};
use std::ffi::{c_int, CString};

fn describe(module: &str, family: &Family, file: &Option<String>) -> String {
    format!("module '{module}' ({family}, {})", file.as_deref().unwrap_or("unknown file"))
}

/// Registers `table` for `module`, publishes the runtime's copy in a capsule and stores it in the
/// module attribute `_<api>_API`. `home` is the provider's `_ctx_for_trampolines`: the context
/// Python calls it with, which trampolines start from (NULL: `ctx`). Returns 0, or -1 with an
/// exception set.
///
/// # Safety
/// `ctx` must be valid for the current call, `module` a live handle in it, `home` null or the
/// provider's home context, and `table` null or pointing to an `HPyBridge_APITable` (checked
/// further by `read_table`).
pub unsafe extern "C" fn export_api(
    ctx: *mut HPyContext,
    module: HPy,
    table: *const HPyBridge_APITable,
    home: *mut HPyContext,
) -> c_int {
    let decl = match read_table(table, Role::Provider) {
        Ok(decl) => decl,
        Err(e) => {
            raise(ctx, PyError::APIRegistrationError, &format!("cannot export an API: {e}"));
            return -1;
        }
    };
    let module_name = str_attr(ctx, module, c"__name__").unwrap_or_else(|| "?".to_owned());
    let home = if home.is_null() { ctx } else { home };
    let family = Family::of(home);
    let file = decl.slots.first().and_then(|s| file_of(s.function));
    let already = |apis: &[Api]| {
        apis.iter().find(|a| a.decl.name == decl.name).map(|a| {
            format!(
                "{} API {}.{} is already registered by {}; {} cannot register it again",
                decl.name,
                a.decl.major,
                a.decl.minor,
                describe(&a.module, &a.family, &a.file),
                describe(&module_name, &family, &file)
            )
        })
    };
    if let Some(msg) = already(&REGISTRY.lock()) {
        raise(ctx, PyError::APIRegistrationError, &msg);
        return -1;
    }

    // The lock is not held across HPy calls (they may run Python code); the check is repeated below.
    let published = Published::new(&decl, home);
    let capsule = hpy!(
        ctx,
        ctx_Capsule_New,
        (&published.table as *const HPyBridge_APITable).cast_mut().cast(),
        published.capsule_name.as_ptr(),
        std::ptr::null_mut()
    );
    if capsule.is_null() {
        return -1;
    }
    let attr = CString::new(format!("_{}_API", decl.name)).expect("identifier");
    let rc = hpy!(ctx, ctx_SetAttr_s, module, attr.as_ptr(), capsule);
    close(ctx, capsule);
    if rc < 0 {
        return -1;
    }
    let mut apis = REGISTRY.lock();
    if let Some(msg) = already(&apis) {
        drop(apis);
        // The capsule on the module points into `published`: it must outlive the module.
        Box::leak(published);
        raise(ctx, PyError::APIRegistrationError, &msg);
        return -1;
    }
    apis.push(Api {
        decl,
        module: module_name,
        family,
        file,
        published,
        consumers: Vec::new(),
        plans: Default::default(),
    });
    0
}
