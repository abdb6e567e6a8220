// HIP build of context.cu: the same source, compiled by Debian's HIP clang.
#include "context.cu"
