-- wrk script for bench/api_bench.py: POST GraphQL request bodies to the URL's path.
--
-- $WRK_BODY_FILE holds one JSON request body per line; requests cycle through them (S1 uses many episode ids,
-- S2 one body). done() prints one machine-readable line, "BENCH_JSON {...}", with latencies in microseconds.
--
--   WRK_BODY_FILE=body.jsonl wrk -t1 -c16 -d10s -s bench/graphql_post.lua http://127.0.0.1:8000/graphql

local path = os.getenv("WRK_BODY_FILE")
if path == nil then
  error("set WRK_BODY_FILE to a file with one JSON request body per line")
end

local bodies = {}
for line in io.lines(path) do
  if line:match("%S") then
    bodies[#bodies + 1] = line
  end
end
if #bodies == 0 then
  error("no request bodies in " .. path)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = bodies[1]

local requests = {}
local n = 0
local i = 0

function init(args)
  -- Pre-format every request once per thread; request() then only picks the next one.
  for _, body in ipairs(bodies) do
    requests[#requests + 1] = wrk.format("POST", nil, nil, body)
  end
  n = #requests
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
