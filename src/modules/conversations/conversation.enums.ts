import { registerEnumType } from "type-graphql";

export enum ConversationKind {
  DIRECT = "DIRECT",
  GROUP = "GROUP",
}

export enum ParticipantRole {
  OWNER = "OWNER",
  ADMIN = "ADMIN",
  MEMBER = "MEMBER",
}

/** The membership changes a SYSTEM message records. */
export enum SystemEventType {
  PARTICIPANTS_ADDED = "PARTICIPANTS_ADDED",
  PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED",
  PARTICIPANT_LEFT = "PARTICIPANT_LEFT",
  OWNER_CHANGED = "OWNER_CHANGED",
  ROLE_CHANGED = "ROLE_CHANGED",
}

registerEnumType(ConversationKind, {
  name: "ConversationKind",
  description: "DIRECT: exactly two users, unique per pair and subject. GROUP: titled, with roles.",
});
registerEnumType(ParticipantRole, { name: "ParticipantRole" });
registerEnumType(SystemEventType, { name: "SystemEventType" });
