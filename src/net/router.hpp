// Router: topic -> channel factory. A pattern is an exact topic or a prefix ending in '*'
// (Phoenix's `channel "room:*"`). First registration that matches wins. Filled before the
// server starts and read-only afterwards, so loops share it without a lock.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <quckrt/channel.hpp>

namespace quckrt::net {

class Router {
public:
    void add(std::string pattern, ChannelFactory factory) {
        routes_.emplace_back(std::move(pattern), std::move(factory));
    }

    // match(topic): the factory for topic, or nullptr.
    const ChannelFactory* match(std::string_view topic) const {
        for (const auto& [pattern, factory] : routes_) {
            if (!pattern.empty() && pattern.back() == '*') {
                std::string_view prefix(pattern.data(), pattern.size() - 1);
                if (topic.size() > prefix.size() && topic.starts_with(prefix)) return &factory;
            } else if (topic == pattern) {
                return &factory;
            }
        }
        return nullptr;
    }

private:
    std::vector<std::pair<std::string, ChannelFactory>> routes_;
};

}  // namespace quckrt::net
