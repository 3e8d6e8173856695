// The Storage conformance suite: what every Storage implementation must do, as GoogleTest
// typed tests (after phoenix_pubsub's shared adapter tests). A backend runs it with a
// factory type and one macro in its own test file, inside namespace quckrt::testing (where
// the suites live):
//
//   namespace quckrt::testing {
//   struct MyStorageFactory {
//       std::unique_ptr<quckrt::Storage> make();   // a fresh, empty storage
//   };
//   QUCKRT_STORAGE_CONFORMANCE(MyBackend, MyStorageFactory);
//   }
//
// The factory object lives for one test and is destroyed after the storage, so it may own
// a temp file. Several factories (e.g. in-memory and on-disk) go in a type list:
//   using SqliteFactories = ::testing::Types<SqliteMemoryFactory, SqliteFileFactory>;
//   QUCKRT_STORAGE_CONFORMANCE(Sqlite, SqliteFactories);
//
// Parts: storage_conformance_chat.hpp (conversations, membership, messages, edits,
// reactions, read receipts), storage_conformance_log.hpp (history, event log, batches),
// storage_conformance_queue.hpp (store-and-forward queue, call history). Durability across
// reopen and crashes is backend-specific and tested beside each backend.
#pragma once

#include "conformance/storage_conformance_chat.hpp"
#include "conformance/storage_conformance_log.hpp"
#include "conformance/storage_conformance_queue.hpp"

// QUCKRT_STORAGE_CONFORMANCE(Prefix, FactoryOrTypeList): instantiate every part.
#define QUCKRT_STORAGE_CONFORMANCE(Prefix, Factories)                               \
    INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StorageChatConformance, Factories);      \
    INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StorageLogConformance, Factories);       \
    INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StorageQueueConformance, Factories)
