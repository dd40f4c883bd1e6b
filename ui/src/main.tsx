import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router";
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { Layout } from "./App";
import { Home } from "./pages/Home";
import { SearchPage } from "./pages/Search";
import { TablePage } from "./pages/Table";
import { ModelPage } from "./pages/Model";
import { EntityPage } from "./pages/Entity";
import { LineagePage } from "./pages/Lineage";
import { ImpactPage } from "./pages/Impact";
import { IncidentPage, IncidentsPage } from "./pages/Incidents";
import { IngestionPage } from "./pages/Ingestion";
import { NotFound } from "./components/Status";

// Every page has its own URL, so any view can be shared as a link.
const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: "/", element: <Home /> },
      { path: "/search", element: <SearchPage /> },
      { path: "/tables/:fqn", element: <TablePage /> },
      { path: "/models/:fqn", element: <ModelPage /> },
      { path: "/entities/:fqn", element: <EntityPage /> },
      { path: "/lineage/:fqn", element: <LineagePage /> },
      { path: "/impact/:fqn", element: <ImpactPage /> },
      { path: "/incidents", element: <IncidentsPage /> },
      { path: "/incidents/:id", element: <IncidentPage /> },
      { path: "/ingestion", element: <IngestionPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <RouterProvider router={router} />
  </StrictMode>,
);
