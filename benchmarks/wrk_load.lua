-- wrk script for bench_api.py: POSTs the JSON bodies of a file (one a line) in turn and
-- prints the run's figures as one JSON line. Arguments: path, bearer header, bodies file,
-- first line to send (so the warm-up and the measurement send different bodies).
local path, auth
local bodies = {}
local at = 0

init = function(args)
  path, auth = args[1], args[2]
  for line in io.lines(args[3]) do bodies[#bodies + 1] = line end
  at = tonumber(args[4]) or 0
end

request = function()
  at = at % #bodies + 1
  local headers = { ["Content-Type"] = "application/json" }
  if auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", path, headers, bodies[at])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
