// HIP build of backend.cu: the same source, compiled by Debian's HIP clang.
#include "backend.cu"
