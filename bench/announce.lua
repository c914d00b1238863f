-- wrk script: realistic announces against a database filled by bench/run.
-- A random registered torrent, a 20-byte peer_id with every byte percent-encoded, a key, half
-- seeders, compact=1, numwant=50; mostly re-announces of peers already in the table, one in ten
-- a new peer with event=started. Reads BENCH_HASHES (a file of hex info hashes, line N = tid N),
-- BENCH_TORRENTS and BENCH_PEERS from the environment.
local hashes = {}
local torrents = tonumber(os.getenv("BENCH_TORRENTS"))
local peers = tonumber(os.getenv("BENCH_PEERS"))

local function percent(hex)
    return (hex:gsub("..", "%%%0"))
end

for line in io.lines(os.getenv("BENCH_HASHES")) do
    hashes[#hashes + 1] = percent(line)
end

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #tostring({}))
end

function request()
    local seq = math.random(1, peers)
    local key = "p" .. seq
    local event = ""
    if math.random(1, 10) == 1 then
        seq = math.random(1, peers)
        key = "n" .. math.random(1, 99999999)
        event = "&event=started"
    end
    local torrent = (seq % torrents) + 1
    local left = (seq % 2 == 0) and "0" or "1000"
    local peer_id = percent(string.format("2d4254303030312d%024x", seq))
    local path = "/announce?info_hash=" .. hashes[torrent] .. "&peer_id=" .. peer_id ..
        "&port=" .. (10000 + seq % 50000) .. "&uploaded=0&downloaded=0&left=" .. left ..
        "&key=" .. key .. "&compact=1&numwant=50" .. event
    return wrk.format("GET", path)
end
