-- wrk script for `python -m bench.intake`: signed Tally deliveries, each body sent at most once.
--
--   wrk -t T -c C -d <long> -s bench/intake.lua URL -- <bodies> <seconds> <once|wrap> <outdir>
--
-- Thread n reads `<bodies>.<n>` (lines `<Tally-Signature>\t<body>`, or
-- `<Tally-Signature>\t<body>\t<path>` for a body posted to another path than the URL's: a
-- door's webhook), so threads hand out disjoint slices. Each thread sends for <seconds> from its
-- first request, then sends nothing more and waits for every answer (a long delay() parks each
-- connection), so that each request sent is answered and the knocks in the database can be
-- matched with the 202s seen. It then writes `<outdir>/drained.<n>`; the caller interrupts wrk
-- once every thread has, and done() prints one `BENCH {json}` line. With `once` a thread that
-- runs out of bodies stops early (and says so); `wrap` reuses them (for the bare route, which
-- stores nothing). 202 answers' knock ids are written to `<outdir>/ids.<n>` with `once`.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local clock = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1
local PARKED_MS = 1e9 -- longer than any run

local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
    return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

-- The setup/done state (wrk's main Lua state).
local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

-- Per-thread state; globals so that done() can read them with thread:get().
sent, answered, in_window, exhausted, drained = 0, 0, 0, 0, 0
statuses, ids = {}, {}
started, deadline = 0, 0

local requests, count, reserved, next_index = {}, 0, 0, 0
local seconds, wrap, outdir
local ids_count = 0

function init(args)
    local file = args[1] .. "." .. tid
    seconds, wrap, outdir = tonumber(args[2]), args[3] == "wrap", args[4]
    if not wrap then
        outdir_ids = outdir .. "/ids." .. tid
    end
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(file) do
        local signature, body, path = line:match("^([^\t]*)\t([^\t]*)\t?([^\t]*)$")
        headers["Tally-Signature"] = signature
        count = count + 1
        if path == "" then
            path = "/invite_from_form"
        end
        requests[count] = wrk.format("POST", path, headers, body)
    end
end

local function check_drained()
    if drained == 0 and answered == reserved then
        drained = 1
        local marker = io.open(outdir .. "/drained." .. tid, "w")
        marker:write(tostring(answered))
        marker:close()
    end
end

function delay()
    local t = now()
    if started == 0 then
        started, deadline = t, t + seconds
    end
    if t < deadline and (wrap or reserved < count) then
        reserved = reserved + 1
        return 0
    end
    if t < deadline then
        exhausted = 1
    end
    check_drained()
    return PARKED_MS
end

function request()
    if started == 0 then
        return requests[1] -- wrk checks that the script makes a valid request before the run
    end
    next_index = next_index + 1
    sent = sent + 1
    local i = next_index
    if wrap then
        i = (i - 1) % count + 1
    end
    return requests[i]
end

function response(status, headers, body)
    answered = answered + 1
    statuses[status] = (statuses[status] or 0) + 1
    if now() <= deadline then
        in_window = in_window + 1
    end
    if status == 202 and not wrap then
        local id = body:match('"knock_id":"([^"]+)"')
        if id then
            ids_count = ids_count + 1
            ids[ids_count] = id
        end
    end
end

function done(summary, latency, requests_stats)
    local totals = { sent = 0, answered = 0, in_window = 0, exhausted = 0, drained = 0 }
    local status_totals = {}
    local first, last = nil, nil
    for _, thread in ipairs(threads) do
        for name, _ in pairs(totals) do
            totals[name] = totals[name] + thread:get(name)
        end
        for status, n in pairs(thread:get("statuses")) do
            status_totals[status] = (status_totals[status] or 0) + n
        end
        local s, d = thread:get("started"), thread:get("deadline")
        if s > 0 then
            first = first and math.min(first, s) or s
            last = last and math.max(last, d) or d
        end
        local out = thread:get("outdir_ids")
        if out then
            local f = io.open(out, "w")
            for _, id in ipairs(thread:get("ids")) do
                f:write(id, "\n")
            end
            f:close()
        end
    end
    local parts = {}
    for name, value in pairs(totals) do
        table.insert(parts, string.format('"%s": %d', name, value))
    end
    local codes = {}
    for status, n in pairs(status_totals) do
        table.insert(codes, string.format('"%d": %d', status, n))
    end
    table.insert(parts, '"statuses": {' .. table.concat(codes, ", ") .. "}")
    table.insert(parts, string.format('"threads": %d', #threads))
    table.insert(parts, string.format('"window_s": %.6f', first and (last - first) or 0))
    local errors = summary.errors
    table.insert(
        parts,
        string.format(
            '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}',
            errors.connect,
            errors.read,
            errors.write,
            errors.timeout
        )
    )
    table.insert(
        parts,
        string.format(
            '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}',
            latency:percentile(50),
            latency:percentile(90),
            latency:percentile(99),
            latency.max
        )
    )
    io.write("BENCH {" .. table.concat(parts, ", ") .. "}\n")
end
