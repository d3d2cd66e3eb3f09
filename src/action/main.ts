// The GitHub Action entry. The Action (inputs, job summary) is not built yet;
// until it is, this fails clearly instead of pretending to back up.
process.stdout.write("::error::the cairn GitHub Action is not built yet; use the CLI (npx cairn backup)\n");
process.exitCode = 1;
