// Crash durability: a child process appends messages through StorageQueue and reports each
// completion to the parent over a pipe; the parent kills it with SIGKILL in the middle of
// the burst, reopens the database and checks that every reported message is there with its
// queue entry, and that the sequence has no hole and continues.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <quckrt/backends/sqlite.hpp>

#include "conformance/storage_fixture.hpp"
#include "conformance/temp_dir.hpp"
#include "storage/storage_queue.hpp"

namespace quckrt::storage {
namespace {

using quckrt::testing::kT0;
using quckrt::testing::kTtl;

constexpr int kReportsBeforeKill = 3000;

// The child: append forever (until killed), one line per completed append on `fd`:
// "<i> <seq> <message id>\n". Never returns. A small WAL threshold makes checkpoints (in the
// background and by the writer) run all through the burst, so the kill can land in one.
[[noreturn]] void child_burst(const std::string& path, int fd) {
    auto storage = make_sqlite_storage(path, {.wal_checkpoint_pages = 64});
    if (!storage) _exit(2);
    StorageQueue q(std::move(*storage), {.max_pending = 4096});
    for (int i = 0; i < 10'000'000; ++i) {
        NewMessage m{.conversation_id = "c",
                     .sender_id = "alice",
                     .content = "burst " + std::to_string(i),
                     .client_msg_id = "k" + std::to_string(i),
                     .created_at = kT0 + i,
                     .queue_for = {"bob"},
                     .queue_expires_at = kT0 + kTtl};
        auto op = [m](Storage& s) { return s.append_message(m); };
        auto done = [i, fd](Result<Appended> r) {
            if (!r) _exit(3);
            char line[128];
            const int n = std::snprintf(line, sizeof line, "%d %lld %s\n", i,
                                        static_cast<long long>(r->message.seq),
                                        r->message.id.c_str());
            // One write below PIPE_BUF is atomic; a blocked pipe just slows the writer.
            if (write(fd, line, static_cast<size_t>(n)) != n) _exit(4);
        };
        Status st;
        while ((st = q.submit(op, done)).code() == StatusCode::resource_exhausted)
            std::this_thread::yield();
        if (!st.ok()) _exit(5);
    }
    _exit(0);
}

struct Reported {
    int64_t seq;
    std::string id;
};

TEST(StorageCrash, EveryReportedAppendSurvivesSigkill) {
    quckrt::testing::TempDir dir;
    const std::string path = dir.file("crash.db");
    {
        auto s = make_sqlite_storage(path);
        ASSERT_TRUE(s.has_value()) << s.error().to_string();
        ASSERT_TRUE((*s)->create_conversation({.id = "c", .created_at = kT0}).ok());
        ASSERT_TRUE((*s)->add_member("c", "alice", kT0).has_value());
        ASSERT_TRUE((*s)->add_member("c", "bob", kT0).has_value());
    }
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_burst(path, fds[1]);
    }
    close(fds[1]);

    // Read reports; kill the child once enough have arrived, then keep reading whatever it
    // reported before it died (those completions were reported too).
    std::map<int, Reported> reported;
    std::string buffer;
    bool killed = false;
    char chunk[4096];
    for (;;) {
        const ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;
        buffer.append(chunk, static_cast<size_t>(n));
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
            std::istringstream line(buffer.substr(0, nl));
            buffer.erase(0, nl + 1);
            int i;
            Reported r;
            line >> i >> r.seq >> r.id;
            reported[i] = r;
        }
        if (!killed && reported.size() >= kReportsBeforeKill) {
            ASSERT_EQ(kill(pid, SIGKILL), 0);
            killed = true;
        }
    }
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own, status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    ASSERT_GE(reported.size(), static_cast<size_t>(kReportsBeforeKill));

    auto s = make_sqlite_storage(path);  // recovers the WAL left by the killed process
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    Storage& db = **s;
    const int64_t last = db.get_conversation("c")->last_seq;
    EXPECT_GE(last, static_cast<int64_t>(reported.size()));
    // Every reported message is there, with its seq and its queue entry for bob.
    std::map<std::string, int64_t> queued;
    for (int64_t after = 0;;) {
        auto page = db.queue_for("bob", after, kMaxQueueLimit, kT0);
        ASSERT_TRUE(page.has_value());
        if (page->empty()) break;
        for (const auto& e : *page) queued[e.message.id] = e.message.seq;
        after = page->back().entry_id;
    }
    for (const auto& [i, r] : reported) {
        auto m = db.get_message(r.id);
        ASSERT_TRUE(m.has_value()) << "reported message " << i << " is missing";
        EXPECT_EQ(m->seq, r.seq);
        EXPECT_EQ(m->content, "burst " + std::to_string(i));
        ASSERT_EQ(queued.count(r.id), 1u) << "queue entry of message " << i << " is missing";
    }
    // Whatever committed, committed whole: seq 1..last without a hole, one entry each.
    std::vector<int64_t> seqs;
    for (int64_t after = 0;;) {
        auto page = db.history({.conversation_id = "c", .after_seq = after, .limit = 200});
        ASSERT_TRUE(page.has_value());
        for (const auto& m : page->messages) seqs.push_back(m.seq);
        if (!page->has_more) break;
        after = page->messages.back().seq;
    }
    ASSERT_EQ(static_cast<int64_t>(seqs.size()), last);
    for (size_t k = 0; k < seqs.size(); ++k) ASSERT_EQ(seqs[k], static_cast<int64_t>(k + 1));
    EXPECT_EQ(static_cast<int64_t>(queued.size()), last);
    // And the sequence continues from storage.
    auto next = db.append_message({.conversation_id = "c", .sender_id = "bob",
                                   .content = "after the crash", .created_at = kT0});
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->message.seq, last + 1);
}

}  // namespace
}  // namespace quckrt::storage
