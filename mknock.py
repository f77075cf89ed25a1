"""`uvicorn mknock:app` — the entry point the original deployment notes use."""

from knock.web.app import app_from_environment

app = app_from_environment()
