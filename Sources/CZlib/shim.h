// The system's zlib (Debian: zlib1g-dev to build, zlib1g to run).
#include <zlib.h>
