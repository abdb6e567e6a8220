// HIP build of embedding.cu: the same source, compiled by Debian's HIP clang.
#include "embedding.cu"
