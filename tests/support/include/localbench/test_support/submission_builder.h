// Valid, realistic submissions for tests and benchmarks. Stable interface:
// the agent's end-to-end tests and the ingest benchmark use it too.
#ifndef LOCALBENCH_TEST_SUPPORT_SUBMISSION_BUILDER_H_
#define LOCALBENCH_TEST_SUPPORT_SUBMISSION_BUILDER_H_

#include <cstdint>
#include <string>

#include "localbench/v1/results.pb.h"

namespace localbench::test_support {

// A submission that passes every validation rule: an RTX 4090 (CUDA) on a
// Debian host, `sweeps` sweeps cycling through decode, prefill, LoRA and
// full fine-tune of "llama-3.2-1b" (fp16, bf16, fp32, fp16 ...), each with
// `points_per_sweep` points at strictly increasing batch sizes
// (1, 4, 9, ..., (k+1)^2). All points run (OK) except the last, which ran
// out of memory; the OOM bracket matches. Tokens/s and memory grow with
// batch size as they do on real hardware. Same seed, same submission
// (including its submission_id); different seeds, different ids.
// Timestamps are fixed in 2025, so repeated builds are byte-identical.
v1::Submission MakeSubmission(uint64_t seed, int sweeps = 1, int points_per_sweep = 12);

// The machine fingerprint MakeSubmission(seed) uses: 64 hex characters.
std::string FingerprintFor(uint64_t seed);

// A UUID (version 4 layout) derived from `seed`: reproducible ids.
std::string UuidFor(uint64_t seed);

}  // namespace localbench::test_support

#endif  // LOCALBENCH_TEST_SUPPORT_SUBMISSION_BUILDER_H_
