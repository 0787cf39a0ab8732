// Bundles the stand-in (main.ts with pg, ioredis and prom-client) into one CommonJS file that runs on Node >= 20,
// for the image (hack/images/build.sh) and for the tests that run it as a local process. esbuild comes with tsx.
//   tsx hack/images/standin/bundle.ts <outfile>
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function bundleStandIn(outfile: string): Promise<string> {
  await build({
    entryPoints: [join(here, 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Optional modules pg and ioredis never load here: the native libpq binding and Cloudflare sockets.
    external: ['pg-native', 'cloudflare:sockets'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: bundle.ts <outfile>');
    process.exit(2);
  }
  await bundleStandIn(resolve(out));
}
