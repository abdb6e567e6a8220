// HIP build of swiglu.cu: the same source, compiled by Debian's HIP clang.
#include "swiglu.cu"
