// The reference graphql-transport-ws client (graphql-ws) for tests/test_conformance.py.
// Usage: node ws-client.mjs <ws-url> <token|-> <query> <variables-json> <count>
// Prints one JSON line per event: {"ready":true} once subscribed, {"next": payload}
// per result, {"error": ...} or {"closed": code} at the end.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variablesJson, countArg] = process.argv.slice(2);
const want = Number(countArg || '1');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: true,
  retryAttempts: 0,
  connectionParams: token === '-' ? {} : { Authorization: `Bearer ${token}` },
  on: {
    connected: () => out({ ready: true }),
    closed: (event) => out({ closed: event.code, reason: event.reason }),
  },
});

let got = 0;
await new Promise((resolve) => {
  client.subscribe(
    { query, variables: JSON.parse(variablesJson || '{}') },
    {
      next: (value) => {
        out({ next: value });
        got += 1;
        if (got >= want) resolve();
      },
      error: (err) => {
        out({ error: err && err.code !== undefined ? { code: err.code, reason: err.reason } : String(err?.message ?? JSON.stringify(err)) });
        resolve();
      },
      complete: () => resolve(),
    },
  );
});
await client.dispose();
process.exit(0);
