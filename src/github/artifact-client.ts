// @actions/artifact, and the Azure storage SDK under it, are about 4 MB of
// JavaScript that only artifact uploads need. The bundles load them from
// dist/artifact-client.js, built from this file and kept beside cli.js and
// action.js, and only when a workflow run writes to an artifacts:
// repository, so a CLI that only reads never parses them.
export { ArtifactNotFoundError, DefaultArtifactClient } from "@actions/artifact";
