// `npm run firehose:endpoints -- list | delete <whe_…> [<whe_…> …]`: the one-off migration to the
// partner firehose (issue 14). Before, `start --webhook-url` created one parent endpoint with scope
// `all_children` per customer URL — each received EVERY customer's events. Now the partner's receiver is
// LAYERS_FIREHOSE_URL (ensured by the worker; an old endpoint at exactly that URL and events is adopted)
// and a customer's own URL is a child-scoped endpoint. `list` shows every parent endpoint and what it is;
// `delete` removes the ones you name — explicitly, since only you know which receivers are yours.
//
// Reads the worker's configuration (LAYERS_API_URL, LAYERS_PARENT_KEY or _FILE, LAYERS_FIREHOSE_URL/_EVENTS).
import { LayersClient } from '../activities/layers';
import { normalizeEvents } from '../activities/firehose';
import { ConfigError } from '../common/connection';
import { loadLayersConfig } from '../worker/config';

async function main(argv: string[]): Promise<number> {
  const [command, ...ids] = argv;
  if (command !== 'list' && command !== 'delete') {
    console.error('usage: npm run firehose:endpoints -- list | delete <whe_…> [<whe_…> …]');
    return 2;
  }
  const config = loadLayersConfig();
  const layers = new LayersClient({ baseUrl: config.apiUrl, apiKey: config.parentKey });
  try {
    if (command === 'list') {
      const partner = config.firehose;
      let suspicious = 0;
      for await (const e of layers.listAllWebhookEndpoints()) {
        const isPartner =
          partner &&
          e.scope === 'all_children' &&
          e.url === partner.url &&
          normalizeEvents(e.events).join() === partner.events.join();
        const verdict = isPartner
          ? 'partner firehose (LAYERS_FIREHOSE_URL): keep'
          : e.scope === 'all_children'
            ? "all_children at a URL that is not LAYERS_FIREHOSE_URL: receives every customer's events — delete unless it is yours"
            : "own (the parent org's events only)";
        if (!isPartner && e.scope === 'all_children') suspicious++;
        console.log(`${e.id}  ${e.scope.padEnd(12)}  ${e.url}  [${e.events.join(',')}]  ${verdict}`);
      }
      console.log(
        suspicious
          ? `\n${suspicious} endpoint(s) to review; delete with: npm run firehose:endpoints -- delete <id> …`
          : '\nnothing to migrate',
      );
      return 0;
    }
    if (!ids.length || !ids.every((id) => /^whe_[A-Za-z0-9-]+$/.test(id))) {
      console.error('delete: name the endpoints to delete (whe_…), as printed by `list`');
      return 2;
    }
    for (const id of ids) {
      await layers.deleteWebhookEndpoint(id);
      console.log(`deleted ${id}`);
    }
    return 0;
  } finally {
    await layers.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      err instanceof ConfigError
        ? `firehose:endpoints: configuration: ${err.message}`
        : `firehose:endpoints: ${(err as Error).message}`,
    );
    process.exit(1);
  },
);
