import { registerEnumType } from "type-graphql";

export enum MessageKind {
  TEXT = "TEXT",
  IMAGE = "IMAGE",
  FILE = "FILE",
  SYSTEM = "SYSTEM",
}

registerEnumType(MessageKind, {
  name: "MessageKind",
  description: "TEXT, IMAGE or FILE (derived from attachments); SYSTEM for membership changes.",
});
