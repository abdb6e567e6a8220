#include "tables/cells.h"

#include <map>

namespace localbench::collector::tables {

v1::DeviceModel ModelOf(const Directory& dir, const std::string& slug) {
  auto it = dir.find(slug);
  if (it != dir.end()) return it->second;
  v1::DeviceModel m;  // unreachable in practice: the directory covers every visible device
  m.set_slug(slug);
  return m;
}

std::vector<v1::OomRow> OomRows(Reader& rd, const Filter& f, const Directory& dir) {
  std::vector<v1::OomRow> rows;
  for (const auto& r : rd.Table("oom_cells", f)) {
    v1::OomRow row;
    *row.mutable_device_model() = ModelOf(dir, r[0].as<std::string>());
    *row.mutable_workload() = WorkloadAt(r, 1);
    // Columns after the key: see oom_cells.sql.
    constexpr int k = 1 + kKeyColumns;
    if (auto s = SpreadAt(r, k + 2)) *row.mutable_largest_ok_batch() = *s;
    if (auto s = SpreadAt(r, k + 7)) *row.mutable_smallest_failed_batch() = *s;
    row.set_planned_max_batch(r[k + 12].as<uint32_t>());
    if (auto s = SpreadAt(r, k + 13)) *row.mutable_peak_bytes_at_batch_1() = *s;
    row.set_planned_bytes_at_batch_1(r[k + 18].as<uint64_t>());
    SetSupport(rd.verify(), r[k].as<int64_t>(), r[k + 1].as<int64_t>(),
               row.has_largest_ok_batch() ? &row.largest_ok_batch() : nullptr, row.mutable_support());
    row.set_reproduce_command(r[k + 19].as<std::string>());
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<PointCell> PointCells(Reader& rd, const Filter& f) {
  std::vector<PointCell> cells;
  for (const auto& r : rd.Table("point_cells", f)) {
    PointCell c;
    c.slug = r[0].as<std::string>();
    c.workload = WorkloadAt(r, 1);
    // Columns after the key: see point_cells.sql.
    constexpr int k = 1 + kKeyColumns;
    c.batch_size = r[k].as<uint32_t>();
    c.machines = r[k + 1].as<int64_t>();
    c.submissions = r[k + 2].as<int64_t>();
    c.tokens_per_second = SpreadAt(r, k + 3);
    c.peak_bytes = SpreadAt(r, k + 8);
    c.planned_bytes = r[k + 13].as<uint64_t>();
    c.oom_machines = r[k + 14].as<uint32_t>();
    c.reproduce_command = r[k + 15].as<std::string>();
    cells.push_back(std::move(c));
  }
  return cells;
}

std::string BestKey(const std::vector<PointCell>& cells) {
  std::map<std::string, int64_t> machines;  // key -> most machines at one batch
  for (const auto& c : cells) {
    int64_t& m = machines[KeyString(c.workload)];
    m = std::max(m, c.machines + c.oom_machines);
  }
  std::string best;
  int64_t most = -1;
  for (const auto& [key, m] : machines) {
    if (m > most) {
      best = key;
      most = m;
    }
  }
  return best;
}

}  // namespace localbench::collector::tables
