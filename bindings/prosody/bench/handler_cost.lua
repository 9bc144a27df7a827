-- Per-IQ cost of mod_xmpp_sic's and mod_ipcheck's handlers, measured with
-- os.clock in one lua5.4 process that uses Prosody's own libraries, so that
-- only the handlers differ. Each handler gets the stanza Prosody would give it
-- and a session whose send() serialises, as mod_c2s's does.
--   lua5.4 handler_cost.lua MOD_XMPP_SIC_LUA MOD_IPCHECK_LUA [iterations [rounds]]
-- with LUA_CPATH finding xmpp_sic.so (trailing ";;").

local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../tests/?.lua;" .. package.path
local fake = require "fake_module" -- sets Prosody's library paths
local xml_parse = require "util.xml".parse

local ours_path, ipcheck_path = arg[1], arg[2]
local iterations, rounds = tonumber(arg[3] or "100000"), tonumber(arg[4] or "5")

local function load_module(path)
	return fake.load(path).hooks
end

local conn = fake.conn("127.0.0.1", 41234)

-- send() serialises, as mod_c2s's does, and keeps nothing.
local sent = 0
local origin = {
	type = "c2s", full_jid = "alice@localhost/bench", username = "alice", host = "localhost",
	ip = "127.0.0.1", conn = conn,
	send = function(stanza)
		sent = sent + #tostring(stanza)
		return true
	end,
}

local function request(payload)
	-- As the router leaves it: parsed from the stream, 'from' stamped.
	local stanza = xml_parse("<iq type='get' id='bench-1234'>" .. payload .. "</iq>")
	stanza.attr.from = origin.full_jid
	return stanza
end

-- Interleaved rounds, best of each: on a shared machine the minimum is the
-- figure least disturbed by other processes.
local function measure_all(cases, rounds)
	local best = {}
	for _ = 1, rounds do
		for i, case in ipairs(cases) do
			local handler, event = case.handler, { origin = origin, stanza = case.stanza, to_self = true }
			for _ = 1, 2000 do handler(event) end -- warm up
			collectgarbage("collect")
			local t0 = os.clock()
			for _ = 1, iterations do
				handler(event)
			end
			local us = (os.clock() - t0) / iterations * 1e6
			best[i] = math.min(best[i] or math.huge, us)
		end
	end
	for i, case in ipairs(cases) do
		print(string.format("%-34s %6.2f us/IQ", case.label, best[i]))
	end
	return best
end

local ours = load_module(ours_path)
local ipcheck = load_module(ipcheck_path)
local sic1 = request("<address xmlns='urn:xmpp:sic:1'/>")
local sic0 = request("<ip xmlns='urn:xmpp:sic:0'/>")

print(string.format("%d iterations x %d rounds, %s", iterations, rounds, _VERSION))
local best = measure_all({
	{ label = "mod_xmpp_sic  sic:1 <address/>", handler = ours["iq/bare/urn:xmpp:sic:1:address"], stanza = sic1 },
	{ label = "mod_ipcheck   sic:1 <address/>", handler = ipcheck["iq-get/bare/urn:xmpp:sic:1:address"], stanza = sic1 },
	{ label = "mod_xmpp_sic  sic:0 <ip/>", handler = ours["iq/bare/urn:xmpp:sic:0:ip"], stanza = sic0 },
	{ label = "mod_ipcheck   sic:0 <ip/>", handler = ipcheck["iq-get/bare/urn:xmpp:sic:0:ip"], stanza = sic0 },
}, rounds)
print(string.format("ratio mod_xmpp_sic/mod_ipcheck: sic:1 %.2f, sic:0 %.2f", best[1] / best[2], best[3] / best[4]))
