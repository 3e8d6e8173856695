#include <quckrt/storage.hpp>

namespace quckrt {

std::string_view to_string(ConversationKind kind) {
    switch (kind) {
        case ConversationKind::direct: return "direct";
        case ConversationKind::group: return "group";
    }
    return "group";
}

std::string_view to_string(EventKind kind) {
    switch (kind) {
        case EventKind::message_created: return "message.created";
        case EventKind::message_edited: return "message.edited";
        case EventKind::message_deleted: return "message.deleted";
        case EventKind::reaction_added: return "reaction.added";
        case EventKind::reaction_removed: return "reaction.removed";
    }
    return "message.created";
}

}  // namespace quckrt
