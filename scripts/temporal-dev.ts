// `npm run temporal:dev`: the Temporal dev server this project expects (search attributes registered,
// state kept in .data/temporal.db, Web UI on 8233), for running `npm run worker` and the CLI by hand.
import path from 'node:path';
import { startDevServer } from './dev-server';

async function main(): Promise<void> {
  const port = Number(process.env.TEMPORAL_DEV_PORT ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_DEV_UI_PORT ?? 8233);
  const server = await startDevServer({
    port,
    uiPort,
    dbFilename: path.resolve(__dirname, '..', '.data', 'temporal.db'),
    uiCodecEndpoint: process.env.TEMPORAL_UI_CODEC_ENDPOINT,
  });
  console.log(
    `Temporal dev server at ${server.address} (namespace ${server.namespace}); Web UI ${server.uiUrl}. Ctrl-C stops it.`,
  );
  const stop = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`temporal:dev: ${(err as Error).message}`);
  process.exit(1);
});
