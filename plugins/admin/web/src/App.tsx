// Routes under /admin. Pages load on first visit (the review player and its hls.js only when reviewing).
import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { Layout } from "./Layout";
import { ProgramList } from "./pages/programs/ProgramList";
import { useViewer } from "./viewer";

const page = <T extends Record<string, unknown>>(load: () => Promise<T>, name: keyof T) =>
  lazy(async () => ({ default: (await load())[name] as React.ComponentType }));

const ProgramForm = page(() => import("./pages/programs/ProgramForm"), "ProgramForm");
const EpisodeList = page(() => import("./pages/episodes/EpisodeList"), "EpisodeList");
const EpisodeForm = page(() => import("./pages/episodes/EpisodeForm"), "EpisodeForm");
const Review = page(() => import("./pages/review/Review"), "Review");
const SourceList = page(() => import("./pages/sources/SourceList"), "SourceList");
const SourceForm = page(() => import("./pages/sources/SourceForm"), "SourceForm");
const SourceDetail = page(() => import("./pages/sources/SourceDetail"), "SourceDetail");
const Jobs = page(() => import("./pages/admin/Jobs"), "Jobs");
const Audit = page(() => import("./pages/admin/Audit"), "Audit");
const SearchStatus = page(() => import("./pages/admin/SearchStatus"), "SearchStatus");

function Only({ when, children }: { when: boolean; children: ReactNode }) {
  return when ? children : <p role="alert">Your role cannot open this page.</p>;
}

export function App() {
  const { can } = useViewer();
  return (
    <BrowserRouter basename="/admin">
      <Suspense fallback={<p role="status">Loading…</p>}>
        <Routes>
          <Route element={<Layout />}>
            <Route index element={<Navigate to="/programs" replace />} />
            <Route path="callback" element={<Navigate to="/programs" replace />} />
            <Route path="programs" element={<ProgramList />} />
            <Route path="programs/new" element={<Only when={can.edit}><ProgramForm /></Only>} />
            <Route path="programs/:id" element={<ProgramForm />} />
            <Route path="episodes" element={<EpisodeList />} />
            <Route path="episodes/new" element={<Only when={can.edit}><EpisodeForm /></Only>} />
            <Route path="episodes/:id" element={<EpisodeForm />} />
            <Route path="episodes/:id/review" element={<Review />} />
            <Route path="sources" element={<Only when={can.edit}><SourceList /></Only>} />
            <Route path="sources/new" element={<Only when={can.edit}><SourceForm /></Only>} />
            <Route path="sources/:id" element={<Only when={can.edit}><SourceDetail /></Only>} />
            <Route path="jobs" element={<Only when={can.administer}><Jobs /></Only>} />
            <Route path="audit" element={<Only when={can.administer}><Audit /></Only>} />
            <Route path="search-status" element={<Only when={can.administer}><SearchStatus /></Only>} />
            <Route path="*" element={<p role="alert">No such page.</p>} />
          </Route>
        </Routes>
      </Suspense>
    </BrowserRouter>
  );
}
