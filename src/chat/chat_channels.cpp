// The persisted `chat:{conversation_id}` and `user:{user_id}` channels (server with storage).
//
// Every storage call goes through the ChatService's StorageQueue: the handler answers
// Reply::none() (or JoinResult::deferred()) and the completion, on the writer thread,
// replies through a Responder and broadcasts through the ChatService. Broadcasts and the
// reply are posted in that order, so a sender sees its message:new before its reply.
#include <spdlog/spdlog.h>

#include <atomic>
#include <set>

#include "channels/chat_payload.hpp"
#include "chat/chat_service.hpp"
#include "core/ids.hpp"

namespace quckrt::chat {
namespace {

std::string id_from_topic(const std::string& topic) { return topic.substr(topic.find(':') + 1); }

// error_reply(status): what the client sees for a storage outcome.
Reply error_reply(const Status& st) {
    switch (st.code()) {
        case StatusCode::permission_denied:
            return Reply::error(Json::object({{"reason", "forbidden"}, {"detail", st.message()}}));
        case StatusCode::not_found:
            return Reply::error(Json::object({{"reason", "not found"}, {"detail", st.message()}}));
        case StatusCode::invalid_argument:
        case StatusCode::failed_precondition:
            return Reply::error(Json::object({{"reason", "invalid"}, {"detail", st.message()}}));
        case StatusCode::resource_exhausted:
        case StatusCode::unavailable:
            return Reply::error(Json::object({{"reason", "unavailable"}, {"retryAfterMs", 1000}}));
        default:
            return Reply::error("internal error");
    }
}

// busy(): the storage queue refused the operation (full or stopping).
Reply busy(const Status& st) {
    spdlog::warn("event=storage_refused error=\"{}\"", st.to_string());
    return Reply::error(Json::object({{"reason", "unavailable"}, {"retryAfterMs", 1000}}));
}

std::optional<std::string> opt_string(const Json& p, std::string_view key) {
    const Json* v = p.find(key);
    if (!v || !v->is_string()) return std::nullopt;
    return v->as_string();
}

// JoinFacts: what the join's storage read learned.
struct JoinFacts {
    Conversation conversation;
    std::optional<ResumeDecision> resume;  // set when the client sent last_seq
};

// Output queued on a chat channel's connection below which the next replay page is read.
constexpr size_t kReplayLowWater = 64 * 1024;

// fail_replay: the log could not serve the replay (a storage failure, or the window moved
// under it). phx_error makes phoenix.js rejoin (with its last_seq), so the client gets a
// fresh attempt instead of a gap; the held frames stay held until that rejoin replaces
// this channel.
void fail_replay(Socket& socket, int64_t after, const Status& st) {
    spdlog::warn("event=replay_failed topic={} after_seq={} error=\"{}\"", socket.topic(), after,
                 st.to_string());
    socket.push("phx_error", Json::object({{"reason", "resume failed"}}));
}

// replay_page: read the events after `after`, push them on the channel's loop in order, and
// go on (after the client has taken most of the page: flow control) until a page says
// there is nothing more. Then the live frames held since the subscription began are
// released, minus the ones this replay already carried (by seq). Storage serves a read
// after every write submitted before it, and every write committed after the read is
// broadcast after it, to a subscription that already existed: so held + replayed covers
// every event after `after` with no gap, and the seq filter removes the overlap.
void replay_page(ChatService* svc, Socket& socket, std::string conversation, int64_t after) {
    const size_t page = svc->options().replay_page;
    ChannelRef ref = socket.self();
    Status st = svc->queue().submit(
        [conversation, after, page](Storage& s) {
            return s.events_after(conversation, after, page);
        },
        [svc, conversation, ref, after](Result<EventPage> r) {
            auto result = std::make_shared<Result<EventPage>>(std::move(r));
            ref.post([svc, conversation, after, result](Socket& socket) {
                const Result<EventPage>& r = *result;
                if (!r) return fail_replay(socket, after, r.error());
                int64_t cursor = after;
                for (const ConversationEvent& e : r->events) {
                    auto [name, payload] = event_wire(e);
                    socket.push(name, payload);
                    cursor = e.seq;
                }
                if (!r->has_more) {
                    socket.release_broadcasts([cursor](std::string_view event, const Json& p) {
                        return already_replayed(event, p, cursor);
                    });
                    return;
                }
                socket.when_queued_below(kReplayLowWater, [svc, conversation, cursor](Socket& s) {
                    replay_page(svc, s, conversation, cursor);
                });
            });
        });
    if (!st.ok()) fail_replay(socket, after, st);
}

struct SendOutcome {
    Appended appended;
    std::vector<std::string> queued_for;
};

class PersistedChatChannel final : public Channel {
public:
    explicit PersistedChatChannel(ChatService& svc) : svc_(svc) {}

    JoinResult join(const Json& params, Socket& socket) override {
        conversation_ = id_from_topic(socket.topic());
        user_ = socket.user().user_id;
        track_presence_ = params.get_bool("presence", true);
        if (conversation_.empty()) return JoinResult::error("invalid conversation id");
        std::optional<int64_t> resume_after;
        if (const Json* last = params.find("last_seq"); last && !last->is_null()) {
            if (!last->is_integer() || last->as_int() < 0)
                return JoinResult::error("last_seq must be a non-negative integer");
            resume_after = last->as_int();
        }
        JoinResponder responder = socket.join_responder();
        Status st = svc_.queue().submit(
            [c = conversation_, u = user_, resume_after,
             window = svc_.options().resume](Storage& s) -> Result<JoinFacts> {
                auto member = s.is_member(c, u);
                if (!member) return member.error();
                if (!*member) return permission_denied("not a member of this conversation");
                auto conv = s.get_conversation(c);
                if (!conv) return conv.error();
                JoinFacts facts{std::move(*conv), std::nullopt};
                if (!resume_after) return facts;
                auto range = s.seq_range(c);
                if (!range) return range.error();
                facts.resume = decide_resume(*resume_after, *range, window, unix_ms(),
                                             [&s, &c](int64_t seq) -> int64_t {
                                                 auto page = s.events_after(c, seq - 1, 1);
                                                 if (!page || page->events.empty())
                                                     return INT64_MAX;  // treat as young
                                                 return page->events.front().created_at;
                                             });
                return facts;
            },
            [recovered = recovered_, responder](Result<JoinFacts> r) {
                if (!r) {
                    responder.complete(JoinResult::error(
                        r.error().code() == StatusCode::permission_denied ? "not a member"
                                                                          : "unavailable"));
                    return;
                }
                Json response = Json::object({{"lastSeq", r->conversation.last_seq}});
                if (const auto& d = r->resume) {
                    response.set("recovered", d->recovered);
                    // Read by after_join on the loop; the join completion posted below
                    // orders this write before that read.
                    *recovered = d->recovered;
                    if (d->recovered) {
                        response.set("from_seq", d->from_seq);
                        response.set("to_seq", d->to_seq);
                    } else {
                        response.set("reason", d->reason);
                        response.set("first_seq", d->first_seq);
                        response.set("last_seq", d->last_seq);
                    }
                }
                responder.complete(JoinResult::ok(std::move(response)));
            });
        if (!st.ok()) return JoinResult::error("unavailable");
        // The replay starts after the join is answered; what it covers is decided again
        // then (from resume_after), so nothing committed in between is missed.
        resume_after_ = resume_after;
        return JoinResult::deferred();
    }

    void after_join(Socket& socket) override {
        joined_ = true;
        svc_.joined(conversation_, user_);
        if (track_presence_)
            socket.track_presence(
                channels::presence_meta(socket.connect_info(), core::iso8601_utc(unix_ms())),
                /*announce_online=*/true);
        if (resume_after_ && *recovered_) start_replay(socket, *resume_after_);
    }

    void terminate(TerminateReason, Socket&) override {
        if (joined_) svc_.left(conversation_, user_);
        joined_ = false;
    }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.is_binary) return Reply::error("binary payloads are not supported on chat topics");
        const Json& p = m.payload;
        if (m.event == "message:send") return send(p, socket);
        if (m.event == "message:edit") return edit(p, socket);
        if (m.event == "message:delete") return change(p, socket, Kind::remove, "");
        if (m.event == "message:reaction:add") return reaction(p, socket, Kind::react_add);
        if (m.event == "message:reaction:remove") return reaction(p, socket, Kind::react_remove);
        if (m.event == "message:read") return read(p, socket);
        if (m.event == "history") return history(p, socket);
        if (m.event == "typing:start" || m.event == "typing:stop") {
            const bool typing = m.event == "typing:start";
            svc_.typing(conversation_, user_, typing, unix_ms());
            socket.broadcast_from("typing", Json::object({{"conversationId", conversation_},
                                                           {"userId", user_},
                                                           {"isTyping", typing}}));
            return Reply::ok();
        }
        return Channel::handle_in(m, socket);
    }

private:
    enum class Kind { edit, remove, react_add, react_remove };

    Reply send(const Json& p, Socket& socket) {
        channels::ParsedSend parsed = channels::parse_send(p, svc_.options().max_content_bytes);
        if (!parsed.request) return parsed.error;
        channels::SendRequest& r = *parsed.request;

        const int64_t now = unix_ms();
        if (const int64_t wait = svc_.rate_check(user_, now); wait > 0)
            return Reply::error(Json::object({{"reason", "rate_limited"}, {"retryAfterMs", wait}}));

        NewMessage msg{.conversation_id = conversation_,
                       .sender_id = user_,
                       .content = std::move(r.content),
                       .type = std::move(r.type),
                       .client_msg_id = std::move(r.client_msg_id),
                       .created_at = now};
        const int64_t expires = now + svc_.options().queue_ttl.count();
        ChatService* svc = &svc_;
        Status st = svc_.queue().submit(
            [msg = std::move(msg), svc, expires](Storage& s) mutable -> Result<SendOutcome> {
                // Everyone who is a member but not joined to the conversation right now gets
                // a store-and-forward entry, in the same transaction as the message.
                auto members = s.members(msg.conversation_id);
                if (!members) return members.error();
                std::vector<std::string> joined = svc->joined_users(msg.conversation_id);
                std::set<std::string> live(joined.begin(), joined.end());
                for (const Member& m : *members)
                    if (m.user_id != msg.sender_id && !live.contains(m.user_id))
                        msg.queue_for.push_back(m.user_id);
                msg.queue_expires_at = expires;
                auto appended = s.append_message(msg);
                if (!appended) return appended.error();
                SendOutcome out{std::move(*appended), {}};
                if (out.appended.created) out.queued_for = std::move(msg.queue_for);
                return out;
            },
            [svc, topic = socket.topic(), resp = socket.responder()](Result<SendOutcome> r) {
                if (!r) {
                    resp.reply(error_reply(r.error()));
                    return;
                }
                Json message = message_json(r->appended.message);
                if (r->appended.created) {
                    svc->broadcast()(topic, "message:new", message);
                    svc->deliver_live(r->queued_for, r->appended.message);
                }
                resp.reply(Reply::ok(std::move(message)));
            });
        return st.ok() ? Reply::none() : busy(st);
    }

    Reply edit(const Json& p, Socket& socket) {
        auto content = opt_string(p, "content");
        if (!content || content->empty() || content->size() > svc_.options().max_content_bytes)
            return Reply::error("content must be a non-empty string within the size limit");
        return change(p, socket, Kind::edit, *content);
    }

    Reply reaction(const Json& p, Socket& socket, Kind kind) {
        auto emoji = opt_string(p, "emoji");
        if (!emoji || emoji->empty() || emoji->size() > 64)
            return Reply::error("emoji must be a string of 1 to 64 bytes");
        return change(p, socket, kind, *emoji);
    }

    // change: edit, delete and reactions share one shape: a storage Change, broadcast as an
    // event when something changed, reply with the message.
    Reply change(const Json& p, Socket& socket, Kind kind, std::string arg) {
        auto message_id = opt_string(p, "messageId");
        if (!message_id || message_id->empty()) return Reply::error("messageId is required");
        MessageAction action{conversation_, *message_id, user_, unix_ms()};
        ChatService* svc = &svc_;
        Status st = svc_.queue().submit(
            [action, kind, arg](Storage& s) -> Result<Change> {
                switch (kind) {
                    case Kind::edit: return s.edit_message(action, arg);
                    case Kind::remove: return s.delete_message(action);
                    case Kind::react_add: return s.add_reaction(action, arg);
                    case Kind::react_remove: return s.remove_reaction(action, arg);
                }
                return internal_error("unknown change");
            },
            [svc, kind, arg, topic = socket.topic(), user = user_,
             resp = socket.responder()](Result<Change> r) {
                if (!r) {
                    resp.reply(error_reply(r.error()));
                    return;
                }
                const Message& m = r->message;
                if (r->event) {
                    Json event = Json::object({{"messageId", m.id},
                                               {"conversationId", m.conversation_id},
                                               {"seq", r->event->seq},
                                               {"userId", user}});
                    const char* name = "message:edited";
                    switch (kind) {
                        case Kind::edit:
                            event.set("content", m.content);
                            if (m.edited_at) event.set("editedAt", core::iso8601_utc(*m.edited_at));
                            break;
                        case Kind::remove: name = "message:deleted"; break;
                        case Kind::react_add:
                            name = "message:reaction:added";
                            event.set("emoji", arg);
                            break;
                        case Kind::react_remove:
                            name = "message:reaction:removed";
                            event.set("emoji", arg);
                            break;
                    }
                    svc->broadcast()(topic, name, event);
                }
                resp.reply(Reply::ok(message_json(m)));
            });
        return st.ok() ? Reply::none() : busy(st);
    }

    Reply read(const Json& p, Socket& socket) {
        const Json* seq = p.find("seq");
        if (!seq || !seq->is_integer() || seq->as_int() < 0)
            return Reply::error("seq must be a non-negative integer");
        ChatService* svc = &svc_;
        Status st = svc_.queue().submit(
            [c = conversation_, u = user_, n = seq->as_int()](Storage& s) {
                return s.mark_read(c, u, n);
            },
            [svc, topic = socket.topic(), c = conversation_, u = user_,
             resp = socket.responder()](Result<MarkRead> r) {
                if (!r) {
                    resp.reply(error_reply(r.error()));
                    return;
                }
                if (r->changed)
                    svc->broadcast()(topic, "message:read",
                                     Json::object({{"conversationId", c},
                                                   {"userId", u},
                                                   {"lastReadSeq", r->state.last_read_seq}}));
                resp.reply(Reply::ok(Json::object({{"lastReadSeq", r->state.last_read_seq},
                                                   {"unread", r->state.unread}})));
            });
        return st.ok() ? Reply::none() : busy(st);
    }

    Reply history(const Json& p, Socket& socket) {
        HistoryQuery q{.conversation_id = conversation_};
        const Json* before = p.find("beforeSeq");
        const Json* after = p.find("afterSeq");
        const Json* limit = p.find("limit");
        if ((before && !before->is_integer()) || (after && !after->is_integer()) ||
            (limit && (!limit->is_integer() || limit->as_int() < 1)))
            return Reply::error("beforeSeq, afterSeq and limit must be integers (limit >= 1)");
        if (before && after) return Reply::error("give beforeSeq or afterSeq, not both");
        if (before) q.before_seq = before->as_int();
        if (after) q.after_seq = after->as_int();
        if (limit) q.limit = static_cast<size_t>(std::min<int64_t>(limit->as_int(), kMaxHistoryLimit));
        Status st = svc_.queue().submit(
            [q](Storage& s) { return s.history(q); },
            [resp = socket.responder()](Result<HistoryPage> r) {
                if (!r) {
                    resp.reply(error_reply(r.error()));
                    return;
                }
                Json messages = Json::array();
                for (const auto& m : r->messages) messages.push_back(message_json(m));
                resp.reply(Reply::ok(
                    Json::object({{"messages", std::move(messages)}, {"hasMore", r->has_more}})));
            });
        return st.ok() ? Reply::none() : busy(st);
    }

    void start_replay(Socket& socket, int64_t after) {
        // Hold from the moment the subscription exists (this runs in the same loop task
        // as the subscribe): every live event from here on waits behind the replay.
        socket.hold_broadcasts();
        replay_page(&svc_, socket, conversation_, after);
    }

    ChatService& svc_;
    std::string conversation_;
    std::string user_;
    bool track_presence_ = true;
    bool joined_ = false;
    std::optional<int64_t> resume_after_;
    std::shared_ptr<bool> recovered_ = std::make_shared<bool>(false);
};

std::atomic<uint64_t> g_user_channel_tokens{0};

// Output queued on a user channel's connection below which the next backlog page is read.
constexpr size_t kBacklogLowWater = 64 * 1024;

// fetch_page: read the next backlog page after what the inbox has delivered, hand it to the
// inbox on the channel's loop, and continue until a short page ends the drain.
void fetch_page(ChatService* svc, std::string user, std::shared_ptr<UserInbox> inbox,
                ChannelRef ref, int64_t after) {
    const size_t page = svc->options().backlog_page;
    Status st = svc->queue().submit(
        [user, after, page](Storage& s) { return s.queue_for(user, after, page, unix_ms()); },
        [svc, user, inbox, ref, page](Result<std::vector<QueueEntry>> r) {
            if (!r) {
                spdlog::warn("event=backlog_read_failed user={} error=\"{}\"", user,
                             r.error().to_string());
                return;
            }
            const bool last = r->size() < page;
            auto entries = std::make_shared<std::vector<QueueEntry>>(std::move(*r));
            ref.post([svc, user, inbox, ref, entries, last](Socket& socket) {
                inbox->on_page(*entries, last, socket);
                if (last) return;
                // Flow control: the next page is read only once the client has taken most
                // of this one, so a huge backlog never piles up in the output queue (and
                // never trips the slow-consumer limit).
                socket.when_queued_below(kBacklogLowWater, [svc, user, inbox, ref](Socket&) {
                    fetch_page(svc, user, inbox, ref, inbox->last_entry_id());
                });
            });
        });
    if (!st.ok()) spdlog::warn("event=backlog_refused user={} error=\"{}\"", user, st.to_string());
}

class UserChannel final : public Channel {
public:
    explicit UserChannel(ChatService& svc) : svc_(svc) {}

    JoinResult join(const Json&, Socket& socket) override {
        if (id_from_topic(socket.topic()) != socket.user().user_id)
            return JoinResult::error("forbidden");
        return JoinResult::ok();
    }

    void after_join(Socket& socket) override {
        user_ = socket.user().user_id;
        inbox_ = std::make_shared<UserInbox>();
        token_ = ++g_user_channel_tokens;
        ChannelRef ref = socket.self();
        // Register first: a message queued from now on is delivered live (held until the
        // backlog is through); one queued before is in the backlog read submitted next.
        svc_.register_user_channel(user_, ref, inbox_, token_);
        fetch_page(&svc_, user_, inbox_, ref, 0);
    }

    void terminate(TerminateReason, Socket&) override {
        if (token_) svc_.unregister_user_channel(user_, token_);
        token_ = 0;
    }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.event != "message:ack") return Channel::handle_in(m, socket);
        auto message_id = opt_string(m.payload, "messageId");
        if (!message_id || message_id->empty()) return Reply::error("messageId is required");
        ChatService* svc = &svc_;
        Status st = svc_.queue().submit(
            [u = user_, id = *message_id](Storage& s) { return s.ack(u, id); },
            [svc, u = user_, id = *message_id, resp = socket.responder()](Result<AckResult> r) {
                if (!r) {
                    resp.reply(error_reply(r.error()));
                    return;
                }
                if (r->deleted)
                    svc->broadcast()("user:" + r->sender_id, "message:delivered",
                                     Json::object({{"messageId", id},
                                                   {"conversationId", r->conversation_id},
                                                   {"seq", r->seq},
                                                   {"userId", u}}));
                resp.reply(Reply::ok(Json::object({{"deleted", r->deleted}})));
            });
        return st.ok() ? Reply::none() : busy(st);
    }

private:
    ChatService& svc_;
    std::string user_;
    std::shared_ptr<UserInbox> inbox_;
    uint64_t token_ = 0;
};

}  // namespace

ChannelFactory make_chat_channel_factory(ChatService& service) {
    return [&service] { return std::make_unique<PersistedChatChannel>(service); };
}

ChannelFactory make_user_channel_factory(ChatService& service) {
    return [&service] { return std::make_unique<UserChannel>(service); };
}

}  // namespace quckrt::chat
