import {
  BREAK,
  Kind,
  visit,
  type ASTNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from "graphql";

/**
 * graphql-armor's cost weights (its costLimit defaults, passed to it in server/request-limits.ts) so that
 * a cost computed here with the same arguments equals the cost armor computed when validating.
 */
export const COST_WEIGHTS = { objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 } as const;

/** What armor cannot see when it validates, before variables are known. */
export interface CostInputs {
  /** A field counted this many times at least (`_entities`: once per representation). */
  multiplier?: (field: FieldNode) => number;
  /** `first: $n` counts as n's value here (armor counts it once). */
  variables?: Readonly<Record<string, unknown>>;
  /** A variable page size counts at most this (a larger one the field refuses itself). */
  pageCap?: number;
}

/**
 * The cost of an operation by graphql-armor's formula (an object costs 2 plus 1.5 times its
 * children, a scalar 1, and a list field counts times its `first`/`last`), with what `inputs`
 * add to it.
 */
export function operationCost(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  inputs: CostInputs = {},
): number {
  const { multiplier = () => 1, variables = {}, pageCap = Infinity } = inputs;
  const { objectCost, scalarCost, depthCostFactor } = COST_WEIGHTS;
  const fragmentCosts = new Map<string, number>();

  const cost = (node: ASTNode): number => {
    if (node.kind === Kind.FIELD && node.name.value === "__schema") return 0;
    if ("selectionSet" in node && node.selectionSet) {
      let total: number = objectCost;
      for (const child of node.selectionSet.selections) total += depthCostFactor * cost(child);
      return node.kind === Kind.FIELD
        ? total * Math.max(pageArgument(node, variables, pageCap), multiplier(node))
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

/** The first `first` or `last` argument of a field. */
function pageArgumentNode(field: FieldNode) {
  return field.arguments?.find((a) => a.name.value === "first" || a.name.value === "last");
}

/**
 * A list field's multiplier: its first `first` or `last` argument, a literal integer (as armor
 * counts it) or a variable's integer value up to pageCap; 1 without either.
 */
function pageArgument(
  field: FieldNode,
  variables: Readonly<Record<string, unknown>>,
  pageCap: number,
): number {
  const arg = pageArgumentNode(field);
  let value: unknown = null;
  if (arg?.value.kind === Kind.INT) value = parseInt(arg.value.value, 10);
  else if (arg?.value.kind === Kind.VARIABLE) {
    const given = variables[arg.value.name.value];
    value = typeof given === "number" ? Math.min(given, pageCap) : null;
  }
  return typeof value === "number" && Number.isFinite(value) ? Math.max(Math.floor(value), 1) : 1;
}

/**
 * Whether some list field of the document takes its page size from a variable: only then can its
 * cost with variables exceed what armor counted when validating.
 */
export function pagesByVariable(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(field) {
      if (pageArgumentNode(field)?.value.kind === Kind.VARIABLE) {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
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
