// HIP build of ops.cu: the same source, compiled by Debian's HIP clang.
#include "ops.cu"
