// quckrt/storage.hpp
//
// Storage: the persistence contract behind chat (conversations, membership, messages,
// edits, deletes, reactions, read receipts, history), resume (a per-conversation event
// log with gap-free sequence numbers) and store-and-forward (per-user queues with a TTL),
// plus call history. SQLite is the default implementation (quckrt/backends/sqlite.hpp); a
// host can implement this class for its own database and check it with the shared suite in
// tests/conformance/storage_conformance.hpp.
//
// Thread affinity: NOT thread-safe. One thread at a time calls a Storage: in quckrt that is
// the writer thread of the internal StorageQueue, which owns the instance; loop threads never
// call it. An instance may be created on one thread and handed to another.
//
// Time: storage never reads a clock. Every timestamp is passed in by the caller (unix ms).
//
// Sequences: every conversation has ONE sequence, 1, 2, 3, ... without gaps, stored with
// the conversation (never derived from memory). Each change event of the conversation takes
// the next number inside the transaction that makes the change: message_created,
// message_edited, message_deleted, reaction_added, reaction_removed. A message's `seq` is
// the seq of its message_created event, so messages alone are ordered by seq but may skip
// the numbers taken by edits and reactions. Read receipts are not events (a member's read
// position is current state, see read_states()). The event log (`events_after`) is what a
// client resumes from; `history` pages over messages.
//
// Atomicity: every call is atomic. A call that returns an error for a reason of its input or
// the data (not_found, permission_denied, invalid_argument, failed_precondition) has changed
// nothing. A call that fails in the storage itself (unavailable, resource_exhausted,
// internal) inside a batch fails the whole batch: commit_batch() then returns that error
// and rolls everything in the batch back.
//
// Batches (group commit): begin_batch() opens one transaction; every call until
// commit_batch() joins it, and commit_batch() makes all of them durable at once, or none.
// Outside a batch each write call is its own transaction. StorageQueue uses batches to
// turn thousands of small writes per second into a few commits; that is where the
// throughput comes from, so implementations should make begin/commit cheap.
//
// Durability: once a write call (outside a batch) or commit_batch() returns ok, the change
// survives a crash of the process. Whether it survives an OS crash or power loss is the
// implementation's documented choice (SQLite: configurable, see backends/sqlite.hpp).
//
// Failure: no exceptions. Error codes as in status.hpp; storage-level failures are
// `unavailable` (I/O, busy: retry), `resource_exhausted` (disk full) or `internal`
// (corruption, a bug).
//
// Example (direct, single-threaded use; servers go through StorageQueue):
//   auto st = quckrt::make_sqlite_storage("chat.db");
//   if (!st) return st.error();
//   auto& db = **st;
//   (void)db.create_conversation({.id = "c1", .kind = ConversationKind::direct,
//                                 .created_at = now});
//   (void)db.add_member("c1", "alice", now);
//   (void)db.add_member("c1", "bob", now);
//   auto sent = db.append_message({.conversation_id = "c1", .sender_id = "alice",
//                                  .content = "hi", .client_msg_id = "k1", .created_at = now,
//                                  .queue_for = {"bob"}, .queue_expires_at = now + kWeekMs});
//   // sent->message.id, sent->message.seq == 1, sent->created == true, sent->queued == 1
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <quckrt/json.hpp>
#include <quckrt/status.hpp>

namespace quckrt {

// Largest page any paging call returns; a larger limit is clamped to it.
inline constexpr size_t kMaxHistoryLimit = 200;
inline constexpr size_t kMaxEventsLimit = 500;
inline constexpr size_t kMaxQueueLimit = 500;

enum class ConversationKind { direct, group };
// to_string: "direct" / "group".
std::string_view to_string(ConversationKind kind);

struct Conversation {
    std::string id{};
    ConversationKind kind = ConversationKind::group;
    int64_t created_at = 0;
    int64_t last_seq = 0;  // the conversation's sequence so far (0: no event yet); read-only
};

struct Member {
    std::string user_id{};
    int64_t joined_at = 0;
    int64_t last_read_seq = 0;
};

struct Reaction {
    std::string user_id{};
    std::string emoji{};
    int64_t created_at = 0;
};

// Message: a stored message. A deleted message stays as a tombstone: id, seq, sender,
// type and timestamps remain, content is empty and deleted_at is set.
struct Message {
    std::string id{};  // server id, UUIDv7 minted from created_at
    std::string conversation_id{};
    int64_t seq = 0;
    std::string sender_id{};
    std::string type{};
    std::string content{};
    std::optional<std::string> client_msg_id{};
    int64_t created_at = 0;
    std::optional<int64_t> edited_at{};
    std::optional<int64_t> deleted_at{};
    // Filled by history() and get_message() only, ordered by (created_at, user, emoji).
    std::vector<Reaction> reactions{};
};

// NewMessage: the input of append_message().
struct NewMessage {
    std::string conversation_id{};
    std::string sender_id{};
    std::string content{};
    std::string type = "text";
    // Idempotency key, unique per (conversation, sender).
    std::optional<std::string> client_msg_id{};
    int64_t created_at = 0;
    // Store-and-forward: users to enqueue the message for (the members who are offline).
    // Users who are not members of the conversation are skipped; duplicates count once.
    std::vector<std::string> queue_for{};
    int64_t queue_expires_at = 0;  // absolute unix ms; required when queue_for is not empty
};

struct Appended {
    Message message{};
    bool created = false;  // false: an earlier append with the same client_msg_id
    size_t queued = 0;     // queue entries created (0 when created is false)
};

enum class EventKind {
    message_created,
    message_edited,
    message_deleted,
    reaction_added,
    reaction_removed,
};
// to_string: "message.created", "message.edited", "message.deleted", "reaction.added",
// "reaction.removed" (the values stored).
std::string_view to_string(EventKind kind);

// ConversationEvent: one entry of a conversation's change log.
struct ConversationEvent {
    std::string conversation_id{};
    int64_t seq = 0;
    EventKind kind = EventKind::message_created;
    std::string message_id{};
    std::string actor_id{};  // sender, editor, deleter or reacting user
    int64_t created_at = 0;
    // message_edited: {"content": new content}; reaction_*: {"emoji": e}; otherwise {}.
    Json payload{};
    // message_created only: the message in its CURRENT state (a later edit or delete shows
    // here too and is also replayed as its own event), without reactions (they are events).
    std::optional<Message> message{};
};

// MessageAction: who acts on which message, and when (edit, delete, reactions).
struct MessageAction {
    std::string conversation_id{};
    std::string message_id{};
    std::string actor_id{};
    int64_t at = 0;
};

// Change: the outcome of an edit, delete or reaction call. `event` is set when something
// changed; a call that changes nothing (same content, second delete, reaction already there
// or already gone) succeeds with no event and takes no seq: they are idempotent.
struct Change {
    Message message{};  // the message after the call (without reactions)
    std::optional<ConversationEvent> event{};
};

struct ReadState {
    std::string user_id{};
    int64_t last_read_seq = 0;
    int64_t unread = 0;  // messages after last_read_seq, not sent by the user, not deleted
};

struct MarkRead {
    ReadState state{};
    bool changed = false;  // false: the position was already at or past the given seq
};

// HistoryQuery: at most one of before_seq / after_seq. Neither: the latest messages.
struct HistoryQuery {
    std::string conversation_id{};
    std::optional<int64_t> before_seq{};  // messages with seq < before_seq, newest first taken
    std::optional<int64_t> after_seq{};   // messages with seq > after_seq, oldest first taken
    size_t limit = 50;                  // 1..kMaxHistoryLimit (larger is clamped)
};

struct HistoryPage {
    std::vector<Message> messages{};  // always ascending seq, tombstones included
    bool has_more = false;          // more messages beyond the page in the paging direction
};

// SeqRange: the events still available in a conversation's log: first..last. first is
// last + 1 when the log is empty (e.g. {1, 0} for a new conversation).
struct SeqRange {
    int64_t first = 1;
    int64_t last = 0;
};

struct EventPage {
    std::vector<ConversationEvent> events{};  // ascending seq, consecutive, no gap
    bool has_more = false;                  // events after the last one returned exist
    SeqRange range{};
};

// QueueEntry: one undelivered message in a user's store-and-forward queue.
struct QueueEntry {
    // Increasing in the order the messages were stored (so, per conversation, in seq order)
    // and never reused: a cursor for queue_for. Entries of one message share it across users.
    int64_t entry_id = 0;
    std::string user_id{};
    int64_t enqueued_at = 0;
    int64_t expires_at = 0;
    Message message{};  // current state (a tombstone if deleted meanwhile), without reactions
};

struct AckResult {
    bool deleted = false;  // false: no such entry (already acked, expired or never queued)
    // Set when deleted: whom to send message:delivered, and about what.
    std::string sender_id{};
    std::string conversation_id{};
    int64_t seq = 0;
};

// CallRecord: one 1:1 call for call history. outcome is free text from the call state
// machine: "ringing", "active", "completed", "rejected", "missed", "busy", ...
struct CallRecord {
    std::string call_id{};
    std::string caller_id{};
    std::string callee_id{};
    std::string media = "audio";  // "audio" or "video"
    int64_t started_at = 0;
    std::optional<int64_t> answered_at{};
    std::optional<int64_t> ended_at{};
    std::string outcome{};
};

class Storage {
public:
    virtual ~Storage() = default;

    // ---- batches ---------------------------------------------------------------------
    // begin_batch(): open a transaction that the following calls join. failed_precondition
    // if a batch is already open.
    virtual Status begin_batch() = 0;
    // commit_batch(): make the batch durable. On error everything in it is rolled back and
    // the batch is closed. failed_precondition when no batch is open.
    virtual Status commit_batch() = 0;
    // rollback_batch(): discard the open batch; no-op without one.
    virtual void rollback_batch() = 0;

    // ---- conversations and membership --------------------------------------------------
    // create_conversation(c): already_exists when the id is taken; c.last_seq is ignored.
    virtual Status create_conversation(const Conversation& c) = 0;
    virtual Result<Conversation> get_conversation(std::string_view id) = 0;
    // conversations_of(user): the conversations user is a member of, by id.
    virtual Result<std::vector<Conversation>> conversations_of(std::string_view user_id) = 0;
    // add_member: true if added, false if already a member. not_found for an unknown
    // conversation; failed_precondition when a direct conversation already has two members.
    virtual Result<bool> add_member(std::string_view conversation_id, std::string_view user_id,
                                    int64_t joined_at) = 0;
    // remove_member: true if removed, false if not a member. Queue entries already made for
    // the user stay until acked or expired.
    virtual Result<bool> remove_member(std::string_view conversation_id,
                                       std::string_view user_id) = 0;
    // members: by user id. not_found for an unknown conversation.
    virtual Result<std::vector<Member>> members(std::string_view conversation_id) = 0;
    // is_member: false (not an error) for an unknown conversation.
    virtual Result<bool> is_member(std::string_view conversation_id, std::string_view user_id) = 0;

    // ---- messages ----------------------------------------------------------------------
    // append_message(m): store m with a new id and the next seq, write its message_created
    // event and its queue entries, all in one transaction. The sender must be a member
    // (permission_denied; not_found for an unknown conversation). Idempotent: when an
    // earlier message has the same (conversation, sender, client_msg_id), that message is
    // returned with created == false and nothing is written (no seq, no queue entry), even
    // if content differs.
    virtual Result<Appended> append_message(const NewMessage& m) = 0;
    // get_message(id): with its reactions. not_found when unknown.
    virtual Result<Message> get_message(std::string_view message_id) = 0;
    // Edits, deletes and reactions: the message must belong to a.conversation_id
    // (not_found otherwise) and the actor must be a member (permission_denied). Storage
    // enforces the author rule (edit and delete: actor must be the sender, permission_denied),
    // because the check and the write belong in one transaction. Editing, or reacting to,
    // a deleted message is failed_precondition. Deleting clears content and reactions
    // (without reaction events) and keeps the tombstone. Emoji: 1..64 bytes.
    virtual Result<Change> edit_message(const MessageAction& a, std::string_view content) = 0;
    virtual Result<Change> delete_message(const MessageAction& a) = 0;
    // One reaction per (message, user, emoji).
    virtual Result<Change> add_reaction(const MessageAction& a, std::string_view emoji) = 0;
    virtual Result<Change> remove_reaction(const MessageAction& a, std::string_view emoji) = 0;

    // mark_read: move user's read position forward to seq (clamped to the conversation's
    // last seq); it never moves back. permission_denied for a non-member.
    virtual Result<MarkRead> mark_read(std::string_view conversation_id, std::string_view user_id,
                                       int64_t seq) = 0;
    // read_states: every member's read position and unread count, by user id.
    virtual Result<std::vector<ReadState>> read_states(std::string_view conversation_id) = 0;

    // ---- history and resume ------------------------------------------------------------
    // history(q): invalid_argument when both cursors are set or limit is 0; not_found for an
    // unknown conversation.
    virtual Result<HistoryPage> history(const HistoryQuery& q) = 0;
    // events_after(conversation, after_seq, limit): the events with seq > after_seq in
    // order, at most limit (1..kMaxEventsLimit, clamped). failed_precondition when the log
    // cannot serve it: after_seq < range.first - 1 (pruned) or after_seq > range.last; so
    // nothing is ever skipped silently. Check seq_range() first to answer recovered:false.
    virtual Result<EventPage> events_after(std::string_view conversation_id, int64_t after_seq,
                                           size_t limit) = 0;
    virtual Result<SeqRange> seq_range(std::string_view conversation_id) = 0;
    // prune_events: retention. Move the start of the log to before_seq (at most last + 1):
    // events_after no longer serves anything older. Messages stay in history and the
    // sequence continues. Returns how many seqs left the log (0 if it already started there).
    virtual Result<size_t> prune_events(std::string_view conversation_id, int64_t before_seq) = 0;

    // ---- store-and-forward queue -------------------------------------------------------
    // queue_for(user, after_entry_id, limit, now): the user's entries with entry_id >
    // after_entry_id that have not expired at now, in entry_id order (per conversation this
    // is seq order). limit 1..kMaxQueueLimit (clamped).
    virtual Result<std::vector<QueueEntry>> queue_for(std::string_view user_id,
                                                      int64_t after_entry_id, size_t limit,
                                                      int64_t now) = 0;
    // queue_depth(user): entries held for user, expired ones not yet purged included.
    virtual Result<size_t> queue_depth(std::string_view user_id) = 0;
    // ack(user, message_id): delete exactly that user's entry for that message. Idempotent:
    // a second ack returns deleted == false.
    virtual Result<AckResult> ack(std::string_view user_id, std::string_view message_id) = 0;
    // purge_expired(now, max_rows): delete up to max_rows entries with expires_at <= now;
    // returns how many. Bounded so a large purge does not hold the writer for long.
    virtual Result<size_t> purge_expired(int64_t now, size_t max_rows) = 0;

    // ---- call history ------------------------------------------------------------------
    // insert_call: already_exists for a known call_id. update_call replaces every field but
    // call_id; not_found for an unknown one.
    virtual Status insert_call(const CallRecord& call) = 0;
    virtual Status update_call(const CallRecord& call) = 0;
    virtual Result<CallRecord> get_call(std::string_view call_id) = 0;
    // calls_of(user, before_started_at, limit): calls where user is caller or callee with
    // started_at < before_started_at (0: no bound), newest first.
    virtual Result<std::vector<CallRecord>> calls_of(std::string_view user_id,
                                                     int64_t before_started_at, size_t limit) = 0;
};

}  // namespace quckrt
