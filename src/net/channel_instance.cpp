#include "net/channel_instance.hpp"

#include <spdlog/spdlog.h>

#include "net/connection.hpp"
#include "net/loop.hpp"
#include "net/responder_target.hpp"
#include "net/server_impl.hpp"
#include "wire/phoenix_v2.hpp"

namespace quckrt::net {

ChannelInstance::ChannelInstance(Connection& conn, std::string topic, std::string join_ref,
                                 std::unique_ptr<Channel> channel)
    : conn_(conn),
      topic_(std::move(topic)),
      join_ref_(std::move(join_ref)),
      channel_(std::move(channel)) {
    subscription_.sink = &conn_;
}

const Claims& ChannelInstance::user() const { return conn_.claims(); }
const ConnectInfo& ChannelInstance::connect_info() const { return conn_.connect_info(); }

void ChannelInstance::track_presence(const Json& meta, bool announce_online) {
    if (presence_owner_) return;
    NodePresence& presence = conn_.loop().server().presence();
    const uint64_t owner = presence.new_owner();
    Json state = presence.track(owner, topic_, user().user_id, meta.is_object() ? meta : Json::object(),
                                announce_online);
    if (state.is_null()) return;
    presence_owner_ = owner;
    // phoenix.js Presence needs a state for every (re)join before it applies diffs.
    push("presence_state", state);
}

void ChannelInstance::update_presence(const Json& meta) {
    if (!presence_owner_) return;
    conn_.loop().server().presence().update(presence_owner_,
                                            meta.is_object() ? meta : Json::object());
}

void ChannelInstance::untrack_presence() {
    if (!presence_owner_) return;
    conn_.loop().server().presence().untrack(presence_owner_);
    presence_owner_ = 0;
}

bool ChannelInstance::valid_payload(const Json& payload, std::string_view what) const {
    if (payload.is_object()) return true;
    conn_.loop().server().report(invalid_argument(std::string(what) + " on " + topic_ +
                                                  ": payload must be a JSON object; dropped"));
    return false;
}

void ChannelInstance::push(std::string_view event, const Json& payload) {
    if (!valid_payload(payload, "push")) return;
    conn_.send(wire::encode_push(join_ref_, topic_, event, payload));
}

void ChannelInstance::broadcast(std::string_view event, const Json& payload) {
    broadcast_to(topic_, event, payload);
}

void ChannelInstance::broadcast_from(std::string_view event, const Json& payload) {
    if (!valid_payload(payload, "broadcast_from")) return;
    auto frame = wire::make_text_frame(wire::encode_broadcast(topic_, event, payload));
    conn_.loop().server().publish(&conn_.loop(), topic_, frame, &subscription_);
}

void ChannelInstance::broadcast_to(std::string_view topic, std::string_view event,
                                   const Json& payload) {
    if (!valid_payload(payload, "broadcast")) return;
    auto frame = wire::make_text_frame(wire::encode_broadcast(topic, event, payload));
    conn_.loop().server().publish(&conn_.loop(), topic, frame, nullptr);
}

InstanceAddress ChannelInstance::address() const {
    return InstanceAddress{conn_.loop().queue_handle(), &conn_.loop(), conn_.id(), topic_,
                           join_ref_};
}

Responder ChannelInstance::responder() {
    if (!current_ref_) return Responder();
    if (!current_target_) {
        auto target = std::make_shared<Responder::Target>();
        target->at = address();
        target->ref = *current_ref_;
        current_target_ = std::move(target);
    }
    return ResponderAccess::make(current_target_);
}

JoinResponder ChannelInstance::join_responder() {
    if (!in_join_) return JoinResponder();
    if (!join_target_) {
        join_target_ = std::make_shared<JoinResponder::Target>();
        join_target_->at = address();
    }
    return ResponderAccess::make(join_target_);
}

size_t ChannelInstance::queued_bytes() const { return conn_.queued_bytes(); }

void ChannelInstance::when_queued_below(size_t bytes, std::function<void(Socket&)> fn) {
    conn_.when_queued_below(topic_, join_ref_, bytes, std::move(fn));
}

void ChannelInstance::hold_broadcasts() {
    if (hold_) return;
    hold_ = std::make_unique<HoldSink>(*this);
    subscription_.sink = hold_.get();
}

void ChannelInstance::HoldSink::deliver(const wire::FramePtr& frame) {
    Connection& conn = owner_.conn_;
    if (conn.closing()) return;
    const size_t limit = conn.loop().server().options().max_queued_bytes;
    if (bytes + frame->bytes.size() + conn.queued_bytes() > limit) {
        // The catch-up is not keeping up with the topic; the client resumes again after
        // reconnecting, so dropping what is held loses nothing it cannot get back.
        spdlog::warn("event=slow_consumer conn={} topic={} held_bytes={}", conn.id(),
                     owner_.topic_, bytes);
        frames.clear();
        bytes = 0;
        conn.close(CloseCode::try_again_later, "slow consumer");
        return;
    }
    bytes += frame->bytes.size();
    frames.push_back(frame);
}

void ChannelInstance::release_broadcasts(const HeldFilter& skip) {
    if (!hold_) return;
    std::unique_ptr<HoldSink> hold = std::move(hold_);
    subscription_.sink = &conn_;
    for (const wire::FramePtr& frame : hold->frames) {
        if (skip && !frame->binary) {
            auto in = wire::decode_text(frame->bytes);
            if (in && skip(in->event, in->payload)) continue;
        }
        conn_.deliver(frame);
    }
}

ChannelRef ChannelInstance::self() {
    auto target = std::make_shared<ChannelRef::Target>();
    target->at = address();
    return ResponderAccess::make(std::move(target));
}

bool ChannelInstance::claim_sync_reply() {
    return !current_target_ || !current_target_->used.exchange(true);
}

}  // namespace quckrt::net

namespace quckrt {

bool Responder::reply(Reply r) const {
    if (!target_ || r.kind() != Reply::Kind::reply) return false;
    if (target_->used.exchange(true)) return false;
    auto queue = target_->at.queue.lock();
    if (!queue) return false;
    std::shared_ptr<Target> target = target_;
    return queue->post([target, r = std::move(r)] {
        const InstanceAddress& at = target->at;
        net::Connection* conn = at.loop->find_connection(at.connection_id);
        if (conn) conn->late_reply(at.topic, at.join_ref, target->ref, r);
    });
}

bool JoinResponder::complete(JoinResult result) const {
    if (!target_ || result.is_deferred()) return false;
    if (target_->used.exchange(true)) return false;
    auto queue = target_->at.queue.lock();
    if (!queue) return false;
    std::shared_ptr<Target> target = target_;
    return queue->post([target, result = std::move(result)]() mutable {
        const InstanceAddress& at = target->at;
        net::Connection* conn = at.loop->find_connection(at.connection_id);
        if (conn) conn->complete_join(at.topic, at.join_ref, std::move(result));
    });
}

bool ChannelRef::post(std::function<void(Socket&)> fn) const {
    if (!target_ || !fn) return false;
    auto queue = target_->at.queue.lock();
    if (!queue) return false;
    std::shared_ptr<Target> target = target_;
    return queue->post([target, fn = std::move(fn)] {
        const InstanceAddress& at = target->at;
        net::Connection* conn = at.loop->find_connection(at.connection_id);
        if (!conn) return;
        net::ChannelInstance* ch = conn->find_channel(at.topic);
        if (!ch || ch->join_ref() != at.join_ref) return;  // that join is over
        conn->run_guarded("posted task", [&] { fn(*ch); });
    });
}

Reply Channel::handle_in(const InMessage&, Socket&) { return Reply::error("unknown event"); }

}  // namespace quckrt
