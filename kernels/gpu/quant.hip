// HIP build of quant.cu: the same source, compiled by Debian's HIP clang.
#include "quant.cu"
