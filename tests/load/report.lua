-- tests/load/report.lua — the wrk script of scripts/bench.sh.
--
--   CRM_BENCH_TOKEN=<jwt> wrk -t2 -c16 -d10s -s tests/load/report.lua http://127.0.0.1:28080/api/v1/me
--
-- Sends GET requests to the URL given to wrk, with `Authorization: Bearer
-- $CRM_BENCH_TOKEN` when that variable is set. When the run is done it prints
-- one parseable line (wrk's own output rounds latencies and has no exact p50):
--
--   CRM_BENCH requests=N duration_s=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D non_2xx=E socket_errors=F
--
-- non_2xx counts answers with a status >= 400 (wrk's "errors.status"); a
-- benchmark run with any of them measured something else than intended.

local token = os.getenv("CRM_BENCH_TOKEN")
if token ~= nil and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.headers["User-Agent"] = "crm-bench/1 (wrk)"

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local function ms(p)
        return latency:percentile(p) / 1000.0
    end
    io.write(string.format(
        "CRM_BENCH requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non_2xx=%d socket_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        ms(50), ms(90), ms(99), latency.max / 1000.0,
        e.status, e.connect + e.read + e.write + e.timeout))
end
