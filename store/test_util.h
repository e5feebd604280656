// Test helpers for store/: a fresh directory under the system temp dir, removed afterwards.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/check.h"

namespace meta::store {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meta-test-XXXXXX").string();
    CHECK(mkdtemp(tmpl.data()) != nullptr) << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace meta::store
