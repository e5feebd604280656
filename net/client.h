// The C++ client library of the public API (proto/meta/). Thread-safe; one Client per process is
// enough.
//
// Any member is an entry point: a follower forwards writes to its group's leader, so the client
// keeps talking to one endpoint and moves only when it fails — to the leader named by the error's
// hint (x-meta-leader-addr) when there is one, else to the next endpoint. UNAVAILABLE is retried
// with a jittered, doubling backoff until the call's total timeout.
//
// Writes are exactly-once: each carries (client_id, sequence) from a slot that belongs to one
// write at a time; a retry — after UNAVAILABLE, ABORTED (leader changed, outcome unknown) or a
// timed-out attempt — reuses the pair, and the group's dedup table answers a repeat with the
// first outcome instead of applying it again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "proto/meta/cluster.pb.h"
#include "proto/meta/kv.pb.h"
#include "proto/meta/offset.pb.h"
#include "proto/meta/session.pb.h"

namespace meta::client {

struct ClientOptions {
  std::vector<std::string> endpoints;      // host:port of any members
  Duration attempt_timeout = Seconds(35);  // one attempt; the server's write timeout is 30 s
  Duration total_timeout = Seconds(60);    // all attempts of one call
  Duration min_backoff = Millis(20);
  Duration max_backoff = Millis(1000);
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();

  // KV.
  Result<v1::GetResponse> Get(const std::string& key,
                              v1::ReadConsistency consistency = v1::LINEARIZABLE);
  Result<v1::ListResponse> List(v1::ListRequest request);
  Result<v1::PutResponse> Put(const std::string& key, const std::string& value);
  Result<v1::DeleteResponse> Delete(const std::string& key);
  Result<v1::CompareAndSetResponse> CompareAndSet(v1::CompareAndSetRequest request);

  // Offsets and sessions.
  Result<v1::CommitOffsetsResponse> CommitOffsets(v1::CommitOffsetsRequest request);
  Result<v1::GetOffsetsResponse> GetOffsets(v1::GetOffsetsRequest request);
  Result<v1::SessionBatchResponse> SessionBatch(v1::SessionBatchRequest request);
  Result<v1::GetSessionResponse> GetSession(const std::string& client_id,
                                            v1::ReadConsistency consistency = v1::LINEARIZABLE);
  Result<v1::ListSessionsResponse> ListSessions(v1::ListSessionsRequest request);

  // Cluster. Status and Snapshot ask one member: `endpoint`, or the current one when empty.
  Result<v1::StatusResponse> Status(const std::string& endpoint, bool with_digests = false);
  Result<v1::SnapshotResponse> Snapshot(const std::string& endpoint);
  Result<v1::MemberAddResponse> MemberAdd(uint64_t id, const std::string& addr, bool learner);
  Result<v1::MemberRemoveResponse> MemberRemove(uint64_t id);
  Result<v1::TransferLeaderResponse> TransferLeader(uint64_t group_id, uint64_t to);

  const ClientOptions& options() const;
  // The endpoint calls go to now.
  std::string current_endpoint() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meta::client
