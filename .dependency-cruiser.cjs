// Layer rules for src/, checked in CI (npm run check-layers): no import
// cycles, and arrows that point one way along the data's path:
//   cli, action -> app -> engine -> backends
//                      -> sources -> transport
// The engine knows nothing of GitHub, the front ends or settings history;
// backends know nothing of the engine. Inside the engine, each folder only
// uses the ones below it: crypto, chunk, workers < pack < repository <
// snapshot < the operations (backup, restore, verify, export, forget, prune, tasks).
const not = (name, from, to, comment) => ({ name, severity: "error", comment, from: { path: `^src/${from}` }, to: { path: `^src/(${to})` } });

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "no import cycles anywhere in src/", from: {}, to: { circular: true } },
    { name: "no-orphans", severity: "error", comment: "every module is used (entries excepted)", from: { orphan: true, path: "^src/", pathNot: ["^src/(cli|action)/main\\.ts$", "^src/engine/tasks\\.ts$", "^src/github/artifact-client\\.ts$", "^src/backends/faulty\\.ts$"] }, to: {} },
    not("engine-is-not-a-front-end", "engine/", "cli|action|app|history|github|config", "the engine knows no front end, no GitHub, no settings history, no cairn.yml"),
    not("backends-know-no-engine", "backends/", "engine|sources|transport|app|cli|action|history|config", "backends store files; they know nothing of what is in them"),
    not("sources-know-no-destination", "sources/", "engine|backends|app|cli|action|history|github", "sources read; they know nothing of where the data goes"),
    not("transport-is-a-leaf", "transport/", "sources|engine|backends|app|cli|action|history|github", "transports reach a machine; nothing more"),
    not("config-is-a-leaf", "config/", "engine|backends|sources|transport|app|cli|action|history|github", "cairn.yml's schema is a leaf"),
    not("app-knows-no-front-end", "app/", "cli|action", "the app layer serves both front ends and knows neither"),
    not("cli-calls-the-app-only", "cli/", "action|engine|backends|sources|transport", "the CLI calls the app layer only"),
    not("action-calls-the-app-only", "action/", "cli|engine|backends|sources|transport", "the Action calls the app layer only"),
    not("history-uses-no-engine", "history/", "cli|action|app|engine", "settings history is used by the app layer, and uses no engine internals"),
    not("github-client-is-a-leaf", "github/", "cli|action|app|engine|history|sources|transport", "the GitHub client is a leaf"),
    not("engine-bottom-layers", "engine/(crypto|chunk|workers)/", "engine/(pack|repository|snapshot|restore|forget|backup|verify|export|prune|tasks)", "the engine's bottom layers"),
    not("packs-know-no-index", "engine/pack/", "engine/(repository|snapshot|restore|forget|backup|verify|export|prune|tasks)", "packs know nothing of the index or snapshots"),
    not("repository-knows-no-snapshot", "engine/repository/", "engine/(snapshot|restore|forget|backup|verify|export|prune|tasks)", "the repository knows nothing of snapshots or operations"),
    not("snapshots-know-no-operation", "engine/snapshot/", "engine/(restore|forget|backup|verify|export|prune|tasks)", "snapshots know nothing of the operations"),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    exclude: { path: "^(node_modules|dist)" },
  },
};
