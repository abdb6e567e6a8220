#include "localbench/collector/submission_writer.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "localbench/collector/db_errors.h"
#include "localbench/collector/log.h"
#include "localbench/collector/queries.h"

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

// A stored submissions row, as ingest_from_stage.sql returns it.
struct StoredRow {
  std::string agent_id;
  std::string sha;
  int64_t received_micros = 0;
  uint32_t sweep_count = 0;
  uint32_t point_count = 0;
};

v1::SubmitResponse Reply(const std::string& id, int64_t received_micros, uint32_t sweeps, uint32_t points) {
  v1::SubmitResponse response;
  response.set_submission_id(id);
  *response.mutable_received_at() = FromMicros(received_micros);
  response.set_sweep_count(sweeps);
  response.set_point_count(points);
  return response;
}

}  // namespace

SubmissionWriter::SubmissionWriter(ConnectionPool* pool, int writers) : pool_(pool), writers_(writers) {
  if (writers_ < 1) {
    std::fprintf(stderr, "SubmissionWriter: writers must be >= 1, got %d\n", writers_);
    std::abort();
  }
}

void SubmissionWriter::Prepare(pqxx::connection& conn) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec(std::string(QuerySql("ingest_stage_create")));
  }
  PrepareQueries(conn, {"ingest_next_version", "ingest_from_stage"});
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
      // Stage the first member of each id; later ones are answered from
      // the stored row like any repeat.
      std::unordered_map<std::string, Member*> first;
      std::vector<Member*> staged;
      for (Member* m : live) {
        if (first.emplace(m->r->s->submission_id(), m).second) staged.push_back(m);
      }
      pqxx::work tx(**lease);
      {
        pqxx::stream_to out(tx, "lb_stage_submissions", StageSubmissionColumns());
        for (Member* m : staged) CopySubmission(out, *m->r);
        out.complete();
      }
      {
        pqxx::stream_to out(tx, "lb_stage_sweeps", SweepColumns());
        for (Member* m : staged) CopySweeps(out, *m->r->s);
        out.complete();
      }
      {
        pqxx::stream_to out(tx, "lb_stage_points", PointColumns());
        for (Member* m : staged) CopyPoints(out, *m->r->s);
        out.complete();
      }
      const int64_t version = tx.exec_prepared1("ingest_next_version")[0].as<int64_t>();
      // Every staged id's stored row: inserted now (fresh) or before.
      std::unordered_map<std::string, int64_t> fresh;
      std::unordered_map<std::string, StoredRow> stored;
      for (const auto& row : tx.exec_prepared("ingest_from_stage", version)) {
        std::string id = row[0].as<std::string>();
        if (row[1].as<bool>()) fresh.emplace(id, row[4].as<int64_t>());
        stored.emplace(std::move(id), StoredRow{row[2].as<std::string>(), row[3].as<std::string>(),
                                                row[4].as<int64_t>(), row[5].as<uint32_t>(), row[6].as<uint32_t>()});
      }
      // Decide every answer before committing; assign only after.
      std::vector<absl::StatusOr<v1::SubmitResponse>> answers;
      answers.reserve(live.size());
      bool fresh_gone = false;
      for (Member* m : live) {
        const SubmissionRecord& r = *m->r;
        const std::string& id = r.s->submission_id();
        if (auto it = fresh.find(id); it != fresh.end() && first[id] == m) {
          answers.push_back(Reply(id, it->second, static_cast<uint32_t>(r.s->sweeps_size()),
                                  static_cast<uint32_t>(r.point_count)));
          fresh_gone = fresh_gone || m->Gone();
          continue;
        }
        auto it = stored.find(id);
        if (it == stored.end()) {
          answers.push_back(absl::AbortedError(absl::StrCat("submission ", id, " vanished while storing; retry")));
        } else if (it->second.agent_id != r.agent_id || it->second.sha != r.sha) {
          answers.push_back(Taken(id));
        } else {
          answers.push_back(Reply(id, it->second.received_micros, it->second.sweep_count, it->second.point_count));
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
      }
      if (groups_.fetch_add(1, std::memory_order_relaxed) % kTruncateEvery == kTruncateEvery - 1) {
        // Whichever connection this is: over time every one gets its turn.
        pqxx::nontransaction cleanup(**lease);
        cleanup.exec(std::string(QuerySql("ingest_stage_truncate")));
      }
      for (std::size_t i = 0; i < live.size(); ++i) {
        Member* m = live[i];
        if (answers[i].ok()) {
          const bool is_new = fresh.count(m->r->s->submission_id()) > 0 && first[m->r->s->submission_id()] == m;
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
