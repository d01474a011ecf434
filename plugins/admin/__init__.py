"""The editors' admin app (React + Vite, source in `web/`), served under /admin as static files by this plugin."""
