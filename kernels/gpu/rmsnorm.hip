// HIP build of rmsnorm.cu: the same source, compiled by Debian's HIP clang.
#include "rmsnorm.cu"
