// HIP build of elementwise.cu: the same source, compiled by Debian's HIP clang.
#include "elementwise.cu"
