// The GitHub Action entry. The Action (inputs, job summary) is not built yet;
// until it is, this fails clearly instead of pretending to back up.
process.stdout.write("::error::the cairn GitHub Action is not built yet; use the CLI (cairn backup; see the README's install section)\n");
process.exitCode = 1;
