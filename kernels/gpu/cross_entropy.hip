// HIP build of cross_entropy.cu: the same source, compiled by Debian's HIP clang.
#include "cross_entropy.cu"
