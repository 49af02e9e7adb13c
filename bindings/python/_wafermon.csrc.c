/* C preamble of the cffi extension: the real header, so the compiler checks every cdef
 * declaration against it. */
#include "wafermon.h"
