// HIP build of attention.cu: the same source, compiled by Debian's HIP clang.
#include "attention.cu"
