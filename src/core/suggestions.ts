/** graphql-js's hints ("Did you mean "x"?", "Did you mean the enum value "GROUP"?"): they map the schema. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** The message without schema hints, as production answers every parse, validation and input error. */
export function hideSuggestions(message: string): string {
  return message.replace(SUGGESTION, " [Suggestion hidden]").trim();
}
