import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  type ASTVisitor,
  type FieldNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";

/**
 * Mutations a client cannot sort out when several share an operation. Root mutation fields run one
 * after another, and one failing non-null field (say a RATE_LIMITED `sendMessage`) nulls the whole
 * `data`: the ones before it took effect, and the client is not told which. The others are
 * idempotent (repeating them changes nothing), so a client can simply repeat the whole operation.
 */
export const SINGLE_MUTATION_FIELDS: readonly string[] = [
  "sendMessage",
  "createConversation",
  "editMessage",
];

/**
 * A validation rule: at most one of `fields` (together) in each mutation operation, aliases,
 * fragments and inline fragments included, `@skip`/`@include` or not (it cannot know their
 * variables). Such a document is refused before anything runs (GRAPHQL_VALIDATION_FAILED).
 */
export function singleMutationRule(
  fields: readonly string[] = SINGLE_MUTATION_FIELDS,
): ValidationRule {
  const listed = new Set(fields);
  const names = [...listed].join(", ");
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      if (operation.operation !== OperationTypeNode.MUTATION) return false;
      const found = new Map<string, FieldNode>();
      collect(context, operation.selectionSet, listed, found, new Set());
      if (found.size > 1) {
        const seen = [...found].map(([key, f]) =>
          key === f.name.value ? key : `${key}: ${f.name.value}`,
        );
        context.reportError(
          new GraphQLError(
            `At most one of ${names} per operation, found ${found.size} (${seen.join(", ")}): ` +
              "if one failed, the results of the others would be lost. Send each in its own request.",
            { nodes: [...found.values()] },
          ),
        );
      }
      return false;
    },
  });
}

/**
 * The listed root fields of a selection set by response key, as execution collects them: fields
 * under one key run once, and each fragment is spread once.
 */
function collect(
  context: ValidationContext,
  selectionSet: SelectionSetNode,
  listed: ReadonlySet<string>,
  found: Map<string, FieldNode>,
  spread: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      if (listed.has(selection.name.value) && !found.has(key)) found.set(key, selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collect(context, selection.selectionSet, listed, found, spread);
    } else {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      if (!fragment || spread.has(name)) continue;
      spread.add(name);
      collect(context, fragment.selectionSet, listed, found, spread);
    }
  }
}
