import { build } from 'esbuild';
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Builds the dashboard (web/src, TypeScript and CSS) into web/dist with esbuild: one ES module,
 * one stylesheet, Leaflet's images, licences. Everything the page needs is served by GridPatrol
 * itself: nothing is fetched from a CDN at run time.
 *
 * The bundle is written to a temporary folder and swapped in whole, so a server reading web/dist
 * never sees half a build.
 */
export async function buildWeb(o: { webDir?: string; minify?: boolean } = {}): Promise<{ outDir: string; bytes: number }> {
  const webDir = o.webDir ?? import.meta.dirname;
  const outDir = join(webDir, 'dist');
  const tmp = join(webDir, `.dist-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await build({
      entryPoints: { app: join(webDir, 'src/main.ts'), style: join(webDir, 'src/style.css') },
      outdir: tmp,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome109', 'firefox115', 'safari16'],
      minify: o.minify ?? true,
      sourcemap: 'linked',
      legalComments: 'linked',
      loader: { '.png': 'file', '.svg': 'file' },
      assetNames: 'assets/[name]-[hash]',
      metafile: true,
      logLevel: 'warning',
    });
    copyFileSync(join(webDir, 'index.html'), join(tmp, 'index.html'));
    const old = `${outDir}.old-${process.pid}`;
    rmSync(old, { recursive: true, force: true });
    try {
      renameSync(outDir, old);
    } catch {
      // no previous build
    }
    renameSync(tmp, outDir);
    rmSync(old, { recursive: true, force: true });
    const bytes = Object.values(result.metafile.outputs).reduce((n, f) => n + f.bytes, 0);
    return { outDir, bytes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  buildWeb().then(
    ({ outDir, bytes }) => process.stdout.write(`build:web: ${outDir} (${Math.round(bytes / 1024)} KiB) in ${Date.now() - started} ms\n`),
    (err: unknown) => {
      process.stderr.write(`build:web: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
