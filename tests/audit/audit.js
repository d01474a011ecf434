// The graphql-http server audit (GraphQL over HTTP spec conformance) against a running server.
// Usage: node audit.js http://127.0.0.1:8000/graphql  -> prints a JSON list of {id, name, status, reason, ...}.
'use strict';

const { serverAudits } = require('graphql-http');

const TIMEOUT_MS = 15000; // a request the server never answers fails its audit instead of hanging the run

function fetchWithTimeout(url, init = {}) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
}

async function describe(response) {
  if (!response) return {};
  let body;
  try {
    body = await response.clone().text();
  } catch {
    body = undefined; // already read by the audit
  }
  return { httpStatus: response.status, contentType: response.headers.get('content-type'), body };
}

async function main() {
  const url = process.argv[2];
  if (!url) throw new Error('usage: node audit.js <graphql url>');
  const results = [];
  for (const audit of serverAudits({ url, fetchFn: fetchWithTimeout })) {
    let result;
    try {
      result = await audit.fn();
    } catch (err) {
      // graphql-http throws (rather than reporting) on anything that is not a failed assertion, a timeout included
      result = { id: audit.id, name: audit.name, status: 'error', reason: `fatal: ${err && err.message}` };
    }
    const { response, ...rest } = result;
    results.push({ ...rest, ...(await describe(response)) });
  }
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(2);
});
