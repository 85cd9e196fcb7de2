import {
  getNamedType,
  getOperationAST,
  isAbstractType,
  isCompositeType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type SelectionSetNode,
} from "graphql";

/** Whether every field the operation selects is shared (see FanoutOptions.isShared). */
export function sharedSelection(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null,
  isShared: (typeName: string, fieldName: string) => boolean,
): boolean {
  const operation = getOperationAST(document, operationName);
  const root = schema.getSubscriptionType();
  if (!operation || operation.operation !== "subscription" || !root) return false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  const typeNamed = (name: string) => {
    const type = schema.getType(name);
    return type && isCompositeType(type) ? type : null;
  };
  const visit = (type: GraphQLCompositeType, set: SelectionSetNode, depth: number): boolean => {
    if (depth > 50) return false;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === "__typename") continue;
        const concrete = isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
        for (const object of concrete) {
          const field = "getFields" in object ? object.getFields()[name] : undefined;
          if (!field || !isShared(object.name, name)) return false;
          if (!selection.selectionSet) continue;
          const child = getNamedType(field.type);
          if (!isCompositeType(child) || !visit(child, selection.selectionSet, depth + 1)) {
            return false;
          }
        }
      } else {
        const fragment =
          selection.kind === Kind.FRAGMENT_SPREAD ? fragments.get(selection.name.value) : selection;
        if (!fragment) return false;
        const condition = fragment.typeCondition
          ? typeNamed(fragment.typeCondition.name.value)
          : type;
        if (!condition || !visit(condition, fragment.selectionSet, depth + 1)) return false;
      }
    }
    return true;
  };
  return visit(root, operation.selectionSet, 0);
}
