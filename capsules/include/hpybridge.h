/* hpybridge.h: what an HPy extension includes to export or import C APIs through hpybridge.
 *
 * Find this directory with `hpybridge.get_include()`. Compile as a universal HPy extension
 * (-DHPY -DHPY_ABI_UNIVERSAL); this header needs nothing but hpy.h. */
#ifndef HPYBRIDGE_H
#define HPYBRIDGE_H

#include <hpy.h>

#define HPYBRIDGE_VERSION_MAJOR 0
#define HPYBRIDGE_VERSION_MINOR 1
#define HPYBRIDGE_VERSION_PATCH 0

#endif /* HPYBRIDGE_H */
