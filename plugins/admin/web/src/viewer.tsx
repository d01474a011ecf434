// The signed-in user as the API sees them: the CMS roles after the server's role mapping decide what the UI offers.
import { createContext, useContext, type ReactNode } from "react";
import { useQuery } from "urql";
import { ViewerDocument } from "./gql/graphql";
import { abilities, type Abilities } from "./lib/roles";
import { Notice } from "./components/Notice";
import { transportMessage } from "./lib/results";

export interface Viewer {
  id: string;
  displayName: string | null;
  roles: readonly string[];
  can: Abilities;
}

const ViewerContext = createContext<Viewer | null>(null);

export function ViewerProvider({ children }: { children: ReactNode }) {
  const [{ data, error, fetching }] = useQuery({ query: ViewerDocument, requestPolicy: "network-only" });
  if (fetching && !data) return <p role="status">Loading…</p>;
  if (error) return <Notice kind="error">The API could not be reached: {transportMessage(error)}</Notice>;
  if (!data?.viewer) return <Notice kind="error">The API did not accept your sign-in. Sign out and in again.</Notice>;
  const { id, displayName, roles } = data.viewer;
  return <ViewerContext.Provider value={{ id, displayName, roles, can: abilities(roles) }}>{children}</ViewerContext.Provider>;
}

export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (viewer === null) throw new Error("useViewer outside <ViewerProvider>");
  return viewer;
}
