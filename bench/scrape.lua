-- wrk script: scrapes of one random registered torrent (see announce.lua for the environment).
local hashes = {}
local torrents = tonumber(os.getenv("BENCH_TORRENTS"))
for line in io.lines(os.getenv("BENCH_HASHES")) do
    hashes[#hashes + 1] = (line:gsub("..", "%%%0"))
end

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #tostring({}))
end

function request()
    return wrk.format("GET", "/scrape?info_hash=" .. hashes[math.random(1, torrents)])
end
