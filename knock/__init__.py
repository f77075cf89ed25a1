"""Knock: out-of-band invites to a private Matrix room.

What lives where (imports point down this list, never up; `tests/unit/test_layers.py` checks it):

    web/            the FastAPI app: routes (routes/page.py is the knock page), auth, views,
                    the request and answer models and the error answers of the OpenAPI
                    description, Swagger UI's files for /docs; pages.py renders the templates
                    (templates/, autoescaped) with the pages' security headers; console/ is the
                    moderators' console (session.py: its cookie, form token and door; one module
                    per page); static/ the pages' style and scripts (pow.js: the proof of work).
                    Knows the services and core values only.
    cli.py          the `knock` command. Calls the services.
    services/       the work, each class taking its collaborators in its constructor:
        compose.py      the composition root: builds every service once, in dependency order
        runtime.py      one process: opens the store, signs in, builds, runs the background work
        errors.py       what a caller hears when the database or homeserver fails
        scrape.py       what GET /metrics answers: the event counts, and the state read now
        invites/        reception (who sent a delivery, and what they hear), intake (a delivery ->
                        a committed knock), the worker and its invite step, welcomes and
                        reminders, following memberships, importing old invites
        blocklist/      this process's block-list index, block/unblock actions, the list files,
                        policy rooms, counting new entries (held past the threshold), the lists
                        as `knock check` reads them
        moderation/     approve, deny, rescind; each door's moderation room; who moderates
                        (power levels the live view keeps); notices to moderators and join-wave
                        summaries; the audit log's read model
        knock_page/     the knock page: its posts and status links, the account check made for
                        every page knock, the proof-of-work challenges
        console/        the console's sessions and Matrix sign-in links, overview, review queue,
                        knock search, pending invites, the room's members, the moderators' audit
                        and the cached profiles it shows
        background/     the periodic duties (on the lease holder) and the /sync loop
        homeserver/     sign-in (token, password, Beeper), pacing the bot account, room checks,
                        people's profiles (one lookup per knock; names and avatars kept), the
                        bot's direct chats
    store/          the database: engine, schema and migrations, named queries, admission's
                    transaction, jobs, leases; the knock page's, console's, search's,
                    audit's, profiles' and doors' queries in modules of their own
    matrix/         the homeserver client: one request path that paces, waits and retries
    core/           pure decisions, no I/O: Matrix IDs, form payloads and who sent them
                    (per-address or server-to-server callers), callers' addresses, the
                    block-list engine, admission (the intake gate's checks and their state),
                    limits, the pages' proof of work (challenges and their check), the knock
                    lifecycle, job kinds, history lines and actors, avatars (media URIs, image
                    types by their bytes), what a status page may say (page_status), stored
                    answers as questions (answers), why a knock waits in words (explain), the
                    console's knock filter
    doors.py        the doors (ways into rooms): the default one, and DOORS_FILE's
    config.py       one Settings object, built once and passed down
    metrics.py      the Prometheus counters and histograms of events, counted where they happen
                    (shared by a host's worker processes), and how they are read back
    clock.py        the injected clock
    log_context.py  what a log line is about (knock, job, door), set where they are handled

`knock_testing/` beside this package (a throwaway Synapse and PostgreSQL, signing helpers, the
demo) is for tests, benchmarks and `make demo`; it is never installed with Knock.
"""

__version__ = "0.1.0"  # pyproject.toml's; what `knock --version` says when not installed
