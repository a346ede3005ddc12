/* What hpy-sys binds: HPy's public header, compiled as for a universal binary, and the version of
   the headers themselves (so the runtime can report what it was built against). */
#include <hpy.h>
#include <hpy/version.h>
