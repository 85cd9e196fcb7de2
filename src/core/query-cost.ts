import {
  Kind,
  type ASTNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from "graphql";

/**
 * graphql-armor's cost weights (its costLimit defaults, passed to it explicitly in app.ts) so that
 * a cost computed here with the same arguments equals the cost armor computed when validating.
 */
export const COST_WEIGHTS = { objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 } as const;

/**
 * The cost of an operation by graphql-armor's formula (an object costs 2 plus 1.5 times its
 * children, a scalar 1, and a list field counts times its literal `first`/`last`), except that
 * `multiplier` may count a field more often: `_entities` counts once per representation, which
 * armor cannot see since it validates before variables are known.
 */
export function operationCost(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  multiplier: (field: FieldNode) => number = () => 1,
): number {
  const { objectCost, scalarCost, depthCostFactor } = COST_WEIGHTS;
  const fragmentCosts = new Map<string, number>();

  const cost = (node: ASTNode): number => {
    if (node.kind === Kind.FIELD && node.name.value === "__schema") return 0;
    if ("selectionSet" in node && node.selectionSet) {
      let total: number = objectCost;
      for (const child of node.selectionSet.selections) total += depthCostFactor * cost(child);
      return node.kind === Kind.FIELD
        ? total * Math.max(pageArgument(node), multiplier(node))
        : total;
    }
    if (node.kind === Kind.FRAGMENT_SPREAD) {
      const name = node.name.value;
      if (!fragmentCosts.has(name)) {
        fragmentCosts.set(name, 0); // a cycle (validation refuses those) adds nothing
        const fragment = fragments[name];
        fragmentCosts.set(name, fragment ? cost(fragment) : 0);
      }
      return scalarCost + depthCostFactor * fragmentCosts.get(name)!;
    }
    return scalarCost;
  };

  return operation.selectionSet.selections.reduce((sum, child) => sum + cost(child), 0);
}

/** armor's list multiplier: the first `first` or `last` argument, when it is a literal integer. */
function pageArgument(field: FieldNode): number {
  const arg = field.arguments?.find((a) => a.name.value === "first" || a.name.value === "last");
  if (arg?.value.kind !== Kind.INT) return 1;
  const value = parseInt(arg.value.value, 10);
  return Number.isFinite(value) ? Math.max(value, 1) : 1;
}

/** Every field of the operation's root selection named `name`, through fragments and inline fragments. */
export function rootFields(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  name: string,
): FieldNode[] {
  const found: FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (selections: OperationDefinitionNode["selectionSet"]["selections"]) => {
    for (const selection of selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === name) found.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet.selections);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments[selection.name.value];
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(operation.selectionSet.selections);
  return found;
}
