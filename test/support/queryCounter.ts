/**
 * Counts the queries a Kysely instance runs that match (`db.withPlugin(counter)`): started when compiled,
 * finished when answered. For tests that show how often a cache reaches real PostgreSQL.
 */
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  RootOperationNode,
} from 'kysely';

export function queryCounter(
  matches: (node: OperationNode) => boolean,
): KyselyPlugin & { started: number; finished: number } {
  const counted = new WeakSet<object>();
  const plugin = {
    started: 0,
    finished: 0,
    transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
      if (matches(node)) {
        plugin.started += 1;
        counted.add(queryId);
      }
      return node;
    },
    transformResult: async ({ result, queryId }: PluginTransformResultArgs) => {
      if (counted.has(queryId)) plugin.finished += 1;
      return result;
    },
  };
  return plugin;
}
