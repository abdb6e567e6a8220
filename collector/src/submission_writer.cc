#include "localbench/collector/submission_writer.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "localbench/collector/db_errors.h"
#include "localbench/collector/log.h"
#include "localbench/collector/queries.h"
#include "localbench/common/names.h"
#include "judge.h"

namespace localbench::collector {
namespace {

absl::Status Cancelled() {
  return absl::CancelledError("the client cancelled or its deadline passed; nothing stored");
}

// The one answer for an id stored by someone else or with other content: it
// names only the caller's own id, never whose it is or what it holds, so an
// agent cannot probe or replay another agent's submissions.
absl::Status Taken(const std::string& id) {
  return absl::AlreadyExistsError(
      absl::StrCat("submission_id ", id, " is already used by another submission; send new results under a new id"));
}

// A stored submissions row, as ingest_stored.sql returns it.
struct StoredRow {
  std::string agent_id;
  std::string sha;
  int64_t received_micros = 0;
  uint32_t sweep_count = 0;
  uint32_t point_count = 0;
};

// The device-id cache key: the columns of the devices unique key.
std::string DeviceKey(const v1::Device& d) {
  return absl::StrCat(BackendName(d.backend()), "\x1f", VendorName(d.vendor()), "\x1f", d.name(), "\x1f",
                      d.memory_total_bytes(), "\x1f", d.compute_capability(), "\x1f", d.gfx_target(), "\x1f",
                      d.multiprocessor_count());
}

v1::SubmitResponse Reply(const std::string& id, int64_t received_micros, uint32_t sweeps, uint32_t points) {
  v1::SubmitResponse response;
  response.set_submission_id(id);
  *response.mutable_received_at() = FromMicros(received_micros);
  response.set_sweep_count(sweeps);
  response.set_point_count(points);
  return response;
}

}  // namespace

SubmissionWriter::SubmissionWriter(ConnectionPool* pool, int writers, PlausibilityRules rules)
    : pool_(pool), writers_(writers), rules_(rules) {
  if (writers_ < 1) {
    std::fprintf(stderr, "SubmissionWriter: writers must be >= 1, got %d\n", writers_);
    std::abort();
  }
}

void SubmissionWriter::Prepare(pqxx::connection& conn) {
  PrepareQueries(conn, {"ingest_next_version", "ingest_stored", "machine_insert", "machine_select", "device_insert",
                        "device_select"});
  for (const char* name : kJudgeQueries) PrepareQueries(conn, {name});
}

int64_t SubmissionWriter::MachineId(pqxx::transaction_base& tx, const v1::Submission& s) {
  {
    std::lock_guard lock(ids_mu_);
    if (auto it = machine_ids_.find(s.machine_fingerprint()); it != machine_ids_.end()) return it->second;
  }
  pqxx::result r = tx.exec_prepared("machine_insert", s.machine_fingerprint());
  if (r.empty()) r = tx.exec_prepared("machine_select", s.machine_fingerprint());
  // Ingest transactions run one at a time (the counter lock) and nothing
  // deletes machines, so the row is there: its absence is a broken invariant.
  return r.at(0).at(0).as<int64_t>();
}

int64_t SubmissionWriter::DeviceId(pqxx::transaction_base& tx, const v1::Submission& s) {
  const v1::Device& d = s.hardware().device();
  const std::string key = DeviceKey(d);
  {
    std::lock_guard lock(ids_mu_);
    if (auto it = device_ids_.find(key); it != device_ids_.end()) return it->second;
  }
  const std::string backend = BackendName(d.backend());
  const std::string vendor = VendorName(d.vendor());
  const auto memory = static_cast<int64_t>(d.memory_total_bytes());
  const auto sms = static_cast<int64_t>(d.multiprocessor_count());
  pqxx::result r = tx.exec_prepared("device_insert", backend, vendor, d.name(), memory, d.compute_capability(),
                                    d.gfx_target(), sms);
  if (r.empty()) {
    r = tx.exec_prepared("device_select", backend, vendor, d.name(), memory, d.compute_capability(), d.gfx_target(),
                         sms);
  }
  return r.at(0).at(0).as<int64_t>();
}

void SubmissionWriter::CacheIds(const std::vector<std::pair<std::string, int64_t>>& machines,
                                const std::vector<std::pair<std::string, int64_t>>& devices) {
  std::lock_guard lock(ids_mu_);
  // Bounded: a flood of new machines cannot grow the caches without limit.
  if (machine_ids_.size() > 100000) machine_ids_.clear();
  if (device_ids_.size() > 100000) device_ids_.clear();
  machine_ids_.insert(machines.begin(), machines.end());
  device_ids_.insert(devices.begin(), devices.end());
}

absl::StatusOr<v1::SubmitResponse> SubmissionWriter::Write(const SubmissionRecord& r,
                                                          const std::function<bool()>* cancelled) {
  Waiter self;
  self.member.r = &r;
  self.member.cancelled = cancelled;
  // Leader/follower: whoever finds a writer slot free takes everything
  // queued (its own and others') and writes it as one transaction, so
  // concurrent submissions share one commit; the others wait for their
  // answer. Under light load a group is just the caller itself.
  std::unique_lock lock(mu_);
  queue_.push_back(&self);
  while (!self.result.has_value()) {
    if (active_ < writers_ && !queue_.empty()) {
      const std::size_t n = std::min(queue_.size(), kMaxGroup);
      std::vector<Waiter*> taken(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      ++active_;
      lock.unlock();
      std::vector<Member*> group;
      group.reserve(taken.size());
      for (Waiter* w : taken) group.push_back(&w->member);
      WriteAll(group);
      lock.lock();
      --active_;
      for (Waiter* w : taken) w->result = *std::move(w->member.answer);
      cv_.notify_all();
    } else {
      cv_.wait(lock);
    }
  }
  return *std::move(self.result);
}

std::vector<absl::StatusOr<v1::SubmitResponse>> SubmissionWriter::WriteGroup(
    const std::vector<const SubmissionRecord*>& records) {
  std::vector<Member> members(records.size());
  std::vector<Member*> group;
  for (std::size_t i = 0; i < records.size(); ++i) {
    members[i].r = records[i];
    group.push_back(&members[i]);
  }
  WriteAll(group);
  std::vector<absl::StatusOr<v1::SubmitResponse>> results;
  results.reserve(members.size());
  for (Member& m : members) results.push_back(*std::move(m.answer));
  return results;
}

void SubmissionWriter::WriteAll(std::vector<Member*>& group) {
  absl::Status st = TryTransaction(group);
  if (st.ok()) return;
  std::vector<Member*> open;
  for (Member* m : group) {
    if (!m->answer.has_value()) open.push_back(m);
  }
  if (open.size() > 1) {
    // Nothing of the group was stored. Each goes again alone, so one that
    // the database refuses cannot take the others with it; ids used twice
    // find their first copy stored by then.
    LogLine(absl::StrCat("group of ", open.size(), " refused (", st.message(), "); writing one by one"));
    for (Member* m : open) {
      std::vector<Member*> one{m};
      if (absl::Status alone = TryTransaction(one); !alone.ok()) m->answer = alone;
    }
    return;
  }
  for (Member* m : open) m->answer = st;
}

absl::Status SubmissionWriter::TryTransaction(std::vector<Member*>& group) {
  std::vector<Member*> live;
  for (Member* m : group) {
    if (m->answer.has_value()) continue;
    if (m->Gone()) {
      m->answer = Cancelled();
    } else {
      live.push_back(m);
    }
  }
  while (!live.empty()) {
    auto lease = pool_->Acquire();
    if (!lease.ok()) {
      for (Member* m : live) m->answer = lease.status();
      return absl::OkStatus();
    }
    try {
      // The first member of each id is written; later ones are answered
      // like a repeat of it.
      std::unordered_map<std::string, Member*> first;
      std::string id_array = "{";
      for (Member* m : live) {
        if (first.emplace(m->r->s->submission_id(), m).second) {
          // Validated, canonical UUIDs: nothing in them needs quoting.
          if (id_array.size() > 1) id_array.push_back(',');
          id_array += m->r->s->submission_id();
        }
      }
      id_array.push_back('}');
      pqxx::work tx(**lease);
      const pqxx::row opened = tx.exec_prepared1("ingest_next_version");
      const int64_t version = opened[0].as<int64_t>();
      const int64_t now_micros = opened[1].as<int64_t>();
      std::unordered_map<std::string, StoredRow> stored;
      for (const auto& row : tx.exec_prepared("ingest_stored", id_array)) {
        stored.emplace(row[0].as<std::string>(),
                       StoredRow{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<int64_t>(),
                                 row[4].as<uint32_t>(), row[5].as<uint32_t>()});
      }
      std::vector<Member*> fresh;
      std::vector<std::pair<int64_t, int64_t>> ref_ids;  // machine, device of each fresh member
      std::vector<std::pair<std::string, int64_t>> machines;
      std::vector<std::pair<std::string, int64_t>> devices;
      for (Member* m : live) {
        const v1::Submission& s = *m->r->s;
        if (first[s.submission_id()] != m || stored.count(s.submission_id()) > 0) continue;
        fresh.push_back(m);
        ref_ids.emplace_back(MachineId(tx, s), DeviceId(tx, s));
        machines.emplace_back(s.machine_fingerprint(), ref_ids.back().first);
        devices.emplace_back(DeviceKey(s.hardware().device()), ref_ids.back().second);
      }
      if (!fresh.empty()) {
        {
          pqxx::stream_to out(tx, "submissions", SubmissionColumns());
          for (std::size_t i = 0; i < fresh.size(); ++i) {
            CopySubmission(out, *fresh[i]->r, ref_ids[i].first, ref_ids[i].second, version);
          }
          out.complete();
        }
        {
          pqxx::stream_to out(tx, "sweeps", SweepColumns());
          for (Member* m : fresh) CopySweeps(out, *m->r->s);
          out.complete();
        }
        {
          pqxx::stream_to out(tx, "points", PointColumns());
          for (Member* m : fresh) CopyPoints(out, *m->r->s);
          out.complete();
        }
        // Plausibility, in the storing transaction: an implausible
        // submission is stored and flagged at once, never public unreviewed.
        for (std::size_t i = 0; i < fresh.size(); ++i) {
          const v1::Submission& s = *fresh[i]->r->s;
          const std::vector<Finding> findings =
              JudgeSubmission(tx, s, ref_ids[i].first, ref_ids[i].second, version, rules_);
          if (!findings.empty()) {
            LogLine(absl::StrCat("submission ", s.submission_id(), " held for review: ", SummarizeFindings(findings)));
          }
        }
      }
      // Decide every answer before committing; assign only after.
      std::vector<absl::StatusOr<v1::SubmitResponse>> answers;
      answers.reserve(live.size());
      bool fresh_gone = false;
      for (Member* m : live) {
        const SubmissionRecord& r = *m->r;
        const std::string& id = r.s->submission_id();
        const Member* writer = first[id];
        auto it = stored.find(id);
        if (it != stored.end()) {
          const StoredRow& row = it->second;
          answers.push_back(row.agent_id == r.agent_id && row.sha == r.sha
                                ? absl::StatusOr<v1::SubmitResponse>(
                                      Reply(id, row.received_micros, row.sweep_count, row.point_count))
                                : Taken(id));
        } else if (writer == m || (writer->r->agent_id == r.agent_id && writer->r->sha == r.sha)) {
          // Written now (by this member, or by its identical twin).
          answers.push_back(Reply(id, now_micros, static_cast<uint32_t>(r.s->sweeps_size()),
                                  static_cast<uint32_t>(r.point_count)));
          fresh_gone = fresh_gone || (writer == m && m->Gone());
        } else {
          answers.push_back(Taken(id));
        }
      }
      if (fresh_gone) {
        // A client whose rows are about to commit has gone: roll back and
        // write the group again without it, so it never gets stored unseen.
        tx.abort();
        std::vector<Member*> rest;
        for (Member* m : live) {
          if (m->Gone()) {
            m->answer = Cancelled();
          } else {
            rest.push_back(m);
          }
        }
        live = std::move(rest);
        continue;
      }
      if (fresh.empty()) {
        tx.abort();  // nothing new: no data version is spent on repeats
      } else {
        tx.commit();
        CacheIds(machines, devices);
      }
      for (std::size_t i = 0; i < live.size(); ++i) {
        Member* m = live[i];
        if (answers[i].ok()) {
          const bool is_new = std::find(fresh.begin(), fresh.end(), m) != fresh.end();
          LogLine(absl::StrCat(is_new ? "stored" : "repeat of", " submission ", m->r->s->submission_id(), " (",
                               m->r->s->sweeps_size(), " sweeps, ", m->r->point_count, " points)"));
        }
        m->answer = std::move(answers[i]);
      }
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return StatusFromDbError(e, "storing the submission");
    }
  }
  return absl::OkStatus();
}

}  // namespace localbench::collector
