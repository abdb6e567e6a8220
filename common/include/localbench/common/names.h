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
// "fp32", "fp16", "bf16"; else "unspecified".
const char* PrecisionName(v1::Precision p);
// "ok", "oom", "error", "skipped_wont_fit", "skipped_for_time"; else
// "unspecified".
const char* PointStatusName(v1::PointStatus s);
// "proven", "planned"; else "unspecified" (the sweeps table's spelling).
const char* OomThresholdSourceName(v1::OomThresholdSource s);

}  // namespace localbench

#endif  // LOCALBENCH_COMMON_NAMES_H_
