// An encoded outgoing message, shared by every connection it is queued to. A broadcast is
// encoded once into one Frame and the same bytes go to every subscriber (Phoenix's
// fastlane); connections hold it by reference count, never by copy.
#pragma once

#include <memory>
#include <string>

namespace quckrt::wire {

struct Frame {
    std::string bytes;    // the WebSocket message payload (no WebSocket header)
    bool binary = false;  // opcode: binary (0x2) or text (0x1)
};

using FramePtr = std::shared_ptr<const Frame>;

inline FramePtr make_text_frame(std::string bytes) {
    return std::make_shared<const Frame>(Frame{std::move(bytes), false});
}

}  // namespace quckrt::wire
