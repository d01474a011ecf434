-- wrk script for bench/api_bench.py: GraphQL requests, POST (JSON bodies) or GET (paths with query strings).
--
-- $WRK_BODY_FILE holds one request per line; requests cycle through them (S1 uses many episode ids, S2 one request).
-- With $WRK_METHOD unset or POST, a line is a JSON body POSTed to the URL's path; with WRK_METHOD=GET, a line is a
-- path with its query string (`/graphql?operationName=...&variables=...&extensions=...`, already URL-encoded),
-- fetched with GET. $WRK_HEADERS: extra request headers, "Name: value" separated by "|" (e.g.
-- "Cache-Control: no-cache"). done() prints one machine-readable line, "BENCH_JSON {...}", latencies in microseconds.
--
--   WRK_BODY_FILE=body.jsonl wrk -t1 -c16 -d10s -s bench/graphql_post.lua http://127.0.0.1:8000/graphql
--   WRK_METHOD=GET WRK_BODY_FILE=paths.txt wrk -t1 -c16 -d10s -s bench/graphql_post.lua http://127.0.0.1:8000

local path = os.getenv("WRK_BODY_FILE")
if path == nil then
  error("set WRK_BODY_FILE to a file with one request (JSON body, or path for GET) per line")
end
local method = os.getenv("WRK_METHOD") or "POST"
if method ~= "POST" and method ~= "GET" then
  error("WRK_METHOD must be POST or GET, not " .. method)
end

local lines = {}
for line in io.lines(path) do
  if line:match("%S") then
    lines[#lines + 1] = line
  end
end
if #lines == 0 then
  error("no requests in " .. path)
end

wrk.method = method
wrk.headers["Accept"] = "application/json" -- a GET without `query` and Accept: */* would get GraphiQL's page
if method == "POST" then
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = lines[1]
end
for header in (os.getenv("WRK_HEADERS") or ""):gmatch("[^|]+") do
  local name, value = header:match("^%s*([^:]+):%s*(.-)%s*$")
  if name == nil then
    error("WRK_HEADERS: expected 'Name: value', got " .. header)
  end
  wrk.headers[name] = value
end

local requests = {}
local n = 0
local i = 0

function init(args)
  -- Pre-format every request once per thread; request() then only picks the next one.
  for _, line in ipairs(lines) do
    if method == "POST" then
      requests[#requests + 1] = wrk.format("POST", nil, nil, line)
    else
      requests[#requests + 1] = wrk.format("GET", line)
    end
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
