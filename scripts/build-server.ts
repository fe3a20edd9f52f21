import { build } from 'esbuild';
import { pathToFileURL } from 'node:url';
import { projectPath } from '../lib/paths.js';

/**
 * Bundles GridPatrol's server (main.ts, the sources and most of node_modules) into one ES module,
 * dist/main.mjs, which `npm start` runs with plain `node`. Start-up time is mostly module loading:
 * tsx compiles every source file, and Node reads, resolves and compiles hundreds of files in
 * node_modules; one pre-built file takes a fraction of that (figures: bench/README.md, Start-up).
 * The tests and `npm run dev`-style runs use the sources through tsx; both run the same code.
 */

/**
 * Left to Node at run time: a native addon, packages that start worker threads or serve files
 * by paths relative to their own folder.
 */
export const EXTERNAL = ['better-sqlite3', 'pino', 'pino-pretty', 'thread-stream', '@fastify/swagger-ui', '@fastify/static'];

/** CommonJS code in the bundle still asks for require, __filename and __dirname. */
const CJS_SHIM = [
  "import { createRequire as __gpCreateRequire } from 'node:module';",
  "import { fileURLToPath as __gpFileURLToPath } from 'node:url';",
  "import { dirname as __gpDirname } from 'node:path';",
  'const require = __gpCreateRequire(import.meta.url);',
  'const __filename = __gpFileURLToPath(import.meta.url);',
  'const __dirname = __gpDirname(__filename);',
].join(' ');

export async function buildServer(outfile = projectPath('dist', 'main.mjs')): Promise<string> {
  await build({
    entryPoints: [projectPath('main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    external: EXTERNAL,
    banner: { js: CJS_SHIM },
    logLevel: 'warning',
  });
  return outfile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildServer();
  console.log(`server bundle: ${out}`);
}
