// SqliteStorage: the shared conformance suite (in memory and on disk) plus what only the
// SQLite backend has: reopening a file, migrations, pragmas, query plans, statement reuse.
#include "storage/sqlite/sqlite_storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <quckrt/backends/sqlite.hpp>

#include "conformance/storage_conformance.hpp"
#include "conformance/temp_dir.hpp"
#include "storage/sqlite/migrations.hpp"

namespace quckrt::testing {

struct SqliteMemoryFactory {
    std::unique_ptr<Storage> make() {
        auto s = make_sqlite_storage(":memory:");
        EXPECT_TRUE(s.has_value()) << s.error().to_string();
        return s ? std::move(*s) : nullptr;
    }
};

struct SqliteFileFactory {
    TempDir dir;
    std::unique_ptr<Storage> make() {
        auto s = make_sqlite_storage(dir.file("conformance.db"));
        EXPECT_TRUE(s.has_value()) << s.error().to_string();
        return s ? std::move(*s) : nullptr;
    }
};

using SqliteFactories = ::testing::Types<SqliteMemoryFactory, SqliteFileFactory>;
QUCKRT_STORAGE_CONFORMANCE(Sqlite, SqliteFactories);

}  // namespace quckrt::testing

namespace quckrt::sqlite {
namespace {

using quckrt::testing::kT0;
using quckrt::testing::kTtl;
using quckrt::testing::TempDir;

// A second, raw connection to inspect a database file from outside the storage.
DbPtr raw_open(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              nullptr),
              SQLITE_OK);
    return DbPtr(db);
}

int64_t scalar(sqlite3* db, const char* sql) {
    auto stmt = prepare(db, sql);
    EXPECT_TRUE(stmt.has_value()) << stmt.error().to_string();
    if (!stmt) return -1;
    Query q(stmt->get());
    auto v = q.one_int(-1);
    return v ? *v : -1;
}

std::string text_scalar(sqlite3* db, const char* sql) {
    auto stmt = prepare(db, sql);
    if (!stmt) return "";
    Query q(stmt->get());
    auto row = q.step();
    return row && *row ? q.text(0) : "";
}

NewMessage msg(const std::string& content, std::optional<std::string> client_id = std::nullopt) {
    return {.conversation_id = "c",
            .sender_id = "alice",
            .content = content,
            .client_msg_id = std::move(client_id),
            .created_at = kT0,
            .queue_for = {"bob"},
            .queue_expires_at = kT0 + kTtl};
}

TEST(SqliteStorage, ReopeningAFileKeepsDataAndContinuesTheSequence) {
    TempDir dir;
    const std::string path = dir.file("chat.db");
    std::string first_id;
    {
        auto s = make_sqlite_storage(path);
        ASSERT_TRUE(s.has_value()) << s.error().to_string();
        Storage& db = **s;
        ASSERT_TRUE(db.create_conversation({.id = "c", .created_at = kT0}).ok());
        ASSERT_TRUE(db.add_member("c", "alice", kT0).has_value());
        ASSERT_TRUE(db.add_member("c", "bob", kT0).has_value());
        for (int i = 0; i < 3; ++i) {
            auto a = db.append_message(msg("m" + std::to_string(i), "k" + std::to_string(i)));
            ASSERT_TRUE(a.has_value()) << a.error().to_string();
            if (i == 0) first_id = a->message.id;
        }
        ASSERT_TRUE(db.edit_message({.conversation_id = "c", .message_id = first_id,
                                     .actor_id = "alice", .at = kT0 + 1},
                                    "m0!")
                        .has_value());
    }
    auto s = make_sqlite_storage(path);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    Storage& db = **s;
    auto page = db.history({.conversation_id = "c"});
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->messages.size(), 3u);
    EXPECT_EQ(page->messages[0].content, "m0!");
    EXPECT_EQ(db.seq_range("c")->last, 4);
    EXPECT_EQ(db.queue_depth("bob").value(), 3u);
    EXPECT_TRUE(db.is_member("c", "bob").value());
    auto next = db.append_message(msg("after reopen"));
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->message.seq, 5);  // from storage, not memory
    auto resend = db.append_message(msg("m0", "k0"));
    ASSERT_TRUE(resend.has_value());
    EXPECT_FALSE(resend->created);
    EXPECT_EQ(resend->message.id, first_id);
}

TEST(SqliteStorage, OpeningTwiceAppliesEachMigrationOnce) {
    TempDir dir;
    const std::string path = dir.file("twice.db");
    for (int i = 0; i < 2; ++i) {
        auto s = make_sqlite_storage(path);
        ASSERT_TRUE(s.has_value()) << s.error().to_string();
    }
    auto raw = raw_open(path);
    const auto steps = schema_migrations();
    EXPECT_EQ(scalar(raw.get(), "SELECT COUNT(*) FROM schema_version"),
              static_cast<int64_t>(steps.size()));
    EXPECT_EQ(schema_version(raw.get()).value(), steps.back().version);
}

TEST(SqliteMigrations, AppliesOnlyTheNewStepsAndIsIdempotent) {
    auto db = raw_open(":memory:");
    const Migration v1[] = {{1, "CREATE TABLE a (x)"}};
    const Migration v2[] = {{1, "CREATE TABLE a (x)"}, {2, "CREATE TABLE b (y)"}};
    ASSERT_TRUE(migrate(db.get(), v1).ok());
    EXPECT_EQ(schema_version(db.get()).value(), 1);
    ASSERT_TRUE(migrate(db.get(), v1).ok());  // "table a already exists" would fail here
    ASSERT_TRUE(migrate(db.get(), v2).ok());
    EXPECT_EQ(schema_version(db.get()).value(), 2);
    ASSERT_TRUE(migrate(db.get(), v2).ok());
    EXPECT_EQ(scalar(db.get(), "SELECT COUNT(*) FROM schema_version"), 2);
    EXPECT_EQ(scalar(db.get(), "SELECT COUNT(*) FROM b"), 0);
    // An older build refuses the newer database instead of misreading it.
    EXPECT_EQ(migrate(db.get(), v1).code(), StatusCode::failed_precondition);
}

TEST(SqliteMigrations, AFailedStepLeavesTheVersionAndSchemaUnchanged) {
    auto db = raw_open(":memory:");
    const Migration good[] = {{1, "CREATE TABLE a (x)"}};
    const Migration bad[] = {{1, "CREATE TABLE a (x)"},
                             {2, "CREATE TABLE c (z); THIS IS NOT SQL"}};
    ASSERT_TRUE(migrate(db.get(), good).ok());
    EXPECT_EQ(migrate(db.get(), bad).code(), StatusCode::internal);
    EXPECT_EQ(schema_version(db.get()).value(), 1);
    EXPECT_EQ(scalar(db.get(), "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'c'"), 0);
    EXPECT_TRUE(sqlite3_get_autocommit(db.get()));  // no transaction left open
}

TEST(SqliteStorage, ANewerDatabaseIsRefused) {
    TempDir dir;
    const std::string path = dir.file("newer.db");
    ASSERT_TRUE(make_sqlite_storage(path).has_value());
    {
        auto raw = raw_open(path);
        ASSERT_TRUE(exec(raw.get(), "INSERT INTO schema_version VALUES (999, 0)").ok());
    }
    auto s = make_sqlite_storage(path);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), StatusCode::failed_precondition);
}

TEST(SqliteStorage, BadPathsAreRefusedWithClearCodes) {
    TempDir dir;
    const std::string junk = dir.file("junk.db");
    std::ofstream(junk) << std::string(8192, 'x');
    auto notdb = make_sqlite_storage(junk);
    ASSERT_FALSE(notdb.has_value());
    EXPECT_EQ(notdb.error().code(), StatusCode::internal) << notdb.error().to_string();
    auto missing = make_sqlite_storage(dir.file("no/such/dir/x.db"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code(), StatusCode::unavailable) << missing.error().to_string();
    EXPECT_EQ(make_sqlite_storage("").error().code(), StatusCode::invalid_argument);
}

TEST(SqliteStorage, ConnectionUsesWalForeignKeysAndTheChosenSync) {
    TempDir dir;
    auto normal = SqliteStorage::open(dir.file("normal.db"), {});
    ASSERT_TRUE(normal.has_value()) << normal.error().to_string();
    sqlite3* db = (*normal)->db();
    EXPECT_EQ(text_scalar(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
    EXPECT_EQ(scalar(db, "PRAGMA synchronous"), 1);  // NORMAL
    auto full = SqliteStorage::open(dir.file("full.db"), {.sync = SqliteOptions::Sync::full});
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(scalar((*full)->db(), "PRAGMA synchronous"), 2);  // FULL
    // The WAL mode is a property of the file: a second connection sees it too.
    auto raw = raw_open(dir.file("normal.db"));
    EXPECT_EQ(text_scalar(raw.get(), "PRAGMA journal_mode"), "wal");
}

TEST(SqliteStorage, CheckpointsKeepTheWalBoundedAndLoseNothing) {
    TempDir dir;
    const std::string path = dir.file("wal.db");
    constexpr int kThreshold = 50;  // pages
    {
        auto s = SqliteStorage::open(path, {.wal_checkpoint_pages = kThreshold});
        ASSERT_TRUE(s.has_value()) << s.error().to_string();
        Storage& db = **s;
        ASSERT_TRUE(db.create_conversation({.id = "c", .created_at = kT0}).ok());
        ASSERT_TRUE(db.add_member("c", "alice", kT0).has_value());
        ASSERT_TRUE(db.add_member("c", "bob", kT0).has_value());
        uintmax_t largest_wal = 0;
        for (int i = 0; i < 3000; ++i) {  // one commit each: thousands of WAL frames
            ASSERT_TRUE(db.append_message(msg("m" + std::to_string(i))).has_value());
            largest_wal = std::max(largest_wal, std::filesystem::file_size(path + "-wal"));
        }
        const auto stats = (*s)->checkpoint_stats();
        EXPECT_GT(stats.background, 0u);  // the thread did the bulk of the copying
        EXPECT_GT(stats.inline_, 0u);     // and the writer finished remainders
        // The writer finishes a checkpoint itself at 4x the threshold at the latest, and the
        // next transaction rewinds the WAL; one commit's frames may come on top.
        EXPECT_LT(largest_wal, uintmax_t{(4 * kThreshold + 20) * (4096 + 24) + 32});
    }
    auto s = make_sqlite_storage(path);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ((*s)->seq_range("c")->last, 3000);
    EXPECT_EQ((*s)->queue_depth("bob").value(), 3000u);
}

TEST(SqliteStorage, EveryStatementIsServedByAnIndex) {
    auto s = SqliteStorage::open(":memory:", {});
    ASSERT_TRUE(s.has_value());
    sqlite3* db = (*s)->db();
    for (size_t i = 0; i < static_cast<size_t>(Sql::count_); ++i) {
        const std::string sql = sql_text(static_cast<Sql>(i));
        auto plan = prepare(db, ("EXPLAIN QUERY PLAN " + sql).c_str());
        ASSERT_TRUE(plan.has_value()) << sql;
        Query q(plan->get());
        for (;;) {
            auto row = q.step();
            ASSERT_TRUE(row.has_value()) << sql;
            if (!*row) break;
            const std::string detail = q.text(3);
            // "SCAN <table>" is a full table scan; a constant row is not a table.
            const bool scan = detail.rfind("SCAN ", 0) == 0 && detail != "SCAN CONSTANT ROW";
            EXPECT_FALSE(scan) << sql << "\n  plan: " << detail;
        }
    }
}

TEST(SqliteStorage, StatementsArePreparedOnceAndReused) {
    auto s = SqliteStorage::open(":memory:", {});
    ASSERT_TRUE(s.has_value());
    sqlite3* db = (*s)->db();
    auto count_statements = [db] {
        int n = 0;
        for (sqlite3_stmt* st = sqlite3_next_stmt(db, nullptr); st; st = sqlite3_next_stmt(db, st))
            ++n;
        return n;
    };
    const int prepared = count_statements();
    EXPECT_EQ(prepared, static_cast<int>(Sql::count_));
    Storage& storage = **s;
    ASSERT_TRUE(storage.create_conversation({.id = "c", .created_at = kT0}).ok());
    ASSERT_TRUE(storage.add_member("c", "alice", kT0).has_value());
    ASSERT_TRUE(storage.add_member("c", "bob", kT0).has_value());
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(storage.append_message(msg("x")).has_value());
        ASSERT_TRUE(storage.history({.conversation_id = "c"}).has_value());
        ASSERT_TRUE(storage.queue_for("bob", 0, 10, kT0).has_value());
    }
    EXPECT_EQ(count_statements(), prepared);
    // And none is left mid-execution (each use resets its statement).
    for (sqlite3_stmt* st = sqlite3_next_stmt(db, nullptr); st; st = sqlite3_next_stmt(db, st))
        EXPECT_FALSE(sqlite3_stmt_busy(st)) << sqlite3_sql(st);
}

}  // namespace
}  // namespace quckrt::sqlite
