// metactl: the command-line client of the Meta Service.
//
//   metactl [--endpoints host:port,...] [--json] [--serializable] COMMAND ...
//
// Tables for people, --json for scripts; exit status 0 on success, 1 on an error from the service,
// 2 on a usage error. Endpoints default to $METACTL_ENDPOINTS, else the local cluster of
// `bash ci/run.sh` (127.0.0.1:9101,9102,9103).
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "net/client.h"

namespace {

using meta::Result;
using meta::Status;
using meta::client::Client;

constexpr char kUsage[] =
    R"(usage: metactl [--endpoints host:port,...] [--json] [--serializable] COMMAND

  status                               every member: groups, leaders, terms, indexes
  put KEY VALUE                        write a key
  get KEY                              read a key (linearizable unless --serializable)
  del KEY                              delete a key
  list [PREFIX] [--limit N] [--start-after KEY]
  offset commit GROUP TOPIC PARTITION OFFSET [--expect N]
  offset get GROUP TOPIC PARTITION
  session get CLIENT_ID
  session list [--limit N] [--start-after CLIENT_ID]
  member list
  member add ID HOST:PORT [--learner]  add a member to every group (start it afterwards)
  member remove ID
  leader transfer TO [--group G]       move leadership of group G (default: every group)
  snapshot                             compact the logs of every member now
)";

struct Flags {
  std::vector<std::string> endpoints;
  bool json = false;
  bool serializable = false;
  uint64_t limit = 0;
  std::string start_after;
  std::optional<uint64_t> expect;
  uint64_t group = 0;
  bool learner = false;
  std::vector<std::string> args;  // the command and its positional arguments
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool ParseU64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && *end == '\0' && s[0] != '-';
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  const char* env = std::getenv("METACTL_ENDPOINTS");
  f.endpoints = Split(env != nullptr ? env : "127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103", ',');
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const std::string& name) -> Result<std::string> {
      if (i + 1 >= argc) return meta::InvalidArgumentError(name + " needs a value");
      return std::string(argv[++i]);
    };
    auto number = [&](const std::string& name) -> Result<uint64_t> {
      ASSIGN_OR_RETURN(std::string v, value(name));
      uint64_t n = 0;
      if (!ParseU64(v, n)) return meta::InvalidArgumentError(name + " needs a number, not " + v);
      return n;
    };
    if (a == "--endpoints") {
      ASSIGN_OR_RETURN(std::string v, value(a));
      f.endpoints = Split(v, ',');
    } else if (a == "--json") {
      f.json = true;
    } else if (a == "--serializable") {
      f.serializable = true;
    } else if (a == "--learner") {
      f.learner = true;
    } else if (a == "--limit") {
      ASSIGN_OR_RETURN(f.limit, number(a));
    } else if (a == "--start-after") {
      ASSIGN_OR_RETURN(f.start_after, value(a));
    } else if (a == "--expect") {
      ASSIGN_OR_RETURN(f.expect, number(a));
    } else if (a == "--group") {
      ASSIGN_OR_RETURN(f.group, number(a));
    } else if (a == "-h" || a == "--help") {
      return meta::InvalidArgumentError("help");
    } else if (a.starts_with("--")) {
      return meta::InvalidArgumentError("unknown flag " + a);
    } else {
      f.args.push_back(a);
    }
  }
  if (f.args.empty()) return meta::InvalidArgumentError("no command");
  return f;
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// Prints rows as aligned columns; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

std::string Ids(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out.empty() ? "-" : out;
}

class Ctl {
 public:
  Ctl(Flags flags, std::unique_ptr<Client> client, std::unique_ptr<Client> quick)
      : f_(std::move(flags)), c_(std::move(client)), quick_(std::move(quick)) {}

  Status Run() {
    const auto& a = f_.args;
    const std::string& cmd = a[0];
    if (cmd == "status" && a.size() == 1) return StatusCmd();
    if (cmd == "put" && a.size() == 3)
      return Show(c_->Put(a[1], a[2]),
                  [&](const auto& r) { std::cout << "OK (index " << r.header().index() << ")\n"; });
    if (cmd == "get" && a.size() == 2)
      return Show(c_->Get(a[1], Consistency()), [&](const auto& r) {
        if (!r.found()) {
          std::cout << "(not found)\n";
          return;
        }
        std::cout << r.kv().value() << "\n";
      });
    if (cmd == "del" && a.size() == 2)
      return Show(c_->Delete(a[1]), [](const auto& r) {
        std::cout << (r.deleted() ? "deleted" : "(not found)") << "\n";
      });
    if (cmd == "list" && a.size() <= 2) return List(a.size() == 2 ? a[1] : "");
    if (cmd == "offset" && a.size() == 6 && a[1] == "commit") return OffsetCommit();
    if (cmd == "offset" && a.size() == 5 && a[1] == "get") return OffsetGet();
    if (cmd == "session" && a.size() == 3 && a[1] == "get") {
      return Show(c_->GetSession(a[2], Consistency()), [](const auto& r) {
        if (!r.found()) {
          std::cout << "(not found)\n";
          return;
        }
        PrintTable({{"CLIENT_ID", "EXPIRY_MS", "DATA_BYTES"},
                    {r.session().client_id(), std::to_string(r.session().expiry_interval_ms()),
                     std::to_string(r.session().data().size())}});
      });
    }
    if (cmd == "session" && a.size() == 2 && a[1] == "list") return SessionList();
    if (cmd == "member" && a.size() == 2 && a[1] == "list") return MemberList();
    if (cmd == "member" && a.size() == 4 && a[1] == "add") {
      uint64_t id = 0;
      if (!ParseU64(a[2], id)) return meta::InvalidArgumentError("member id must be a number");
      return Show(c_->MemberAdd(id, a[3], f_.learner),
                  [&](const auto&) { std::cout << "member " << id << " added\n"; });
    }
    if (cmd == "member" && a.size() == 3 && a[1] == "remove") {
      uint64_t id = 0;
      if (!ParseU64(a[2], id)) return meta::InvalidArgumentError("member id must be a number");
      return Show(c_->MemberRemove(id),
                  [&](const auto&) { std::cout << "member " << id << " removed\n"; });
    }
    if (cmd == "leader" && a.size() == 3 && a[1] == "transfer") {
      uint64_t to = 0;
      if (!ParseU64(a[2], to)) return meta::InvalidArgumentError("TO must be a node id");
      return Show(c_->TransferLeader(f_.group, to),
                  [&](const auto&) { std::cout << "leadership moved to node " << to << "\n"; });
    }
    if (cmd == "snapshot" && a.size() == 1) return Snapshot();
    return meta::InvalidArgumentError("usage");
  }

 private:
  meta::v1::ReadConsistency Consistency() const {
    return f_.serializable ? meta::v1::SERIALIZABLE : meta::v1::LINEARIZABLE;
  }

  template <class R, class F>
  Status Show(const Result<R>& r, F print) {
    if (!r.ok()) return r.status();
    if (f_.json) {
      std::cout << Json(*r) << "\n";
    } else {
      print(*r);
    }
    return Status::Ok();
  }

  Status StatusCmd() {
    std::vector<std::vector<std::string>> rows = {{"MEMBER", "GROUP", "KIND", "ROLE", "LEADER",
                                                   "TERM", "COMMIT", "APPLIED", "VOTERS",
                                                   "LEARNERS"}};
    Status first_error;
    for (const std::string& e : f_.endpoints) {
      Result<meta::v1::StatusResponse> r = quick_->Status(e);
      if (!r.ok()) {
        rows.push_back({e, "-", "unreachable: " + r.status().message()});
        if (first_error.ok()) first_error = r.status();
        continue;
      }
      if (f_.json) {
        std::cout << Json(*r) << "\n";
        continue;
      }
      for (const auto& g : r->groups()) {
        rows.push_back({std::to_string(r->header().member_id()) + " (" + e + ")",
                        std::to_string(g.group_id()), g.kind(), g.role(),
                        g.leader_id() == 0 ? "-" : std::to_string(g.leader_id()),
                        std::to_string(g.term()), std::to_string(g.commit_index()),
                        std::to_string(g.applied_index()), Ids(g.voters()), Ids(g.learners())});
      }
    }
    if (!f_.json) PrintTable(rows);
    return first_error;
  }

  Status List(const std::string& prefix) {
    meta::v1::ListRequest req;
    req.set_prefix(prefix);
    req.set_start_after(f_.start_after);
    req.set_limit(static_cast<uint32_t>(f_.limit));
    req.set_consistency(Consistency());
    return Show(c_->List(req), [](const auto& r) {
      std::vector<std::vector<std::string>> rows = {{"KEY", "VALUE", "VERSION", "MOD_INDEX"}};
      for (const auto& kv : r.kvs()) {
        rows.push_back(
            {kv.key(), kv.value(), std::to_string(kv.version()), std::to_string(kv.mod_index())});
      }
      PrintTable(rows);
      if (r.more()) std::cout << "(more: --start-after " << r.kvs().rbegin()->key() << ")\n";
    });
  }

  Status OffsetCommit() {
    const auto& a = f_.args;
    uint64_t partition = 0, offset = 0;
    if (!ParseU64(a[4], partition) || partition > UINT32_MAX || !ParseU64(a[5], offset)) {
      return meta::InvalidArgumentError("PARTITION and OFFSET must be numbers");
    }
    meta::v1::CommitOffsetsRequest req;
    req.set_group(a[2]);
    auto* o = req.add_offsets();
    o->set_topic(a[3]);
    o->set_partition(static_cast<uint32_t>(partition));
    o->set_offset(offset);
    if (f_.expect) o->set_expected(*f_.expect);
    Result<meta::v1::CommitOffsetsResponse> r = c_->CommitOffsets(req);
    RETURN_IF_ERROR(Show(r, [](const auto& r) {
      std::cout << (r.succeeded() ? "committed" : "not committed: the offset did not match")
                << "\n";
    }));
    return r->succeeded() ? Status::Ok()
                          : meta::FailedPreconditionError("compare-and-set did not match");
  }

  Status OffsetGet() {
    const auto& a = f_.args;
    uint64_t partition = 0;
    if (!ParseU64(a[4], partition) || partition > UINT32_MAX) {
      return meta::InvalidArgumentError("PARTITION must be a number");
    }
    meta::v1::GetOffsetsRequest req;
    req.set_group(a[2]);
    auto* tp = req.add_partitions();
    tp->set_topic(a[3]);
    tp->set_partition(static_cast<uint32_t>(partition));
    req.set_consistency(Consistency());
    return Show(c_->GetOffsets(req), [](const auto& r) {
      const auto& o = r.offsets(0);
      std::cout << (o.found() ? std::to_string(o.offset()) : "(not committed)") << "\n";
    });
  }

  Status SessionList() {
    meta::v1::ListSessionsRequest req;
    req.set_start_after(f_.start_after);
    req.set_limit(static_cast<uint32_t>(f_.limit));
    req.set_consistency(Consistency());
    return Show(c_->ListSessions(req), [](const auto& r) {
      std::vector<std::vector<std::string>> rows = {{"CLIENT_ID", "EXPIRY_MS", "DATA_BYTES"}};
      for (const auto& s : r.sessions()) {
        rows.push_back({s.client_id(), std::to_string(s.expiry_interval_ms()),
                        std::to_string(s.data().size())});
      }
      PrintTable(rows);
    });
  }

  Status MemberList() {
    return Show(c_->Status(""), [](const auto& r) {
      std::vector<std::vector<std::string>> rows = {{"ID", "ADDRESS"}};
      for (const auto& m : r.members()) rows.push_back({std::to_string(m.id()), m.addr()});
      PrintTable(rows);
    });
  }

  Status Snapshot() {
    Status first_error;
    for (const std::string& e : f_.endpoints) {
      Status s = Show(c_->Snapshot(e), [&](const auto& r) {
        std::cout << e << ": compacted " << r.groups_size() << " groups\n";
      });
      if (!s.ok() && first_error.ok()) first_error = s.Annotate(e);
    }
    return first_error;
  }

  Flags f_;
  std::unique_ptr<Client> c_;
  std::unique_ptr<Client> quick_;  // for questions to one member that may be down
};

}  // namespace

int main(int argc, char** argv) {
  Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    if (flags.status().message() != "help")
      std::cerr << "metactl: " << flags.status().message() << "\n";
    std::cerr << kUsage;
    return 2;
  }
  meta::client::ClientOptions options;
  options.endpoints = flags->endpoints;
  options.total_timeout = meta::Seconds(10);
  Result<std::unique_ptr<Client>> client = Client::Connect(options);
  options.total_timeout = meta::Seconds(2);
  Result<std::unique_ptr<Client>> quick = Client::Connect(options);
  if (!client.ok() || !quick.ok()) {
    std::cerr << "metactl: " << client.status().message() << "\n";
    return 2;
  }
  Ctl ctl(std::move(*flags), std::move(*client), std::move(*quick));
  Status s = ctl.Run();
  if (s.code() == meta::Code::kInvalidArgument && s.message() == "usage") {
    std::cerr << kUsage;
    return 2;
  }
  if (!s.ok()) {
    std::cerr << "metactl: " << s << "\n";
    return 1;
  }
  return 0;
}
