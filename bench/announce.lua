-- wrk script: realistic announces against a database filled by bench/run.
-- A random registered torrent, a 20-byte peer_id with every byte percent-encoded, a key, half
-- seeders, compact=1, numwant=50; mostly re-announces of peers already in the table, a share
-- of new peers with event=started. From the environment:
--   BENCH_HASHES    a file of hex info hashes, line N = tid N
--   BENCH_TORRENTS  torrents in the fill; BENCH_PEERS peers in it (peer N in torrent N % T + 1)
--   BENCH_HOT       announce to the first HOT torrents only (default: all of them)
--   BENCH_NEW       percent of announces that are new peers (default 10)
--   BENCH_STOP      percent that are a fill peer's event=stopped (default 0; its next announce
--                   joins again)
--   BENCH_DELAY_MS  each connection waits this long after an answer (default 0): a set pace
--   BENCH_PART      "I/N": re-announce only the I-th of N shares of each torrent's fill peers
--                   (default "0/1", all of them), so that targets measured in turn each have
--                   peers of their own, whose held writes only their own processes make
local torrents = tonumber(os.getenv("BENCH_TORRENTS"))
local peers = tonumber(os.getenv("BENCH_PEERS"))
local hot = tonumber(os.getenv("BENCH_HOT") or "") or torrents
local new = tonumber(os.getenv("BENCH_NEW") or "") or 10
local stop = tonumber(os.getenv("BENCH_STOP") or "") or 0
local perTorrent = math.max(1, math.floor(peers / torrents))
local part, parts = (os.getenv("BENCH_PART") or "0/1"):match("^(%d+)/(%d+)$")
part, parts = tonumber(part) or 0, math.max(1, tonumber(parts) or 1)
if parts > perTorrent or part >= parts then
    error("BENCH_PART " .. part .. "/" .. parts .. ": a torrent has " .. perTorrent .. " fill peers")
end
local hashes = {}

local function percent(hex)
    return (hex:gsub("..", "%%%0"))
end

for line in io.lines(os.getenv("BENCH_HASHES")) do
    hashes[#hashes + 1] = percent(line)
    if #hashes >= hot then
        break
    end
end

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "") or 0
if pause > 0 then
    function delay()
        return pause
    end
end

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #tostring({}))
end

function request()
    local torrent = math.random(1, hot)
    -- One of the fill's peers of that torrent, seq = torrent - 1 + k * torrents, of the share
    -- whose k is `part` modulo `parts`.
    local k = part + parts * math.random(0, math.floor((perTorrent - 1 - part) / parts))
    local seq = torrent - 1 + k * torrents
    if seq == 0 then
        seq = peers
    end
    local key = "p" .. seq
    local event = ""
    local draw = math.random(1, 100)
    if draw <= new then
        seq = math.random(1, peers)
        key = "n" .. math.random(1, 99999999)
        event = "&event=started"
    elseif draw <= new + stop then
        event = "&event=stopped"
    end
    local left = (seq % 2 == 0) and "0" or "1000"
    local peer_id = percent(string.format("2d4254303030312d%024x", seq))
    local path = "/announce?info_hash=" .. hashes[torrent] .. "&peer_id=" .. peer_id ..
        "&port=" .. (10000 + seq % 50000) .. "&uploaded=0&downloaded=0&left=" .. left ..
        "&key=" .. key .. "&compact=1&numwant=50" .. event
    return wrk.format("GET", path)
end
