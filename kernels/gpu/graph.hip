// HIP build of graph.cu: the same source, compiled by Debian's HIP clang.
#include "graph.cu"
