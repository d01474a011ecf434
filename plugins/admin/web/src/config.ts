// What the server tells the app at start (/admin/config.json): where the API and the identity provider are.
export interface AdminConfig {
  graphqlUrl: string;
  oidc: { authority: string; clientId: string; scope: string };
}

export async function loadConfig(base: string = import.meta.env.BASE_URL): Promise<AdminConfig> {
  const response = await fetch(`${base}config.json`, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`The admin's configuration could not be loaded (HTTP ${response.status}).`);
  return (await response.json()) as AdminConfig;
}

/** The GraphQL endpoint as an absolute http(s) URL and its WebSocket twin (subscriptions). */
export function endpoints(graphqlUrl: string, origin: string = window.location.origin): { http: string; ws: string } {
  const http = new URL(graphqlUrl, origin);
  const ws = new URL(http.href);
  ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";
  return { http: http.href, ws: ws.href };
}
