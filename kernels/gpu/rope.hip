// HIP build of rope.cu: the same source, compiled by Debian's HIP clang.
#include "rope.cu"
