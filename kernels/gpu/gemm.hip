// HIP build of gemm.cu: the same source, compiled by Debian's HIP clang.
#include "gemm.cu"
