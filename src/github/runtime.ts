// @actions/artifact reads the Actions runtime (ACTIONS_RUNTIME_TOKEN,
// ACTIONS_RESULTS_URL) from process.env when each call starts, and offers no
// way to pass it. So right before each call the runtime from the context
// (which src/app/settings.ts read from the runner's environment) is written
// there. This is the one file below src/app that touches process.env, and it
// only writes (test/layers.test.ts checks both). The client reads the values
// before its first await, so concurrent calls for other contexts cannot mix.
import type { GitHubContext } from "./context.ts";

export function exportRuntime(runtime: NonNullable<GitHubContext["runtime"]>): void {
  process.env.ACTIONS_RUNTIME_TOKEN = runtime.token;
  process.env.ACTIONS_RESULTS_URL = runtime.resultsUrl;
}
