// `huddle:lobby`, `huddle:{huddle_id}` and the storage-less `user:{id}` inbox. The channels
// authorize, parse and hand everything to the HuddleManager with the authenticated user as
// the actor; the manager publishes the events.
#include "huddles/huddle_channel.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

namespace quckrt::huddles {
namespace {

constexpr size_t kMaxConversationId = 128;

std::string id_from_topic(const std::string& topic) { return topic.substr(topic.find(':') + 1); }

Outcome refusal(const char* why, std::string detail = {}) {
    Outcome out;
    out.refused = why;
    out.reply = Json::object({{"reason", why}});
    if (!detail.empty()) out.reply.set("detail", detail);
    return out;
}

Reply to_reply(const Outcome& o) { return o.ok() ? Reply::ok(o.reply) : Reply::error(o.reply); }

// read_flag(payload, key, out): an optional boolean member. False when present but not a
// boolean; `out` stays empty when absent (a toggle flips).
bool read_flag(const Json& payload, std::string_view key, std::optional<bool>& out) {
    const Json* v = payload.find(key);
    if (!v || v->is_null()) return true;
    if (!v->is_bool()) return false;
    out = v->as_bool();
    return true;
}

// Seat: whether this channel holds a place in the huddle. A deferred join is admitted on
// the storage writer while the channel may already be gone (join timeout, disconnect): the
// mutex makes "admitted" and "abandoned" exclusive, so a place is never left behind.
struct Seat {
    std::mutex mu;
    bool admitted = false;
    bool abandoned = false;
};

class HuddleChannel final : public Channel {
  public:
    HuddleChannel(HuddleManager& huddles, storage::StorageQueue* membership)
        : huddles_(huddles), membership_(membership) {}

    // The place goes with the channel object: after terminate, and also for a join that
    // was admitted but never completed on the loop (the pending join was dropped).
    ~HuddleChannel() override {
        try {
            release();
        } catch (const std::exception& e) {
            spdlog::error("event=huddle_release_failed huddle={} error=\"{}\"", huddle_, e.what());
        }
    }

    JoinResult join(const Json& params, Socket& socket) override {
        huddle_ = id_from_topic(socket.topic());
        user_ = socket.user().user_id;
        conn_ = huddles_.next_connection();
        std::optional<bool> audio, video;
        if (!read_flag(params, "audio", audio) || !read_flag(params, "video", video))
            return JoinResult::error(
                Json::object({{"reason", reason::kInvalidPayload},
                              {"detail", "audio and video must be booleans"}}));
        auto conversation = huddles_.conversation_of(huddle_);
        if (!conversation) return JoinResult::error(reason::kNotFound);
        if (!membership_) {
            // Loop thread only, so the seat needs no lock here.
            Outcome o =
                huddles_.join(huddle_, user_, conn_, audio.value_or(true), video.value_or(false),
                              [this](const Outcome&) { seat_->admitted = true; });
            return o.ok() ? JoinResult::ok(o.reply) : JoinResult::error(o.reply);
        }
        JoinResponder responder = socket.join_responder();
        authorize(membership_, *conversation, user_,
                  [h = &huddles_, seat = seat_, responder, id = huddle_, user = user_, conn = conn_,
                   a = audio.value_or(true), v = video.value_or(false)](const char* refused) {
                      if (refused) {
                          responder.complete(JoinResult::error(refused));
                          return;
                      }
                      std::lock_guard lock(seat->mu);
                      if (seat->abandoned) return;
                      // Completed under the manager's lock: the join reaches the loop
                      // before any event that its snapshot does not contain.
                      Outcome o = h->join(id, user, conn, a, v, [&](const Outcome& ok) {
                          seat->admitted = true;
                          responder.complete(JoinResult::ok(ok.reply));
                      });
                      if (!o.ok()) responder.complete(JoinResult::error(o.reply));
                  });
        return JoinResult::deferred();
    }

    void after_join(Socket& socket) override {
        // phoenix.js Presence on huddle:{id}: one meta per device of each participant.
        socket.track_presence(Json::object({{"device", socket.connect_info().device}}));
    }

    // A closed connection and a duplicate join count as a disconnect (the user keeps their
    // place for the grace): the client did not choose to go. phoenix.js reconnects and
    // rejoins by itself (network loss, idle timeout, token expiry; also a crashed handler,
    // after whose phx_error phoenix.js rejoins), and a duplicate join is phoenix.js
    // rejoining on the same socket (after a join timeout): the old channel ends just
    // before the new one joins, which must restore the user, not find the huddle gone.
    // phx_leave and huddle:leave (Reply::stop) are the user's choice, and at shutdown
    // nobody can come back to this node: those leave at once.
    void terminate(TerminateReason why, Socket&) override {
        release(why == TerminateReason::closed || why == TerminateReason::duplicate_join);
    }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.is_binary) return Reply::error("binary payloads are not supported on huddle topics");
        const Json& p = m.payload;
        if (m.event == "huddle:toggle-audio") return change(p, MediaChange::Kind::audio, "enabled");
        if (m.event == "huddle:toggle-video") return change(p, MediaChange::Kind::video, "enabled");
        if (m.event == "huddle:toggle-screen")
            return change(p, MediaChange::Kind::screen, "enabled");
        if (m.event == "huddle:raise-hand") return change(p, MediaChange::Kind::hand, "raised");
        if (m.event == "huddle:message") {
            const Json* content = p.find("content");
            if (!content || !content->is_string())
                return to_reply(refusal(reason::kInvalidPayload, "content must be a string"));
            return to_reply(huddles_.message(huddle_, user_, content->as_string()));
        }
        if (m.event == "huddle:invite") {
            std::vector<std::string> ids;
            if (!parse_user_ids(p, huddles_.config().max_invitees, ids))
                return to_reply(refusal(reason::kInvalidPayload,
                                        "userIds must be an array of 1 to " +
                                            std::to_string(huddles_.config().max_invitees) +
                                            " user ids"));
            invite_checked(huddles_, membership_, huddle_, user_, std::move(ids),
                           [resp = socket.responder()](Outcome o) { resp.reply(to_reply(o)); });
            return Reply::none();
        }
        if (m.event == "huddle:state") {
            auto described = huddles_.describe(huddle_);
            return described ? Reply::ok(std::move(*described))
                             : to_reply(refusal(reason::kNotFound));
        }
        if (m.event == "huddle:leave") return Reply::stop();
        return Channel::handle_in(m, socket);
    }

  private:
    Reply change(const Json& p, MediaChange::Kind kind, std::string_view key) {
        std::optional<bool> set;
        if (!read_flag(p, key, set))
            return to_reply(
                refusal(reason::kInvalidPayload, std::string(key) + " must be a boolean"));
        return to_reply(huddles_.change(huddle_, user_, conn_, MediaChange{kind, set}));
    }

    // release(disconnected): give the place back, once. The destructor's call (a join that
    // never completed on the loop) is a plain leave: that client never saw the huddle.
    void release(bool disconnected = false) {
        bool admitted = false;
        {
            std::lock_guard lock(seat_->mu);
            seat_->abandoned = true;
            admitted = seat_->admitted;
            seat_->admitted = false;
        }
        if (!admitted) return;
        if (disconnected)
            huddles_.disconnect(huddle_, user_, conn_);
        else
            huddles_.leave(huddle_, user_, conn_);
    }

    HuddleManager& huddles_;
    storage::StorageQueue* membership_;
    std::shared_ptr<Seat> seat_ = std::make_shared<Seat>();
    std::string huddle_;
    std::string user_;
    uint64_t conn_ = 0;
};

// `huddle:lobby`: where a client starts a huddle before it has a huddle topic to join.
class LobbyChannel final : public Channel {
  public:
    LobbyChannel(HuddleManager& huddles, storage::StorageQueue* membership)
        : huddles_(huddles), membership_(membership) {}

    JoinResult join(const Json&, Socket&) override { return JoinResult::ok(); }

    Reply handle_in(const InMessage& m, Socket& socket) override {
        if (m.is_binary || m.event != "huddle:create") return Channel::handle_in(m, socket);
        const Json* conv = m.payload.find("conversationId");
        if (!conv || !conv->is_string())
            return to_reply(refusal(reason::kInvalidPayload, "conversationId must be a string"));
        create_checked(huddles_, membership_, conv->as_string(), socket.user().user_id, "",
                       [resp = socket.responder()](Outcome o) { resp.reply(to_reply(o)); });
        return Reply::none();
    }

  private:
    HuddleManager& huddles_;
    storage::StorageQueue* membership_;
};

// `user:{id}` on a server without storage: the invitee's inbox for huddle:invite.
class InviteInbox final : public Channel {
  public:
    JoinResult join(const Json&, Socket& socket) override {
        if (id_from_topic(socket.topic()) != socket.user().user_id)
            return JoinResult::error("forbidden");
        return JoinResult::ok();
    }
};

}  // namespace

bool parse_user_ids(const Json& payload, size_t max, std::vector<std::string>& out) {
    const Json* ids = payload.find("userIds");
    if (!ids || !ids->is_array() || ids->size() == 0 || ids->size() > max) return false;
    for (const Json& id : ids->as_array()) {
        if (!id.is_string() || id.as_string().empty() || id.as_string().size() > 256) return false;
        out.push_back(id.as_string());
    }
    return true;
}

void authorize(storage::StorageQueue* membership, const std::string& conversation_id,
               const std::string& user, std::function<void(const char* refused)> then) {
    if (!membership) return then(nullptr);
    Status st = membership->submit(
        [conversation_id, user](Storage& s) -> Result<bool> {
            if (!user.empty()) return s.is_member(conversation_id, user);
            auto conversation = s.get_conversation(conversation_id);
            if (conversation) return true;
            if (conversation.error().code() == StatusCode::not_found) return false;
            return conversation.error();
        },
        [then, admin = user.empty(), conversation_id](Result<bool> r) {
            if (!r) {
                spdlog::warn("event=huddle_membership_failed conversation={} error=\"{}\"",
                             conversation_id, r.error().to_string());
                return then(reason::kUnavailable);
            }
            then(*r ? nullptr : admin ? reason::kNotFound : reason::kNotMember);
        });
    if (!st.ok()) then(reason::kUnavailable);
}

void create_checked(HuddleManager& huddles, storage::StorageQueue* membership,
                    const std::string& conversation_id, const std::string& user,
                    const std::string& created_by, Done done) {
    if (conversation_id.empty() || conversation_id.size() > kMaxConversationId)
        return done(refusal(reason::kInvalidPayload, "conversationId must be 1 to 128 bytes"));
    authorize(membership, conversation_id, user,
              [&huddles, conversation_id, creator = user.empty() ? created_by : user,
               done](const char* refused) {
                  if (refused) return done(refusal(refused));
                  done(huddles.create(conversation_id, creator));
              });
}

void invite_checked(HuddleManager& huddles, storage::StorageQueue* membership,
                    const std::string& huddle_id, const std::string& actor,
                    std::vector<std::string> user_ids, Done done) {
    auto conversation = huddles.conversation_of(huddle_id);
    if (!conversation) return done(refusal(reason::kNotFound));
    if (!actor.empty() && !huddles.is_participant(huddle_id, actor))
        return done(refusal(reason::kNotParticipant));
    if (!membership) return done(huddles.invite(huddle_id, actor, user_ids));
    Status st = membership->submit(
        [c = *conversation](Storage& s) { return s.members(c); },
        [&huddles, huddle_id, actor, user_ids, done](Result<std::vector<Member>> r) {
            if (!r) return done(refusal(reason::kUnavailable));
            std::vector<std::string> members;
            Json skipped = Json::array();
            for (const std::string& u : user_ids) {
                bool member = false;
                for (const Member& m : *r) member = member || m.user_id == u;
                if (member)
                    members.push_back(u);
                else
                    skipped.push_back(
                        Json::object({{"userId", u}, {"reason", reason::kNotMember}}));
            }
            if (members.empty()) {
                Outcome out;
                out.reply = Json::object(
                    {{"huddleId", huddle_id}, {"invited", Json::array()}, {"skipped", skipped}});
                return done(std::move(out));
            }
            Outcome out = huddles.invite(huddle_id, actor, members);
            if (out.ok())
                for (const Json& s : skipped.as_array()) out.reply.find("skipped")->push_back(s);
            done(std::move(out));
        });
    if (!st.ok()) done(refusal(reason::kUnavailable));
}

std::unique_ptr<HuddleManager> make_server_huddles(const ServerOptions& options,
                                                   Publisher publish) {
    static const core::SystemClock kClock;
    HuddleConfig config{
        .max_participants = static_cast<size_t>(options.huddle_max_participants),
        .empty_timeout_ms = options.huddle_empty_timeout.count(),
        .grace_ms = options.huddle_grace.count(),
        .rate_per_second = options.send_rate_per_second,
        .rate_burst = options.send_burst,
    };
    spdlog::info("event=huddles max_participants={} empty_timeout_ms={} grace_ms={}",
                 config.max_participants, config.empty_timeout_ms, config.grace_ms);
    return std::make_unique<HuddleManager>(config, kClock, std::move(publish));
}

ChannelFactory make_huddle_channel_factory(HuddleManager& huddles,
                                           storage::StorageQueue* membership) {
    return [&huddles, membership] { return std::make_unique<HuddleChannel>(huddles, membership); };
}

ChannelFactory make_lobby_channel_factory(HuddleManager& huddles,
                                          storage::StorageQueue* membership) {
    return [&huddles, membership] { return std::make_unique<LobbyChannel>(huddles, membership); };
}

ChannelFactory make_invite_inbox_factory() {
    return [] { return std::make_unique<InviteInbox>(); };
}

}  // namespace quckrt::huddles
