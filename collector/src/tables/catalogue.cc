// Device models, devices, single submissions and moderation: the listings
// around the tables.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "localbench/collector/store.h"
#include "localbench/collector/tables.h"
#include "tables/common.h"

namespace localbench::collector {

using tables::Reader;

absl::Status VerifyRule::Check() const {
  if (quorum < 2 || quorum > 1000) {
    return absl::InvalidArgumentError("verify.quorum: must be in [2, 1000] (one machine never verifies a cell alone)");
  }
  if (!(tolerance > 0 && tolerance <= 1)) return absl::InvalidArgumentError("verify.tolerance: must be in (0, 1]");
  return absl::OkStatus();
}

TableService::TableService(ConnectionPool* pool, VerifyRule verify, double verdict_threshold)
    : pool_(pool),
      verify_(verify),
      verdict_threshold_(verdict_threshold),
      directory_(std::make_unique<tables::DirectoryCache>()) {
  // Options are checked where they are read (CollectorServer::Start, flags).
  if (!verify_.Check().ok()) {
    std::fprintf(stderr, "TableService: %s\n", std::string(verify_.Check().message()).c_str());
    std::abort();
  }
}

TableService::~TableService() = default;

absl::StatusOr<int64_t> TableService::LatestVersion() {
  return tables::Read<int64_t>(pool_, verify_, [](Reader& rd) -> absl::StatusOr<int64_t> {
    return rd.Plain("latest_version")[0][0].as<int64_t>();
  });
}

absl::StatusOr<v1::DeviceModelList> TableService::ListDeviceModels(const v1::ListDeviceModelsRequest& request) {
  auto filter = tables::BindFilter(request.filter(), "filter");
  if (!filter.ok()) return filter.status();
  v1::ListDeviceModelsRequest unpaged = request;
  unpaged.clear_read();
  unpaged.mutable_page()->clear_page_token();
  const uint64_t digest = tables::Digest(unpaged);
  auto window = tables::ParsePage(request.page(), digest, "page");
  if (!window.ok()) return window.status();
  return tables::Read<v1::DeviceModelList>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::DeviceModelList> {
    if (window->version != 0 && request.read().as_of() != 0 && request.read().as_of() != window->version) {
      return absl::InvalidArgumentError("page.page_token: bound to another data version than read.as_of");
    }
    if (auto ok = rd.At(window->version != 0 ? window->version : request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    const v1::TableFilter& f = request.filter();
    std::vector<v1::DeviceModel> models;
    for (const auto& [slug, m] : **dir) {
      if (f.vendor() != v1::VENDOR_UNSPECIFIED && m.vendor() != f.vendor()) continue;
      if (f.backend() != v1::BACKEND_UNSPECIFIED && m.backend() != f.backend()) continue;
      if (m.memory_bytes() < f.memory_min_bytes()) continue;
      if (f.memory_max_bytes() != 0 && m.memory_bytes() > f.memory_max_bytes()) continue;
      if (f.device_models_size() > 0 &&
          std::find(f.device_models().begin(), f.device_models().end(), slug) == f.device_models().end()) {
        continue;
      }
      if (request.measured_only() && m.machine_count() == 0) continue;
      models.push_back(m);
    }
    // Documented order: vendor, then memory, then name (slug breaks ties).
    std::sort(models.begin(), models.end(), [](const v1::DeviceModel& a, const v1::DeviceModel& b) {
      return std::make_tuple(a.vendor(), a.memory_bytes(), a.name(), a.slug()) <
             std::make_tuple(b.vendor(), b.memory_bytes(), b.name(), b.slug());
    });
    auto ok = tables::SortRows<v1::DeviceModel>(
        &models, request.page().sort(), "page.sort",
        {{"memory_bytes", [](const v1::DeviceModel& m) { return static_cast<double>(m.memory_bytes()); }},
         {"memory_bandwidth_bytes_per_second",
          [](const v1::DeviceModel& m) { return m.memory_bandwidth_bytes_per_second(); }},
         {"bf16_tflops", [](const v1::DeviceModel& m) { return m.bf16_tflops(); }},
         {"fp32_tflops", [](const v1::DeviceModel& m) { return m.fp32_tflops(); }},
         {"machine_count", [](const v1::DeviceModel& m) { return static_cast<double>(m.machine_count()); }},
         {"submission_count",
          [](const v1::DeviceModel& m) { return static_cast<double>(m.submission_count()); }}});
    if (!ok.ok()) return ok;
    v1::DeviceModelList out;
    *out.mutable_version() = rd.Version();
    for (std::size_t i = window->offset; i < models.size() && i < window->offset + window->size; ++i) {
      *out.add_models() = models[i];
    }
    out.set_next_page_token(tables::NextPageToken(*window, models.size(), rd.version(), digest));
    return out;
  });
}

absl::StatusOr<v1::ListDevicesResponse> TableService::ListDevices(const v1::ListDevicesRequest& request) {
  if (!v1::Backend_IsValid(request.backend())) return absl::InvalidArgumentError("backend: unknown backend");
  return tables::Read<v1::ListDevicesResponse>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::ListDevicesResponse> {
    if (auto ok = rd.At(0); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    // The older listing: measured device models only, ordered by name.
    std::vector<const v1::DeviceModel*> measured;
    for (const auto& [slug, m] : **dir) {
      if (m.machine_count() == 0) continue;
      if (request.backend() != v1::BACKEND_UNSPECIFIED && m.backend() != request.backend()) continue;
      measured.push_back(&m);
    }
    std::sort(measured.begin(), measured.end(), [](const v1::DeviceModel* a, const v1::DeviceModel* b) {
      return std::make_tuple(a->name(), a->slug()) < std::make_tuple(b->name(), b->slug());
    });
    v1::ListDevicesResponse out;
    for (const v1::DeviceModel* m : measured) {
      v1::DeviceSummary* s = out.add_devices();
      s->mutable_device()->set_backend(m->backend());
      s->mutable_device()->set_vendor(m->vendor());
      s->mutable_device()->set_name(m->name());
      s->mutable_device()->set_memory_total_bytes(m->memory_bytes());
      s->set_submission_count(m->submission_count());
      s->set_device_model(m->slug());
    }
    return out;
  });
}

absl::StatusOr<v1::GetSubmissionResponse> TableService::GetSubmission(const v1::GetSubmissionRequest& request) {
  if (auto ok = tables::CheckUuid(request.submission_id(), "submission_id"); !ok.ok()) return ok;
  return tables::Read<v1::GetSubmissionResponse>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::GetSubmissionResponse> {
        if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
        auto r = rd.Plain("submission", rd.version(), request.submission_id());
        if (r.empty() || r[0][2].as<int64_t>() > rd.version()) {
          return absl::NotFoundError(absl::StrCat("submission_id: no submission ", request.submission_id(),
                                                  " at data version ", rd.version()));
        }
        const auto& row = r[0];
        v1::GetSubmissionResponse out;
        const pqxx::binarystring payload(row[0]);
        if (!out.mutable_submission()->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          return absl::InternalError("stored payload does not parse");
        }
        const int64_t micros = row[1].as<int64_t>();
        out.mutable_received_at()->set_seconds(micros / 1000000);
        out.mutable_received_at()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
        const std::string action = row[3].is_null() ? "" : row[3].as<std::string>();
        out.set_flagged(action == "flag");
        out.set_retracted(action == "retract");
        if (action == "flag" || action == "retract") out.set_flag_reason(row[4].as<std::string>());
        *out.mutable_version() = rd.Version();
        out.set_stored_data_version(row[2].as<int64_t>());
        out.set_device_model(row[5].as<std::string>());
        for (const auto& f : rd.Plain("submission_findings", request.submission_id())) {
          v1::PlausibilityFinding* finding = out.add_plausibility_findings();
          finding->set_reason(f[0].as<std::string>());
          finding->set_field(f[1].as<std::string>());
          finding->set_detail(f[2].as<std::string>());
        }
        return out;
      });
}

absl::StatusOr<int64_t> RecordModeration(ConnectionPool& pool, std::string_view submission_id,
                                         std::string_view action, std::string_view reason,
                                         std::string_view actor, std::string_view actor_token_id) {
  if (auto ok = tables::CheckUuid(submission_id, "submission_id"); !ok.ok()) return ok;
  if (action != "flag" && action != "retract" && action != "restore") {
    return absl::InvalidArgumentError("action: expected flag, retract or restore");
  }
  if (reason.empty() || reason.size() > 1024) return absl::InvalidArgumentError("reason: 1 to 1024 bytes");
  if (actor.empty() || actor.size() > 128) return absl::InvalidArgumentError("actor: 1 to 128 bytes");
  if (!actor_token_id.empty()) {
    if (auto ok = tables::CheckUuid(actor_token_id, "actor_token_id"); !ok.ok()) return ok;
  }
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::connection& conn = **lease;
    conn.prepare("record_moderation", tables::Sql("record_moderation"));
    pqxx::work tx(conn);
    auto r = tx.exec_prepared("record_moderation", std::string(submission_id), std::string(action),
                              std::string(reason), std::string(actor), std::string(actor_token_id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("submission_id: no submission ", std::string(submission_id)));
    const int64_t version = r[0][0].as<int64_t>();
    tx.commit();
    return version;
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(absl::StrCat("database connection lost: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("moderation failed: ", e.what()));
  }
}

}  // namespace localbench::collector
