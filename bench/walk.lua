-- wrk script: walks the request mix written by bench/mix.py.
--   wrk -s bench/walk.lua http://127.0.0.1:PORT -- PATHS_FILE HOST SEED
-- Every request is formatted once in init(), so request() costs wrk only a
-- table lookup (wrk's CPU must not become the limit). Each thread starts at
-- its own seeded offset. No response() callback: defining one makes wrk hand
-- every response to Lua, which costs more than the ceiling app itself.
-- done() prints one JSON line, prefixed by BENCH_JSON, for bench/wrk.py.

local requests = {}
local count = 0
local position = 0
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function init(args)
  local paths_file, host, seed = args[1], args[2], tonumber(args[3] or "1")
  local headers = {
    ["Host"] = host,
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
    ["Accept"] = "*/*",
    ["Accept-Language"] = "en-US,en;q=0.5",
    ["Accept-Encoding"] = "gzip, deflate, br, zstd",
    ["Connection"] = "keep-alive",
  }
  for line in io.lines(paths_file) do
    if #line > 0 then
      count = count + 1
      requests[count] = wrk.format("GET", line, headers)
    end
  end
  math.randomseed(seed + (thread_number or 0))
  position = math.random(count) - 1
end

function request()
  position = position % count + 1
  return requests[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
