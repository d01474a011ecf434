/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into plugins/admin/static (gitignored), which the admin plugin serves under /admin.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: {
    outDir: "../static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 900,
  },
  server: {
    // `npm run dev`: the API on :8000 answers /graphql, /uploads and the dev issuer.
    proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true }, "/uploads": "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
