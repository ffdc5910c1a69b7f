// The system zlib (Debian: zlib1g-dev), found through pkg-config `zlib`: reads gzip-compressed (rotated) usage logs.
#ifndef PURSER_CZLIB_SHIM_H
#define PURSER_CZLIB_SHIM_H
#include <zlib.h>
#endif
