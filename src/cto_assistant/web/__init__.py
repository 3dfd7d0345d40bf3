"""The web command center: `web.app.create_app` builds the FastAPI app.

Layout: app.py (factory), auth.py (sessions, CSRF, roles), api/ (JSON API routers), pages.py and
templates/ (HTML), events.py (server-sent events; call `web.events.publish` from anywhere),
health.py, middleware.py (secure headers, request log), static/ (our CSS and ES module).
"""
