// ChannelInstance: one join of one topic on one connection; the Socket a host Channel sees.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <quckrt/channel.hpp>

#include "core/hub.hpp"
#include "net/responder_target.hpp"

namespace quckrt::net {

class Connection;

class ChannelInstance final : public Socket {
public:
    ChannelInstance(Connection& conn, std::string topic, std::string join_ref,
                    std::unique_ptr<Channel> channel);

    const std::string& topic() const override { return topic_; }
    const Claims& user() const override;
    const ConnectInfo& connect_info() const override;
    void track_presence(const Json& meta, bool announce_online) override;
    void update_presence(const Json& meta) override;
    void untrack_presence() override;
    void push(std::string_view event, const Json& payload) override;
    void broadcast(std::string_view event, const Json& payload) override;
    void broadcast_from(std::string_view event, const Json& payload) override;
    void broadcast_to(std::string_view topic, std::string_view event,
                      const Json& payload) override;
    Responder responder() override;
    JoinResponder join_responder() override;
    ChannelRef self() override;
    size_t queued_bytes() const override;
    void when_queued_below(size_t bytes, std::function<void(Socket&)> fn) override;
    void hold_broadcasts() override;
    void release_broadcasts(const HeldFilter& skip) override;

    // Set around Channel::join so join_responder() works only there.
    void set_in_join(bool in_join) { in_join_ = in_join; }
    std::shared_ptr<JoinResponder::Target> join_target() const { return join_target_; }

    const std::string& join_ref() const { return join_ref_; }
    Channel& channel() { return *channel_; }
    core::Subscription& subscription() { return subscription_; }

    // The push being handled (set around handle_in), for responder().
    void begin_message(const std::string* ref) { current_ref_ = ref; current_target_.reset(); }
    // end_message: returns true when the synchronous reply may be sent (no Responder has
    // answered first).
    bool claim_sync_reply();
    void end_message() { current_ref_ = nullptr; current_target_.reset(); }

private:
    // HoldSink: where the subscription's frames go while broadcasts are held.
    class HoldSink final : public core::FrameSink {
    public:
        explicit HoldSink(ChannelInstance& owner) : owner_(owner) {}
        void deliver(const wire::FramePtr& frame) override;
        std::vector<wire::FramePtr> frames;
        size_t bytes = 0;

    private:
        ChannelInstance& owner_;
    };

    bool valid_payload(const Json& payload, std::string_view what) const;

    Connection& conn_;
    std::string topic_;
    std::string join_ref_;
    std::unique_ptr<Channel> channel_;
    core::Subscription subscription_;
    std::unique_ptr<HoldSink> hold_;  // set while broadcasts are held
    uint64_t presence_owner_ = 0;  // non-zero while tracked
    const std::string* current_ref_ = nullptr;
    std::shared_ptr<Responder::Target> current_target_;
    bool in_join_ = false;
    std::shared_ptr<JoinResponder::Target> join_target_;

    InstanceAddress address() const;
};

}  // namespace quckrt::net
