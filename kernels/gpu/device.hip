// HIP build of device.cu: the same source, compiled by Debian's HIP clang.
#include "device.cu"
