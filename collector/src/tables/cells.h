// Reading the aggregate statements into cells: OOM rows and point cells,
// shared by the tables and by will-it-run. Internal to collector/src/tables.
#ifndef LOCALBENCH_COLLECTOR_SRC_TABLES_CELLS_H_
#define LOCALBENCH_COLLECTOR_SRC_TABLES_CELLS_H_

#include <optional>
#include <string>
#include <vector>

#include "tables/common.h"

namespace localbench::collector::tables {

// One device model x workload key x batch size (point_cells.sql).
struct PointCell {
  std::string slug;
  v1::WorkloadKey workload;
  uint32_t batch_size = 0;
  int64_t machines = 0;      // machines that ran it
  int64_t submissions = 0;
  std::optional<v1::Spread> tokens_per_second;
  std::optional<v1::Spread> peak_bytes;
  uint64_t planned_bytes = 0;
  uint32_t oom_machines = 0;  // machines that ran out of memory at this batch
  std::string reproduce_command;
};

// The OOM rows passing `f` (oom_cells.sql), in the table's default order.
std::vector<v1::OomRow> OomRows(Reader& rd, const Filter& f, const Directory& dir);
// The point cells passing `f` (batch f.batch_size, or all), in key order.
std::vector<PointCell> PointCells(Reader& rd, const Filter& f);

// The device model `slug` from `dir`, or a bare one naming only the slug.
v1::DeviceModel ModelOf(const Directory& dir, const std::string& slug);

// Of several workload keys matching a request, the one with the most
// machines behind it (ties: the first in key order); "" when none.
std::string BestKey(const std::vector<PointCell>& cells);

}  // namespace localbench::collector::tables

#endif  // LOCALBENCH_COLLECTOR_SRC_TABLES_CELLS_H_
