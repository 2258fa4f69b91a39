-- bench/eval/gen_locomo.lua: writes a synthetic LoCoMo-format evaluation set
-- (the snap-research layout astrocyte.eval.locomo reads) big enough that
-- recall@k does not saturate: per sample two speakers, 20 dated sessions of
-- 15 turns, mostly everyday filler, with facts planted in a few turns and
-- questions about them worded differently from the turns (paraphrases), of
-- the four scored categories: 1 multi-hop (two evidence turns), 2 temporal
-- (a date the answer must resolve), 3 open-domain (inference), 4 single-hop.
-- Deterministic for a seed. Usage: lua5.4 gen_locomo.lua OUT.json [samples] [seed]
local util = require "astrocyte.util"

local out_path = arg[1] or "locomo_synth.json"
local n_samples = tonumber(arg[2]) or 4
local seed = tonumber(arg[3]) or 7

local function rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return math.floor(seed / 2147483648 * n) + 1
end
local function pick(list) return list[rand(#list)] end

local NAMES = { "Maya", "Tom", "Priya", "Jonas", "Elena", "Ravi", "Sofia", "Daniel", "Aisha", "Marco", "Lena", "Kenji" }
local JOBS = { { "nurse", "St. Mary's hospital", "works in healthcare caring for patients" },
  { "carpenter", "a furniture workshop", "builds furniture out of wood" },
  { "data analyst", "a shipping company", "analyses data" }, { "baker", "a small bakery downtown", "bakes bread" },
  { "pilot", "a regional airline", "flies planes" }, { "librarian", "the city library", "manages books" } }
local ANIMALS = { { "kitten", "cat" }, { "puppy", "dog" }, { "rabbit", "bunny" }, { "parrot", "bird" } }
local PETS = { "Biscuit", "Miso", "Pepper", "Noodle", "Juniper", "Waffles", "Olive", "Clover" }
local CITIES = { "Lisbon", "Montreal", "Osaka", "Edinburgh", "Valencia", "Melbourne", "Krakow", "Denver" }
local HOBBIES = { { "pottery", "ceramics" }, { "salsa dancing", "dance" }, { "violin", "music" },
  { "rock climbing", "climbing" }, { "watercolor painting", "painting" } }
local PLACES = { "Iceland", "the Grand Canyon", "Kyoto", "the Scottish Highlands", "Patagonia", "Crete" }
local DISHES = { "Sichuan hotpot", "spicy vindaloo", "jalapeño tacos", "kimchi stew" }
local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August", "September",
  "October", "November", "December" }

local FILLER = {
  "The weather has been %s all week, I barely left the house.",
  "Did you watch the new episode of that %s show? I can't stop thinking about it.",
  "Work was %s today, too many meetings again.",
  "I cooked %s pasta last night, it turned out better than expected.",
  "My neighbour keeps playing %s music late at night.",
  "I'm thinking about repainting the kitchen a %s color.",
  "Traffic this morning was %s, I was almost late.",
  "I finally finished that %s book you recommended.",
  "We should grab coffee sometime, maybe at that %s place near the park.",
  "My phone has been acting %s lately, I might need a new one.",
  "Honestly I just want a %s weekend with no plans at all.",
  "The gym was %s today, every machine was taken.",
}
local ADJ = { "rainy", "crazy", "quiet", "spicy", "loud", "green", "terrible", "mysterious", "cozy", "slow",
  "busy", "weird", "lazy", "sunny", "long", "boring" }
local REPLIES = { "Haha, same here.", "Oh no, that sounds annoying.", "Really? Tell me more.",
  "That's so typical.", "I know exactly what you mean.", "Nice, good for you!", "Ugh, I feel that." }

local function filler() return string.format(pick(FILLER), pick(ADJ)) end

-- ISO date + n days → {day, month name, year} text "7 May 2023".
local function day_text(ms) local y, m, d = util.iso(ms):match("^(%d+)%-(%d+)%-(%d+)")
  return tonumber(d) .. " " .. MONTHS[tonumber(m)] .. " " .. y end
local function locomo_date(ms)
  local y, m, d = util.iso(ms):match("^(%d+)%-(%d+)%-(%d+)")
  return "7:30 pm on " .. tonumber(d) .. " " .. MONTHS[tonumber(m)] .. ", " .. y
end

local samples = {}
for s = 1, n_samples do
  local a, b = NAMES[(s * 2 - 1) % #NAMES + 1], NAMES[(s * 2) % #NAMES + 1]
  local conv = { speaker_a = a, speaker_b = b }
  local sessions, qa = {}, {}
  local start = util.parse_iso("2023-01-05") + rand(60) * 86400000
  for i = 1, 20 do
    local turns = {}
    for t = 1, 15 do
      local spk = (t % 2 == 1) and a or b
      turns[t] = { speaker = spk, dia_id = ("D%d:%d"):format(i, t), text = (t % 2 == 1) and filler() or pick(REPLIES) }
    end
    sessions[i] = { turns = turns, ms = start + (i - 1) * 9 * 86400000 }
  end
  -- Plants a fact: sets turn text (speaker a at odd turn) and returns dia_id.
  local function plant(session, text, who)
    local t = (who == "b") and (2 * rand(7)) or (2 * rand(7) - 1)
    local turn = sessions[session].turns[t]
    turn.text = text
    return turn.dia_id, turn.speaker
  end
  local used = {}
  local function free_session()
    local i
    repeat i = rand(20) until not used[i]
    used[i] = true
    return i
  end
  -- single-hop facts (category 4)
  local job = pick(JOBS)
  local id = plant(free_session(), "Big news: I just started working as a " .. job[1] .. " at " .. job[2] .. ".")
  qa[#qa + 1] = { question = (s % 2 == 0) and ("What is " .. a .. "'s occupation?")
                    or ("Where did " .. a .. " start working, and as what?"), answer = job[1], evidence = { id }, category = 4 }
  local animal, pet = pick(ANIMALS), pick(PETS)
  id = plant(free_session(), "We adopted a little " .. animal[1] .. " and named her " .. pet .. ".")
  qa[#qa + 1] = { question = (s % 2 == 1) and ("What is the name of " .. a .. "'s " .. animal[2] .. "?")
                    or ("What did " .. a .. " name the " .. animal[1] .. " they adopted?"), answer = pet, evidence = { id }, category = 4 }
  local hobby = pick(HOBBIES)
  id = plant(free_session(), "I signed up for " .. hobby[1] .. " lessons on Thursday evenings.")
  qa[#qa + 1] = { question = "Which " .. hobby[2] .. " activity has " .. a .. " taken up?", answer = hobby[1], evidence = { id }, category = 4 }
  local city = pick(CITIES)
  id = plant(free_session(), "I'm relocating to " .. city .. " next month for a new role.")
  qa[#qa + 1] = { question = (s % 2 == 0) and ("Where is " .. a .. " moving?")
                    or ("Which city is " .. a .. " relocating to for the new role?"), answer = city, evidence = { id }, category = 4 }
  -- temporal (category 2): the answer is the day before the session date
  local place = pick(PLACES)
  local si = free_session()
  id = plant(si, "We got back from " .. place .. " yesterday, I'm still jet-lagged.")
  qa[#qa + 1] = { question = "When did " .. a .. " return from " .. place .. "?",
                  answer = day_text(sessions[si].ms - 86400000), evidence = { id }, category = 2 }
  -- multi-hop (category 1): sibling's job in one session, house in another
  local sib, sjob, scity = pick(NAMES), pick(JOBS), pick(CITIES)
  local id1 = plant(free_session(), "My brother " .. sib .. " became a " .. sjob[1] .. " this year.", "b")
  local id2 = plant(free_session(), sib .. " just bought a house in " .. scity .. ", near the river.", "b")
  qa[#qa + 1] = { question = "In which city did the " .. sjob[1] .. " in " .. b .. "'s family buy a home?",
                  answer = scity, evidence = { id1, id2 }, category = 1 }
  -- open-domain (category 3)
  local dish = pick(DISHES)
  id = plant(free_session(), "I could eat " .. dish .. " every day, the hotter the better.")
  qa[#qa + 1] = { question = "Would " .. a .. " likely enjoy a very spicy curry?", answer = "yes; likes hot food",
                  evidence = { id }, category = 3 }
  for i, sess in ipairs(sessions) do
    conv["session_" .. i] = sess.turns
    conv["session_" .. i .. "_date_time"] = locomo_date(sess.ms)
  end
  samples[s] = { sample_id = "synth-" .. s, conversation = conv, qa = qa }
end

local f = assert(io.open(out_path, "w"))
f:write(util.encode(samples))
f:close()
print(("wrote %s: %d samples, %d sessions, %d questions"):format(out_path, #samples, #samples * 20, #samples * 7))
