// What the server tells the app at start (inlined in index.html, or /admin/config.json): where the API and the
// identity provider are.
export interface AdminConfig {
  graphqlUrl: string;
  oidc: { authority: string; clientId: string; scope: string };
}

/** The configuration the server inlined into index.html, else (the Vite dev server) fetched from config.json. */
export async function loadConfig(base: string = import.meta.env.BASE_URL): Promise<AdminConfig> {
  const inline = document.getElementById("cms-admin-config")?.textContent;
  if (inline) return JSON.parse(inline) as AdminConfig;
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
