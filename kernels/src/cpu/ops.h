// Every CPU kernel family, for code that uses several (the gradient checks).
// Each family lives in its own header named after it, next to the
// CpuBackend::<Op>Impl methods in the .cc of the same name.
#pragma once

#include "cpu/adamw.h"
#include "cpu/attention.h"
#include "cpu/cross_entropy.h"
#include "cpu/elementwise.h"
#include "cpu/embedding.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"
#include "cpu/thread_pool.h"
