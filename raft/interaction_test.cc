// Golden interaction scripts (raft/testdata/*.txt) in the style of etcd-raft's datadriven tests.
// A script is a sequence of blocks:
//
//   # comments and blank lines between blocks are kept as they are
//   command arg key=value ...
//   optional input lines
//   ----
//   expected output
//   <blank line>
//
// Each file runs against a fresh InteractionEnv (raft/testing/interaction.h). With META_REWRITE=1
// the files are rewritten with the actual outputs instead of being compared; review the diff
// before keeping it.
#include "raft/testing/interaction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace meta::raft {
namespace {

using testing::InteractionCommand;
using testing::InteractionEnv;

std::vector<std::string> ScriptFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(META_RAFT_TESTDATA)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// A line diff (longest common subsequence): "  " kept, "- " expected only, "+ " actual only.
std::string Diff(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  const size_t n = want.size(), m = got.size();
  std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] =
          want[i] == got[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && want[i] == got[j]) {
      out += "  " + want[i++] + "\n";
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + want[i++] + "\n";
    } else {
      out += "+ " + got[j++] + "\n";
    }
  }
  return out;
}

class InteractionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InteractionTest, Script) {
  const std::string path = GetParam();
  const char* rewrite_env = std::getenv("META_REWRITE");
  const bool rewrite = rewrite_env != nullptr && std::string(rewrite_env) == "1";
  std::ifstream file(path);
  ASSERT_TRUE(file) << "cannot open " << path;
  std::stringstream buf;
  buf << file.rdbuf();
  const std::vector<std::string> lines = Lines(buf.str());

  InteractionEnv env;
  std::string rewritten;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      rewritten += line + "\n";
      ++i;
      continue;
    }
    // A block: command, input lines, "----", expected output up to a blank line.
    const size_t cmd_line = i + 1;
    InteractionCommand cmd = InteractionCommand::Parse(line);
    std::vector<std::string> block_head{line};
    for (++i; i < lines.size() && lines[i] != "----"; ++i) {
      cmd.input.push_back(lines[i]);
      block_head.push_back(lines[i]);
    }
    ASSERT_LT(i, lines.size()) << path << ":" << cmd_line << ": '" << line
                               << "' has no ---- separator";
    std::vector<std::string> expected;
    for (++i; i < lines.size() && !lines[i].empty(); ++i) expected.push_back(lines[i]);
    if (i < lines.size()) ++i;  // the blank line ending the block

    Result<std::string> actual = env.Handle(cmd);
    ASSERT_TRUE(actual.ok()) << path << ":" << cmd_line << ": '" << line
                             << "': " << actual.status();
    const std::vector<std::string> got = Lines(*actual);
    for (const std::string& l : got) {
      ASSERT_FALSE(l.empty()) << path << ":" << cmd_line << ": output has a blank line";
    }
    rewritten += Join(block_head) + "----\n" + *actual + "\n";
    if (!rewrite && got != expected) {
      ADD_FAILURE() << path << ":" << cmd_line << ": output of '" << line
                    << "' differs (- expected, + actual; META_REWRITE=1 regenerates):\n"
                    << Diff(expected, got);
    }
  }
  if (rewrite) {
    // Drop the blank line ending the last block so rewriting is idempotent.
    while (rewritten.size() >= 2 && rewritten.ends_with("\n\n")) rewritten.pop_back();
    std::ofstream out(path, std::ios::trunc);
    out << rewritten;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Scripts, InteractionTest, ::testing::ValuesIn(ScriptFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = std::filesystem::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace meta::raft
