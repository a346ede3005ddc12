/* signals: an HPy universal extension that exports the signals API (signals.toml). It knows nothing of
   SciPy, numba, ctypes or cffi: they reach its functions through the module's __cdict__ (the demo, and
   docs/interop.md). */
#include <math.h>
#include <stdint.h>
#include <hpy.h>
#include "signals_export.h"

double signals_bump(double x)
{
    return exp(-x * x);
}

double signals_damped(HPyContext *ctx, double t)
{
    if (!(t >= 0.0)) { /* also NaN */
        HPyErr_SetString(ctx, ctx->h_ValueError, "damped(t) is defined for t >= 0");
        return -1.0;
    }
    return exp(-t / 10.0) * cos(t);
}

int signals_window_mean(double *values, intptr_t n, double *result, void *user_data)
{
    (void)user_data;
    double sum = 0.0;
    for (intptr_t i = 0; i < n; i++)
        sum += values[i];
    *result = n > 0 ? sum / (double)n : 0.0;
    return 1;
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return export_signals(ctx, module);
}

static HPyDef *defines[] = {&exec, NULL};
static HPyModuleDef moduledef = {.doc = "Signals of one real variable, exported as the signals API (__cdict__).",
                                 .defines = defines};
HPy_MODINIT(signals, moduledef)
