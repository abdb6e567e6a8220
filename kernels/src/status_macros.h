// Early return of a non-OK absl::Status.
#pragma once

#include "absl/status/status.h"

#define LB_RETURN_IF_ERROR(expr)            \
  do {                                      \
    if (absl::Status lb_status_ = (expr);   \
        !lb_status_.ok())                   \
      return lb_status_;                    \
  } while (false)
