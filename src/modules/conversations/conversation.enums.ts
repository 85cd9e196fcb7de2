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

registerEnumType(ConversationKind, {
  name: "ConversationKind",
  description: "DIRECT: exactly two users, unique per pair and subject. GROUP: titled, with roles.",
});
registerEnumType(ParticipantRole, { name: "ParticipantRole" });
