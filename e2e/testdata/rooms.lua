-- wrk script for e2e/load_test.go: GET /api/v1/rooms/<one of 2000 rooms>, counting answers by status.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  return wrk.format("GET", "/api/v1/rooms/wrk-" .. math.random(1, 2000))
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do
      io.write(string.format("status %d %d\n", code, n))
    end
  end
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
end
