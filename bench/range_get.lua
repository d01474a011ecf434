-- wrk script for bench/edge_bench.py: GET the URL's path with a random single byte range per request.
--
-- $WRK_FILE_SIZE: the object's size in bytes; $WRK_RANGE_BYTES: bytes per range (default 1048576).
-- Each request asks for "Range: bytes=start-(start+len-1)" with a uniformly random start in [0, size-len];
-- every thread has its own random generator, seeded from $WRK_SEED (default 1) and the thread's number, so
-- two runs with the same seed ask for the same ranges in the same order per thread.
-- done() prints one machine-readable line, "BENCH_JSON {...}", with latencies in microseconds.
--
--   WRK_FILE_SIZE=52428800 wrk -t2 -c16 -d10s --latency -s bench/range_get.lua http://127.0.0.1:8080/path

local size = tonumber(os.getenv("WRK_FILE_SIZE") or "")
if size == nil then
  error("set WRK_FILE_SIZE to the size of the object in bytes")
end
local len = tonumber(os.getenv("WRK_RANGE_BYTES") or "1048576")
if len < 1 or len > size then
  error("WRK_RANGE_BYTES must be between 1 and WRK_FILE_SIZE")
end
local base_seed = tonumber(os.getenv("WRK_SEED") or "1")

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  -- thread_no is set by setup() in the main state before this thread's init runs
  math.randomseed(base_seed * 1000 + (thread_no or 0))
  math.random(); math.random()  -- LuaJIT's first values after seeding are poorly mixed
end

local span = size - len  -- starts 0..span inclusive

function request()
  -- math.random(m, n) is exact for integers below 2^31; two draws cover larger spans too
  local start
  if span < 2147483647 then
    start = math.random(0, span)
  else
    start = (math.random(0, 65535) * 65536 + math.random(0, 65535)) % (span + 1)
  end
  return wrk.format(nil, nil, { ["Range"] = string.format("bytes=%d-%d", start, start + len - 1) })
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
