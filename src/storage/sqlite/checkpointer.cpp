#include "storage/sqlite/checkpointer.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>

namespace quckrt::sqlite {
namespace {

// The writer finishes a checkpoint inline when at most threshold / kInlineFraction frames are
// left to copy: about 1 MiB with the default threshold, well under a millisecond.
constexpr int kInlineFraction = 32;
// Past threshold * kHardCap frames the writer waits for the thread's pass and checkpoints
// inline whatever is left, so the WAL stays bounded even if the thread cannot keep up.
constexpr int kHardCap = 4;

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          int threshold_pages) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) return status_from(rc, raw, "sqlite: open checkpointer connection");
    sqlite3_busy_timeout(raw, 5000);
    // SQLite opens a file lazily: until this connection has read something it does not know
    // the database is in WAL mode, and a checkpoint on it silently does nothing (-1 frames).
    if (auto st = exec(raw, "SELECT COUNT(*) FROM sqlite_schema"); !st.ok()) return st;
    return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(db), threshold_pages));
}

Checkpointer::Checkpointer(DbPtr db, int threshold_pages)
    : db_(std::move(db)), threshold_(threshold_pages) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "quckrt-ckpt");
}

Checkpointer::~Checkpointer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
}

void Checkpointer::install(sqlite3* writer) { sqlite3_wal_hook(writer, &on_commit, this); }

int Checkpointer::on_commit(void* self, sqlite3* writer, const char*, int wal_pages) {
    static_cast<Checkpointer*>(self)->after_commit(writer, wal_pages);
    return SQLITE_OK;  // a failed checkpoint must not fail the commit that triggered it
}

void Checkpointer::after_commit(sqlite3* writer, int wal_pages) {
    if (wal_pages < last_wal_pages_) backfilled_.store(0);  // the WAL started over
    last_wal_pages_ = wal_pages;
    if (wal_pages < threshold_) return;
    const int left = wal_pages - backfilled_.load();
    if (wal_pages >= threshold_ * kHardCap) {
        // The thread is not keeping up: wait for its pass, then finish here.
        std::lock_guard ckpt(checkpoint_mu_);
        checkpoint_inline(writer);
    } else if (left <= threshold_ / kInlineFraction) {
        std::unique_lock ckpt(checkpoint_mu_, std::try_to_lock);
        if (ckpt.owns_lock()) checkpoint_inline(writer);  // else: a pass runs; next commit
    } else {
        {
            std::lock_guard lock(mu_);
            if (wanted_) return;
            wanted_ = true;
        }
        cv_.notify_one();
    }
}

void Checkpointer::checkpoint_inline(sqlite3* writer) {
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
            SQLITE_OK &&
        done >= 0) {
        backfilled_.store(done);
        inline_.fetch_add(1, std::memory_order_relaxed);
    }
}

void Checkpointer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return wanted_ || stopping_; });
        if (stopping_) return;
        lock.unlock();
        int log = 0, done = 0;
        int rc;
        {
            std::lock_guard ckpt(checkpoint_mu_);
            rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                           &done);
        }
        if (rc == SQLITE_OK && done >= 0) {
            backfilled_.store(done);
            background_.fetch_add(1, std::memory_order_relaxed);
        } else if (rc != SQLITE_OK && (rc & 0xFF) != SQLITE_BUSY) {
            spdlog::warn("event=sqlite_checkpoint_failed error=\"{}\"",
                         status_from(rc, db_.get(), "checkpoint").message());
        }
        lock.lock();
        wanted_ = false;  // commits during the pass asked again: the next one re-checks
    }
}

}  // namespace quckrt::sqlite
