#include "sim/sim_disk.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/check.h"
#include "core/hash.h"
#include "core/random.h"

namespace meta::sim {

// Tracks, per file, how many bytes were written and how many of those were synced. Thread-safe:
// RocksDB's background threads write through it too.
class SimDisk::CrashFs final : public rocksdb::FileSystemWrapper {
 public:
  CrashFs(const std::shared_ptr<rocksdb::FileSystem>& target, uint64_t seed)
      : FileSystemWrapper(target), seed_(seed), fault_random_(Random(seed).Stream("faults")) {}

  // Under mu_. An injected error for an operation on `name`, or OK.
  rocksdb::IOStatus MaybeFail(const std::string& name, double p, uint64_t appended) {
    if (quiet_) return rocksdb::IOStatus::OK();
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".log") != 0) {
      return rocksdb::IOStatus::OK();
    }
    if (appended > 0) {
      wal_bytes_ += appended;
      if (wal_bytes_ > faults_.capacity_bytes) {
        ++faults_injected_;
        return rocksdb::IOStatus::NoSpace("injected: disk full");
      }
    }
    if (p > 0 && fault_random_.Chance(p)) {
      ++faults_injected_;
      return rocksdb::IOStatus::IOError("injected I/O error on " + name);
    }
    return rocksdb::IOStatus::OK();
  }

  // An injected read error, or OK. Only reads made by the thread that created the disk (the
  // simulator's) draw, so the draws follow the seed.
  rocksdb::IOStatus FailRead(const std::string& name) {
    std::lock_guard lock(mu_);
    if (quiet_ || faults_.read_error <= 0 || std::this_thread::get_id() != owner_) {
      return rocksdb::IOStatus::OK();
    }
    if (!fault_random_.Chance(faults_.read_error)) return rocksdb::IOStatus::OK();
    ++faults_injected_;
    return rocksdb::IOStatus::IOError("injected read error on " + name);
  }

  const char* Name() const override { return "SimDiskCrashFs"; }

  class RandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
   public:
    RandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> f, CrashFs& fs, std::string name)
        : FSRandomAccessFileOwnerWrapper(std::move(f)), fs_(fs), name_(std::move(name)) {}

    rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                           rocksdb::Slice* result, char* scratch,
                           rocksdb::IODebugContext* dbg) const override {
      if (rocksdb::IOStatus s = Fault(); !s.ok()) return s;
      return target()->Read(offset, n, o, result, scratch, dbg);
    }
    rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                                const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* dbg) override {
      for (size_t i = 0; i < num_reqs; ++i) {
        reqs[i].status =
            Read(reqs[i].offset, reqs[i].len, o, &reqs[i].result, reqs[i].scratch, dbg);
      }
      return rocksdb::IOStatus::OK();
    }

   private:
    rocksdb::IOStatus Fault() const { return fs_.FailRead(name_); }
    CrashFs& fs_;
    std::string name_;
  };

  class SequentialFile final : public rocksdb::FSSequentialFileOwnerWrapper {
   public:
    SequentialFile(std::unique_ptr<rocksdb::FSSequentialFile> f, CrashFs& fs, std::string name)
        : FSSequentialFileOwnerWrapper(std::move(f)), fs_(fs), name_(std::move(name)) {}

    rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result,
                           char* scratch, rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = Fault(); !s.ok()) return s;
      return target()->Read(n, o, result, scratch, dbg);
    }
    rocksdb::IOStatus PositionedRead(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                                     rocksdb::Slice* result, char* scratch,
                                     rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = Fault(); !s.ok()) return s;
      return target()->PositionedRead(offset, n, o, result, scratch, dbg);
    }

   private:
    rocksdb::IOStatus Fault() const { return fs_.FailRead(name_); }
    CrashFs& fs_;
    std::string name_;
  };

  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSRandomAccessFile> inner;
    rocksdb::IOStatus s = target()->NewRandomAccessFile(f, o, &inner, dbg);
    if (s.ok()) *r = std::make_unique<RandomAccessFile>(std::move(inner), *this, f);
    return s;
  }

  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSSequentialFile> inner;
    rocksdb::IOStatus s = target()->NewSequentialFile(f, o, &inner, dbg);
    if (s.ok()) *r = std::make_unique<SequentialFile>(std::move(inner), *this, f);
    return s;
  }

  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool ever_synced = false;
  };

  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, CrashFs& fs, std::string name)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), name_(std::move(name)) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      std::lock_guard lock(fs_.mu_);
      if (fs_.off_) return rocksdb::IOStatus::OK();  // lost: the machine is down
      rocksdb::IOStatus s = fs_.MaybeFail(name_, fs_.faults_.write_error, data.size());
      if (!s.ok()) return s;
      s = target()->Append(data, o, dbg);
      if (s.ok()) fs_.files_[name_].size += data.size();
      return s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo&,
                             rocksdb::IODebugContext* dbg) override {
      return Append(data, o, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      std::lock_guard lock(fs_.mu_);
      if (fs_.off_) return rocksdb::IOStatus::OK();
      rocksdb::IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
      if (s.ok()) {
        FileState& st = fs_.files_[name_];
        st.size = std::max(st.size, offset + data.size());
      }
      return s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo&,
                                       rocksdb::IODebugContext* dbg) override {
      return PositionedAppend(data, offset, o, dbg);
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
      std::lock_guard lock(fs_.mu_);
      if (fs_.off_) return rocksdb::IOStatus::OK();
      rocksdb::IOStatus s = target()->Truncate(size, o, dbg);
      if (s.ok()) {
        FileState& st = fs_.files_[name_];
        st.size = size;
        st.synced = std::min(st.synced, size);
      }
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      return MarkSynced([&] { return target()->Sync(o, dbg); });
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      return MarkSynced([&] { return target()->Fsync(o, dbg); });
    }

   private:
    template <class F>
    rocksdb::IOStatus MarkSynced(F sync) {
      std::lock_guard lock(fs_.mu_);
      if (fs_.off_) return rocksdb::IOStatus::OK();
      rocksdb::IOStatus s = fs_.MaybeFail(name_, fs_.faults_.sync_error, 0);
      if (!s.ok()) return s;
      fs_.MaybeSlowSync(name_);
      s = sync();
      if (s.ok()) {
        FileState& st = fs_.files_[name_];
        st.synced = st.size;
        st.ever_synced = true;
      }
      return s;
    }

    CrashFs& fs_;
    std::string name_;
  };

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, &inner, dbg);
    if (!s.ok()) return s;
    {
      std::lock_guard lock(mu_);
      files_[f] = FileState{};  // created (or truncated) and not yet synced
    }
    *r = std::make_unique<File>(std::move(inner), *this, f);
    return s;
  }

  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, &inner, dbg);
    if (!s.ok()) return s;
    uint64_t size = 0;
    target()->GetFileSize(f, rocksdb::IOOptions(), &size, dbg).PermitUncheckedError();
    {
      std::lock_guard lock(mu_);
      auto [it, inserted] = files_.emplace(f, FileState{size, size, true});
      (void)it;
      (void)inserted;
    }
    *r = std::make_unique<File>(std::move(inner), *this, f);
    return s;
  }

  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = RenameFile(old, f, rocksdb::IOOptions(), dbg);
    if (!s.ok()) return s;
    return NewWritableFile(f, o, r, dbg);
  }

  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override {
    std::lock_guard lock(mu_);
    if (off_) return rocksdb::IOStatus::OK();
    rocksdb::IOStatus s = target()->DeleteFile(f, o, dbg);
    if (s.ok()) files_.erase(f);
    return s;
  }

  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    std::lock_guard lock(mu_);
    if (off_) return rocksdb::IOStatus::OK();
    rocksdb::IOStatus s = target()->RenameFile(src, dst, o, dbg);
    if (s.ok()) {
      auto it = files_.find(src);
      if (it != files_.end()) {
        files_[dst] = it->second;
        files_.erase(src);
      }
    }
    return s;
  }

  void PowerOff() {
    std::lock_guard lock(mu_);
    off_ = true;
  }

  // Under mu_. A WAL fsync may be slow.
  void MaybeSlowSync(const std::string& name) {
    if (quiet_ || faults_.slow_sync <= 0 || !slow_sync_handler_) return;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".log") != 0) return;
    if (!fault_random_.Chance(faults_.slow_sync)) return;
    ++faults_injected_;
    slow_sync_handler_(fault_random_.Range(Millis(1), faults_.slow_sync_max));
  }

  void SetSlowSyncHandler(std::function<void(Duration)> handler) {
    std::lock_guard lock(mu_);
    slow_sync_handler_ = std::move(handler);
  }

  void SetQuiet(bool quiet) {
    std::lock_guard lock(mu_);
    quiet_ = quiet;
  }

  void SetFaults(const DiskFaults& faults) {
    std::lock_guard lock(mu_);
    faults_ = faults;
    wal_bytes_ = 0;
  }

  void Recover() {
    std::lock_guard lock(mu_);
    CHECK(off_) << "Recover without PowerOff";
    ++crashes_;
    for (auto it = files_.begin(); it != files_.end();) {
      FileState& st = it->second;
      if (!st.ever_synced) {
        target()->DeleteFile(it->first, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
        ++files_lost_;
        bytes_lost_ += st.size;
        it = files_.erase(it);
        continue;
      }
      if (st.size > st.synced) {
        // Per-file randomness, so the choice does not depend on which other files exist.
        Random r(HashCombine(HashCombine(seed_, HashBytes(it->first)), crashes_));
        const uint64_t keep = st.synced + r.Uniform(st.size - st.synced + 1);
        TruncateTo(it->first, keep);
        bytes_lost_ += st.size - keep;
        st.size = st.synced = keep;
      }
      ++it;
    }
    off_ = false;
  }

  uint64_t crashes_ = 0;
  uint64_t bytes_lost_ = 0;
  uint64_t files_lost_ = 0;
  uint64_t faults_injected_ = 0;
  DiskFaults faults_;   // under mu_
  bool quiet_ = false;  // under mu_
  std::function<void(Duration)> slow_sync_handler_;
  uint64_t wal_bytes_ = 0;

 private:
  // Rewrites `name` with its first `keep` bytes.
  void TruncateTo(const std::string& name, uint64_t keep) {
    std::unique_ptr<rocksdb::FSSequentialFile> in;
    CHECK(target()->NewSequentialFile(name, rocksdb::FileOptions(), &in, nullptr).ok());
    std::string data(keep, '\0');
    rocksdb::Slice got;
    CHECK(in->Read(keep, rocksdb::IOOptions(), &got, data.data(), nullptr).ok());
    std::string prefix(got.data(), got.size());
    in.reset();
    std::unique_ptr<rocksdb::FSWritableFile> out;
    CHECK(target()->NewWritableFile(name, rocksdb::FileOptions(), &out, nullptr).ok());
    CHECK(out->Append(prefix, rocksdb::IOOptions(), nullptr).ok());
    CHECK(out->Close(rocksdb::IOOptions(), nullptr).ok());
  }

  uint64_t seed_;
  Random fault_random_;
  std::thread::id owner_ = std::this_thread::get_id();
  std::mutex mu_;
  bool off_ = false;
  std::map<std::string, FileState> files_;
};

SimDisk::SimDisk(uint64_t seed) : mem_env_(rocksdb::NewMemEnv(rocksdb::Env::Default())) {
  fs_ = std::make_shared<CrashFs>(mem_env_->GetFileSystem(), seed);
}

SimDisk::~SimDisk() = default;

std::shared_ptr<rocksdb::FileSystem> SimDisk::file_system() { return fs_; }
void SimDisk::PowerOff() { fs_->PowerOff(); }
void SimDisk::Recover() { fs_->Recover(); }
uint64_t SimDisk::crashes() const { return fs_->crashes_; }
uint64_t SimDisk::faults_injected() const { return fs_->faults_injected_; }

void SimDisk::SetFaults(const DiskFaults& faults) { fs_->SetFaults(faults); }
void SimDisk::SetQuiet(bool quiet) { fs_->SetQuiet(quiet); }
void SimDisk::SetSlowSyncHandler(std::function<void(Duration)> handler) {
  fs_->SetSlowSyncHandler(std::move(handler));
}
uint64_t SimDisk::bytes_lost() const { return fs_->bytes_lost_; }
uint64_t SimDisk::files_lost() const { return fs_->files_lost_; }

}  // namespace meta::sim
