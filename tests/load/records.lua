-- tests/load/records.lua — the wrk script of the record cases of scripts/bench.sh.
--
--   CRM_BENCH_TOKEN=<jwt> CRM_BENCH_MODE=ids CRM_BENCH_MAX_ID=1000000 \
--     wrk -t2 -c16 -d10s -s tests/load/records.lua http://127.0.0.1:28080/api/v1/customers
--
-- Loads tests/load/report.lua (CRM_BENCH_REPORT_LUA, else that path from the
-- current directory) for the Authorization header and the CRM_BENCH line it
-- prints when done, and sends, by CRM_BENCH_MODE:
--   ids     GET <url>/<id>, id random in 1..CRM_BENCH_MAX_ID
--   terms   GET <url>&q=<term> (or ?q=), term a random line of CRM_BENCH_TERMS_FILE
--   create  POST <url> with a new customer (a unique name, "force": true)
-- Requests of the first two modes are built once per thread (a pool of
-- random ones, drawn at random), so that wrk spends little of the CPU the
-- server needs.

dofile(os.getenv("CRM_BENCH_REPORT_LUA") or "tests/load/report.lua")

local mode = os.getenv("CRM_BENCH_MODE") or "ids"
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

local pool = {}
local tid = 0
local sent = 0
local stamp = ""

local function urlencode(s)
    return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
    tid = tonumber(wrk.thread:get("tid")) or 0
    math.randomseed(os.time() * 100 + tid)
    stamp = string.format("%x%02d", os.time(), tid)
    local path = wrk.path
    if mode == "ids" then
        local max = tonumber(os.getenv("CRM_BENCH_MAX_ID") or "")
        assert(max and max >= 1, "CRM_BENCH_MAX_ID must be set")
        for i = 1, 4096 do
            pool[i] = wrk.format("GET", path .. "/" .. math.random(1, max))
        end
    elseif mode == "terms" then
        local name = os.getenv("CRM_BENCH_TERMS_FILE")
        assert(name, "CRM_BENCH_TERMS_FILE must be set")
        local file = assert(io.open(name, "r"))
        local sep = path:find("?", 1, true) and "&" or "?"
        for line in file:lines() do
            if line ~= "" then
                pool[#pool + 1] = wrk.format("GET", path .. sep .. "q=" .. urlencode(line))
            end
        end
        file:close()
        assert(#pool > 0, "no terms in CRM_BENCH_TERMS_FILE")
    elseif mode == "create" then
        wrk.headers["Content-Type"] = "application/json"
    else
        error("unknown CRM_BENCH_MODE " .. mode)
    end
end

local industries = { "信息技术", "批发零售", "物流", "医药", "建筑", "教育" }
local words = { "科技", "贸易", "物流", "医药", "建材", "教育科技" }

function request()
    if mode ~= "create" then
        return pool[math.random(1, #pool)]
    end
    sent = sent + 1
    local k = math.random(1, #words)
    local body = string.format(
        '{"name":"压测新建%s-%d%s有限公司","industry":"%s","level":"B","source":"压测",' ..
        '"phone":"1%d%09d","email":"bench%s-%d@example.com","force":true}',
        stamp, sent, words[k], industries[k], math.random(3, 9), math.random(0, 999999999), stamp, sent)
    return wrk.format("POST", wrk.path, nil, body)
end
