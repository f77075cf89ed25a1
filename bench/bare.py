"""The intake baseline: a bare FastAPI route that reads the body, parses the JSON and answers 202.

`python -m bench.intake` serves it with the same uvicorn options as Knock
(`uvicorn bench.bare:app`), one process.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/invite_from_form")
async def take(request: Request) -> Response:
    """Read the body, parse the JSON, answer 202."""
    json.loads(await request.body())
    return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")
