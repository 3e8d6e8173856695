// TempDir: a fresh directory under the test temp dir (gtest's TempDir(), i.e. $TEST_TMPDIR
// or /tmp), removed with everything in it when the object goes away.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace quckrt::testing {

class TempDir {
public:
    TempDir() {
        std::string pattern = ::testing::TempDir() + "quckrt-storage-XXXXXX";
        if (char* p = mkdtemp(pattern.data())) path_ = p;
        EXPECT_FALSE(path_.empty()) << "mkdtemp failed for " << pattern;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // file(name): path of a file inside the directory.
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

}  // namespace quckrt::testing
