// quckrt/backends/sqlite.hpp
//
// make_sqlite_storage: the default Storage, an embedded SQLite database in one file (plus
// its -wal and -shm companions). Opening applies the schema migrations that are missing
// (versioned steps recorded in a `schema_version` table; reopening is a no-op), so a file
// written by an older build is upgraded in place. A file written by a NEWER build is refused
// with failed_precondition rather than misread.
//
// The connection runs in WAL mode with foreign keys on and every statement prepared once and
// reused; a file database also gets a checkpoint thread (see wal_checkpoint_pages).
// Durability is chosen by SqliteOptions::sync:
//   normal (default)  a committed transaction survives a kill -9 of the process (the WAL
//                     write has reached the OS); an OS crash or power loss may lose the last
//                     transactions, never corrupt the file.
//   full              the WAL is fsynced at every commit: survives power loss too. With
//                     StorageQueue's group commit it costs one fsync per batch, not per
//                     message.
//
// Thread affinity: as for every Storage, one thread at a time (see storage.hpp).
//
// Example:
//   auto storage = quckrt::make_sqlite_storage("/var/lib/quckrt/chat.db");
//   if (!storage) { std::cerr << storage.error().to_string(); return 1; }
//   auto mem = quckrt::make_sqlite_storage(":memory:");   // tests: a private in-memory db
#pragma once

#include <memory>
#include <string>

#include <quckrt/status.hpp>
#include <quckrt/storage.hpp>

namespace quckrt {

struct SqliteOptions {
    enum class Sync { normal, full };
    // normal: durable across process crashes; full: also across OS crashes (see above).
    Sync sync = Sync::normal;
    // How long a write waits for another connection (another process on the same file)
    // to release its lock before failing with unavailable.
    int busy_timeout_ms = 5000;
    // Page cache ceiling of the connection, in KiB (filled as pages are used, not up front).
    // Appends across many conversations insert into per-conversation indexes at random
    // places; when those indexes outgrow the cache every insert rereads a page. Measured
    // with 5000 conversations at 1M messages (32768-operation batches): 32 MiB gave 27 us
    // of writer CPU per append, 128 MiB 20 us.
    int cache_kib = 128 * 1024;
    // The WAL is copied back into the database file (a checkpoint, which syncs the file) once
    // it grows past this many pages. Checkpoints run on a background thread with its own
    // connection, so commits do not wait for them (the writer only finishes a small
    // remainder so the WAL can start over). Larger: fewer checkpoints, a larger -wal file
    // (pages are 4 KiB: 10000 is about 40 MiB; it stays under 4x this).
    int wal_checkpoint_pages = 10000;
};

// make_sqlite_storage(path, options): open or create the database at path (":memory:" for
// a private in-memory one) and migrate it. Fails with invalid_argument for an empty path or
// a non-positive cache_kib / wal_checkpoint_pages, unavailable when the file cannot be
// opened or written, failed_precondition when its schema is newer than this build, internal
// when it is not a database or a migration fails.
Result<std::unique_ptr<Storage>> make_sqlite_storage(std::string path, SqliteOptions options = {});

}  // namespace quckrt
