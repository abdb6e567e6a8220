// The text name of each wire enum value: one spelling for the agent's
// reports, the store's columns (schema/0001 CHECKs list the same words) and
// the served tables. Add a value here and in the schema together.
#ifndef LOCALBENCH_COMMON_NAMES_H_
#define LOCALBENCH_COMMON_NAMES_H_

#include "localbench/v1/results.pb.h"

namespace localbench {

// "cpu", "cuda", "hip"; "unspecified" for anything else (which validation
// and the schema refuse).
const char* BackendName(v1::Backend b);
// "nvidia", "amd", "intel", "apple", "other"; else "unspecified".
const char* VendorName(v1::Vendor v);
// "prefill", "decode", "train_lora", "train_full"; else "unspecified".
const char* KindName(v1::WorkloadKind k);
// "fp32", "fp16", "bf16", "q8_0", "q4_0", "nf4"; else "unspecified".
const char* PrecisionName(v1::Precision p);
// Whether `p` names quantized weights (Q8_0, Q4_0, NF4; issue 15).
bool IsQuantized(v1::Precision p);
// Average stored bytes per weight of a large matrix, scales included: 4
// (fp32), 2 (fp16, bf16), 34/32 (Q8_0), 18/32 (Q4_0), (32 + 1 + 4/256)/64
// (NF4); 0 for unspecified.
double WeightBytesPerValue(v1::Precision p);
// "ok", "oom", "error", "skipped_wont_fit", "skipped_for_time"; else
// "unspecified".
const char* PointStatusName(v1::PointStatus s);
// "proven", "planned"; else "unspecified" (the sweeps table's spelling).
const char* OomThresholdSourceName(v1::OomThresholdSource s);

}  // namespace localbench

#endif  // LOCALBENCH_COMMON_NAMES_H_
