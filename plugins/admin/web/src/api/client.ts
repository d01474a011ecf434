// One urql client per signed-in session: HTTP for queries and mutations, graphql-ws for subscriptions, both carrying
// the current access token (browsers cannot set headers on a WebSocket: it goes in connection_init's payload).
import { createClient as createWsClient } from "graphql-ws";
import { Client, fetchExchange, subscriptionExchange } from "urql";
import { adminCache } from "./cache";

export function createApiClient(urls: { http: string; ws: string }, token: () => string | null): Client {
  const ws = createWsClient({
    url: urls.ws,
    lazy: true,
    retryAttempts: 5,
    connectionParams: () => {
      const current = token();
      return current ? { authorization: `Bearer ${current}` } : {};
    },
  });
  return new Client({
    url: urls.http,
    requestPolicy: "cache-and-network",
    fetchOptions: () => {
      const current = token();
      const headers: Record<string, string> = current ? { authorization: `Bearer ${current}` } : {};
      return { headers };
    },
    exchanges: [
      adminCache(),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
        },
      }),
    ],
  });
}
