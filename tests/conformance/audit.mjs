// Runs graphql-http's server audit suite against a live Linli server and prints the
// results as JSON (one object per audit) for tests/test_conformance.py to judge.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const audits = serverAudits({ url, fetchFn: fetch });
const results = [];
for (const audit of audits) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
process.stdout.write(JSON.stringify(results));
