"""Admission's work on the database's snapshot: a batch of knocks, releases, strikes, the wave.

Each class here is one `AdmissionWork`: it names what to read and decides on what was read,
without I/O, so the store runs it in one transaction and tests run it on a plain snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from knock.core import limits, mxid
from knock.core.admission import Facts, IdResult, Verdict, decide
from knock.core.admission_state import AdmissionState, StatusLink, Wanted, Window
from knock.core.blocklist import Decision
from knock.core.forms import CallerKind
from knock.core.history import Actor, Change, HistoryLine, ModeratorAction
from knock.core.jobs import JobKind
from knock.core.knocks import DEFAULT_DOOR, NewKnock
from knock.core.lifecycle import Event, Reason, State

WAVE_TRIPPED = "join_wave.tripped_at"
WAVE_RESET = "join_wave.reset_at"
WAVE_ANNOUNCED = "join_wave.announced"  # the trip time of the last wave summarised
EVERYONE = "all"
# An address is backed off only from its third strike (a honeypot, an invalid id) within
# BACKOFF_RESET: one typo must not lock a person out.
ADDRESS_FREE_STRIKES = 2


@dataclass(frozen=True)
class Rules:
    """The settings admission decides by."""

    limit_per_user: limits.Rate | None
    limit_per_ip: limits.Rate | None
    limit_per_server: limits.Rate | None
    limit_per_form: limits.Rate | None
    backoff_base: float
    backoff_cap: float
    backoff_reset: float
    server_allowlist: tuple[str, ...]
    server_denylist: tuple[str, ...]
    reject_ip_literal_servers: bool
    join_wave_threshold: int
    join_wave_window: float
    join_wave_cooldown: float
    spam_window_seconds: float
    max_requests_per_window: int
    max_deferred: int
    repair_action: str
    announce_reviews: bool  # a moderation room is set: knocks held for review are posted there
    door: str = DEFAULT_DOOR  # the door these rules are for: its windows and join wave
    removed: bool = False  # the door was removed from DOORS_FILE: its knocks wait in review

    def scoped(self, subject: str) -> str:
        """A window's subject at this door. The default door's keep their plain names, so a
        one-room set-up counts exactly as before doors."""
        return subject if self.door == DEFAULT_DOOR else f"{self.door}|{subject}"

    @property
    def wave_keys(self) -> tuple[str, str]:
        """The stored values of this door's join wave: when it was reset, when it tripped."""
        return _wave_keys(self.door)

    def longest_window(self) -> float:
        """The longest time any admission window looks back (older counts can be erased)."""
        rates = (self.limit_per_user, self.limit_per_ip, self.limit_per_server, self.limit_per_form)
        windows = [rate.seconds for rate in rates if rate is not None]
        return max([self.spam_window_seconds, self.join_wave_window, *windows])

    def strike(self, state: AdmissionState, subject: str, free: int = 0) -> None:
        """Add one back-off strike to a subject; the first `free` ones lock nothing out."""
        state.strike(subject, self.backoff_base, self.backoff_cap, self.backoff_reset, free)

    def review_job(self, reason: Reason | None) -> JobKind | None:
        """The job a knock held for review gets: its post in the moderation room.

        Not a join wave's: a flood would spend the bot's budget on posts; the wave gets one
        summary post instead, and moderators answer it in bulk.
        """
        if not self.announce_reviews or reason is Reason.JOIN_WAVE:
            return None
        return JobKind.ANNOUNCE


@dataclass(frozen=True)
class Caller:
    """Who delivered a knock: the platform it reads as, and the kind of caller that sent it."""

    platform: str
    kind: CallerKind
    ip_hash: str | None  # a keyed hash of the address it is limited by (an IPv6 /64)

    @property
    def per_address(self) -> bool:
        """Whether the caller's address is limited and backed off (a browser, an HTML form)."""
        return self.kind is CallerKind.PER_ADDRESS and self.ip_hash is not None


@dataclass(frozen=True)
class Arrival:
    """A delivery waiting for admission, with everything known about it before the snapshot."""

    knock_id: str  # the id its knock gets if one is made
    requested: str  # the id as typed
    key: str | None  # the platform's submission id, for spotting a retried delivery
    caller: Caller
    identity: IdResult
    honeypot: str | None
    block: Decision  # the block-list's verdict on the id and what was typed
    answers: str | None  # the form's answers as stored, if they are kept
    page: StatusLink | None = None  # the knock page's status link for this knock
    door: str = DEFAULT_DOOR  # the way in it came through


@dataclass(frozen=True)
class Outcome:
    """What admission did with a delivery."""

    knock_id: str
    state: State
    reason: str | None
    created: bool
    problem: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Batch:
    """Knocks arriving together, decided at one instant in arrival order, each by its door's
    rules."""

    arrivals: tuple[Arrival, ...]
    rules: Mapping[str, Rules]  # by door

    @property
    def values(self) -> tuple[str, ...]:
        """The join-wave values of every door the batch's knocks came through."""
        doors = {arrival.door for arrival in self.arrivals}
        return tuple(key for door in sorted(doors) for key in self._rules(door).wave_keys)

    def _rules(self, door: str) -> Rules:
        return self.rules.get(door) or self.rules[DEFAULT_DOOR]

    def wanted(self, state: AdmissionState) -> Wanted:
        """The windows, strikes, people and submissions the batch asks about."""
        wanted = Wanted()
        for arrival in self.arrivals:
            rules = self._rules(arrival.door)
            wave_since = _wave_since(state, rules)
            wanted.windows.update(_windows(arrival, rules, state.now, wave_since))
            wanted.strike_subjects.update(_strike_subjects(arrival, rules))
            if arrival.identity.problem is None:
                wanted.users.add((arrival.identity.user_id, arrival.door))
            if arrival.key is not None:
                wanted.submission_keys.add(arrival.key)
        return wanted

    def decide(self, state: AdmissionState) -> list[Outcome]:
        """Place every knock of the batch, in arrival order."""
        return [self._decide_one(state, arrival) for arrival in self.arrivals]

    def _decide_one(self, state: AdmissionState, arrival: Arrival) -> Outcome:
        if arrival.key is not None and arrival.key in state.submissions:
            # The platform retried a delivery we already hold.
            knock_id, known_state, reason = state.submissions[arrival.key]
            return Outcome(knock_id, known_state, reason, created=False)
        rules = self._rules(arrival.door)
        facts = _facts(state, arrival, rules)
        verdict = decide(facts)
        actor = Actor.form(arrival.caller.platform)
        history = [HistoryLine(Event.RECEIVED, actor)]
        history += [HistoryLine(event, actor, detail) for event, detail in verdict.history]
        # A caller told to fix the id or to slow down gets no status link to follow.
        page = None if verdict.problem or verdict.answered else arrival.page
        job = _job_for(verdict, rules)
        state.add_knock(_new_knock(verdict, arrival), history, job, page)
        _count(state, arrival, facts, verdict, rules)
        reason = verdict.reason.value if verdict.reason else None
        return Outcome(
            arrival.knock_id, verdict.state, reason, True, verdict.problem, verdict.retry_after
        )


def _job_for(verdict: Verdict, rules: Rules) -> JobKind | None:
    if verdict.state is State.QUEUED:
        return JobKind.INVITE
    return rules.review_job(verdict.reason) if verdict.state is State.REVIEW else None


@dataclass(frozen=True)
class Release:
    """Queue a door's deferred knocks, oldest first, as its global window makes room."""

    rules: Rules
    values: tuple[str, ...] = ()

    def wanted(self, state: AdmissionState) -> Wanted:
        """The door's global window, and as many of its oldest deferred knocks as it could take."""
        since = state.now - self.rules.spam_window_seconds
        return Wanted(
            windows={("admitted", self.rules.scoped(EVERYONE), since)},
            oldest_deferred=self.rules.max_requests_per_window,
            deferred_door=self.rules.door,
        )

    def decide(self, state: AdmissionState) -> int:
        """Release what fits; return how many."""
        everyone = self.rules.scoped(EVERYONE)
        admitted, _ = state.count("admitted", everyone)
        room = max(0, self.rules.max_requests_per_window - admitted)
        released = state.oldest_deferred[:room]
        for knock_id in released:
            state.release(knock_id)
        state.add_hits([("admitted", everyone)] * len(released))
        return len(released)


@dataclass(frozen=True)
class Strike:
    """Add a back-off strike found after admission (a refusal found at invite time)."""

    subject: str
    rules: Rules
    values: tuple[str, ...] = ()

    def wanted(self, state: AdmissionState) -> Wanted:
        """The subject's back-off record."""
        return Wanted(strike_subjects={self.subject})

    def decide(self, state: AdmissionState) -> None:
        """Strike."""
        self.rules.strike(state, self.subject)


@dataclass(frozen=True)
class AddKnock:
    """Add one knock made outside admission's checks (an import), unless its key is known."""

    knock: NewKnock
    history: tuple[HistoryLine, ...]
    job: JobKind | None = None
    values: tuple[str, ...] = ()

    def wanted(self, state: AdmissionState) -> Wanted:
        """The knock's submission key."""
        keys = {self.knock.submission_key} if self.knock.submission_key else set()
        return Wanted(submission_keys=keys)

    def decide(self, state: AdmissionState) -> bool:
        """Add the knock; return False when its submission is already stored."""
        key = self.knock.submission_key
        if key is not None and key in state.submissions:
            return False
        state.add_knock(self.knock, self.history, self.job)
        return True


@dataclass(frozen=True)
class WaveReport:
    """The join-wave breaker as moderators see it."""

    tripped: bool
    tripped_at: float | None
    knocks_in_window: int


@dataclass(frozen=True)
class ReadWave:
    """Read a door's join-wave breaker."""

    rules: Rules

    @property
    def values(self) -> tuple[str, ...]:
        """The door's wave values."""
        return self.rules.wave_keys

    def wanted(self, state: AdmissionState) -> Wanted:
        """The wave's window."""
        since = _wave_since(state, self.rules)
        return Wanted(windows={("wave", self.rules.scoped(EVERYONE), since)})

    def decide(self, state: AdmissionState) -> WaveReport:
        """Describe the breaker."""
        count, _ = state.count("wave", self.rules.scoped(EVERYONE))
        stored = state.values[self.rules.wave_keys[1]]
        tripped_at = float(stored) if stored else None
        tripped = tripped_at is not None and state.now - tripped_at < self.rules.join_wave_cooldown
        return WaveReport(tripped, tripped_at if tripped else None, count)


@dataclass(frozen=True)
class ResetWave:
    """Close a door's breaker; knocks before now no longer count toward a wave there.

    The moderator who reset it is logged with the reset, in its transaction.
    """

    actor: Actor
    door: str = DEFAULT_DOOR

    @property
    def values(self) -> tuple[str, ...]:
        """The door's wave values, and its announcement's."""
        return (*_wave_keys(self.door), wave_announced_key(self.door))

    def wanted(self, state: AdmissionState) -> Wanted:
        """Nothing beyond the wave's values."""
        return Wanted()

    def decide(self, state: AdmissionState) -> None:
        """Reset; the door's next wave is announced afresh."""
        reset, tripped = _wave_keys(self.door)
        state.set_value(tripped, None)
        state.set_value(reset, str(state.now))
        state.set_value(wave_announced_key(self.door), None)
        state.log(ModeratorAction(Change.RESET_JOIN_WAVE, self.actor, door=self.door))


def _wave_keys(door: str) -> tuple[str, str]:
    if door == DEFAULT_DOOR:
        return (WAVE_RESET, WAVE_TRIPPED)
    return (f"{WAVE_RESET}.{door}", f"{WAVE_TRIPPED}.{door}")


def wave_tripped_key(door: str) -> str:
    """The stored value of when a door's join wave tripped."""
    return _wave_keys(door)[1]


def wave_announced_key(door: str) -> str:
    """The stored value of the trip time of a door's last wave summarised."""
    return WAVE_ANNOUNCED if door == DEFAULT_DOOR else f"{WAVE_ANNOUNCED}.{door}"


def _wave_since(state: AdmissionState, rules: Rules) -> float:
    reset = state.values.get(rules.wave_keys[0])
    return max(state.now - rules.join_wave_window, float(reset) if reset else 0.0)


def _person_subjects(arrival: Arrival, rules: Rules) -> list[tuple[str, str, limits.Rate | None]]:
    """The windows a valid id counts against: (scope, subject, limit). Never answered."""
    identity = arrival.identity
    if identity.problem is not None:
        return []
    return [
        ("user", rules.scoped(identity.user_id), rules.limit_per_user),
        ("server", rules.scoped(mxid.server_name(identity.user_id)), rules.limit_per_server),
        ("form", rules.scoped(arrival.caller.platform), rules.limit_per_form),
    ]


def _address(arrival: Arrival) -> str | None:
    """The hashed address a per-address caller is limited by; platforms' never are."""
    caller = arrival.caller
    return caller.ip_hash if caller.per_address else None


def _windows(arrival: Arrival, rules: Rules, now: float, wave_since: float) -> list[Window]:
    """The windows a knock is counted in: its limits, the join wave, the global window."""
    limited = [
        (scope, subject, now - limit.seconds)
        for scope, subject, limit in _person_subjects(arrival, rules)
        if limit is not None
    ]
    address = _address(arrival)
    if address is not None and rules.limit_per_ip is not None:
        limited.append(("ip", rules.scoped(address), now - rules.limit_per_ip.seconds))
    return limited + [
        ("wave", rules.scoped(EVERYONE), wave_since),
        ("admitted", rules.scoped(EVERYONE), now - rules.spam_window_seconds),
    ]


def _person(arrival: Arrival, rules: Rules) -> str | None:
    """The person's back-off subject at the door (an address's back-off is every door's)."""
    identity = arrival.identity
    return None if identity.problem is not None else rules.scoped(f"user:{identity.user_id}")


def _strike_subjects(arrival: Arrival, rules: Rules) -> list[str]:
    address = _address(arrival)
    subjects = [_person(arrival, rules), None if address is None else f"ip:{address}"]
    return [subject for subject in subjects if subject is not None]


def _facts(state: AdmissionState, arrival: Arrival, rules: Rules) -> Facts:
    identity, now = arrival.identity, state.now
    over = []
    for scope, subject, limit in _person_subjects(arrival, rules):
        if limit is not None and limits.over_limit(state.count(scope, subject)[0], limit):
            over.append(scope)
    address = _address(arrival)
    address_over, address_retry, address_locked = False, 0.0, 0.0
    if address is not None:
        address_locked = limits.locked_for(state.strikes[f"ip:{address}"], now)
        if rules.limit_per_ip is not None:
            count, oldest = state.count("ip", rules.scoped(address))
            address_over = limits.over_limit(count, rules.limit_per_ip)
            address_retry = limits.window_retry_after(oldest, rules.limit_per_ip, now)
    person = _person(arrival, rules)
    return Facts(
        identity=identity,
        block=arrival.block,
        honeypot=arrival.honeypot,
        waiting_already=identity.problem is None
        and (identity.user_id, arrival.door) in state.waiting,
        address_locked_for=address_locked,
        address_over=address_over,
        address_retry_after=address_retry,
        person_locked=person is not None and limits.locked_for(state.strikes[person], now) > 0,
        over_windows=tuple(over),
        server_allowed=identity.problem is not None
        or limits.server_allowed(
            mxid.server_name(identity.user_id),
            rules.server_allowlist,
            rules.server_denylist,
            rules.reject_ip_literal_servers,
        ),
        wave_tripped=_wave(state, rules),
        repair_action=rules.repair_action,
        window_full=state.count("admitted", rules.scoped(EVERYONE))[0]
        >= rules.max_requests_per_window,
        backlog=state.deferred,
        max_deferred=rules.max_deferred,
        door_removed=rules.removed,
    )


def _wave(state: AdmissionState, rules: Rules) -> bool:
    tripped_key = rules.wave_keys[1]
    stored = state.values[tripped_key]
    tripped_at = float(stored) if stored else None
    tripped = limits.wave_tripped(
        tripped_at,
        state.count("wave", rules.scoped(EVERYONE))[0] + 1,  # this knock arrives too
        rules.join_wave_threshold,
        rules.join_wave_cooldown,
        state.now,
    )
    if tripped != tripped_at:
        state.set_value(tripped_key, None if tripped is None else str(tripped))
    return tripped is not None


def _count(
    state: AdmissionState, arrival: Arrival, facts: Facts, verdict: Verdict, rules: Rules
) -> None:
    if verdict.answered:  # told to slow down: counting it would only keep the caller waiting
        return
    hits: list[tuple[str, str]] = []
    address = _address(arrival)
    if address is not None:  # every post a per-address caller makes counts for its address
        hits.append(("ip", rules.scoped(address)))
    if facts.honeypot is None and not facts.waiting_already:
        hits += [(scope, subject) for scope, subject, _ in _person_subjects(arrival, rules)]
        hits.append(("wave", rules.scoped(EVERYONE)))
        if verdict.state is State.QUEUED:
            hits.append(("admitted", rules.scoped(EVERYONE)))
    state.add_hits(hits)
    person = _person(arrival, rules)
    if verdict.strike_person and person is not None:
        rules.strike(state, person)
    if verdict.strike_address and address is not None:
        rules.strike(state, f"ip:{address}", free=ADDRESS_FREE_STRIKES)


def _new_knock(verdict: Verdict, arrival: Arrival) -> NewKnock:
    return NewKnock(
        knock_id=arrival.knock_id,
        user_id=verdict.user_id,
        requested_id=arrival.requested[:512],
        state=verdict.state,
        reason=verdict.reason.value if verdict.reason else None,
        source=arrival.caller.platform,
        submission_key=arrival.key,
        ip_hash=arrival.caller.ip_hash,
        answers=arrival.answers,
        door=arrival.door,
    )
