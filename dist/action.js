import { createRequire as __cairnRequire } from 'node:module'; import { fileURLToPath as __cairnPath } from 'node:url'; const require = __cairnRequire(import.meta.url); const __filename = __cairnPath(import.meta.url); const __dirname = __cairnPath(new URL('.', import.meta.url));

// src/action/main.ts
process.stdout.write("::error::the cairn GitHub Action is not built yet; use the CLI (cairn backup; see the README's install section)\n");
process.exitCode = 1;
