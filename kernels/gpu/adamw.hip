// HIP build of adamw.cu: the same source, compiled by Debian's HIP clang.
#include "adamw.cu"
