"""`knock login`: Beeper's email-code flow, run once by a person, cached for every process."""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx

from knock.clock import SystemClock
from knock.config import Settings
from knock.matrix.client import HomeserverUnavailable, LocalPacer, MatrixClient
from knock.services.homeserver.signin import SignIn, SignInError
from knock.store import Store


async def interactive_login(settings: Settings, email: str, ask_code: Callable[[], str]) -> int:
    """Have Beeper email a code, ask for it, and store the resulting token; return an exit code."""
    clock = SystemClock()
    store = await Store.open(settings.database_url, synchronous=settings.sqlite_synchronous)
    async with httpx.AsyncClient(timeout=30.0) as http:
        matrix = MatrixClient(http, settings.matrix_base_url, clock, pacer=LocalPacer(clock, 0))
        signin = SignIn(settings, store, matrix, http, clock)
        try:
            await signin.begin_email_login(email)
            print(f"Beeper emailed a login code to {email}.")
            user_id = await signin.log_in_with_code(ask_code())
        except SignInError as exc:
            print(f"knock: {exc}", file=sys.stderr)
            return 1
        except HomeserverUnavailable as exc:
            # Beeper's login is kept in the database: Knock signs in with it once it answers.
            print(
                f"knock: MATRIX_BASE_URL {settings.matrix_base_url} cannot be reached "
                f"({exc.error}); Beeper's login is kept, and Knock signs in with it once the "
                "homeserver answers",
                file=sys.stderr,
            )
            return 1
        finally:
            await store.close()
    print(f"Signed in as {user_id}; the token is stored for every Knock process.")
    return 0
