-- Per-IQ cost of mod_xmpp_sic's and mod_ipcheck's handlers, and of
-- mod_bench_native_sic's (this directory: the same sic:1 reply with no
-- library call), measured with os.clock in one lua5.4 process that uses
-- Prosody's own libraries, so that only the handlers differ. Each handler gets the stanza Prosody would give it
-- and a session whose send() serialises, as mod_c2s's does.
--
-- Then the same request from its bytes: Prosody's path (a long-lived
-- util.xmppstream parser, as each c2s session has, fed the stanza; the
-- handler; tostring of the reply in send()) with mod_ipcheck, with
-- mod_xmpp_sic and with the native handler, against xmpp_sic.handle_iq on the
-- same string.
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

local function median(xs)
	table.sort(xs)
	return xs[(#xs + 1) // 2]
end

-- Interleaved rounds, so load from elsewhere on the machine hits every case
-- alike; median and minimum of the rounds. Each case is a function doing one
-- IQ's work.
local function measure_all(cases, rounds)
	local times = {}
	for i = 1, #cases do times[i] = {} end
	for _ = 1, rounds do
		for i, case in ipairs(cases) do
			local fn = case.fn
			for _ = 1, 2000 do fn() end -- warm up
			collectgarbage("collect")
			local t0 = os.clock()
			for _ = 1, iterations do
				fn()
			end
			table.insert(times[i], (os.clock() - t0) / iterations * 1e6)
		end
	end
	local medians = {}
	for i, case in ipairs(cases) do
		local low = math.min(table.unpack(times[i]))
		medians[i] = median(times[i])
		print(string.format("%-58s %6.2f / %6.2f us/IQ", case.label, medians[i], low))
	end
	return medians
end

local function handler_case(label, handler, stanza)
	local event = { origin = origin, stanza = stanza, to_self = true }
	return { label = label, fn = function() handler(event) end }
end

-- Prosody's stream parser with the stream already open; feeding it a
-- stanza's bytes hands the stanza to the callback.
local parsed
local stream = require "util.xmppstream".new({ notopen = true }, {
	stream_ns = "http://etherx.jabber.org/streams",
	default_ns = "jabber:client",
	streamopened = function(session) session.notopen = nil end,
	handlestanza = function(_, stanza) parsed = stanza end,
})
assert(stream:feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"))

local function bytes_case(label, handler, bytes)
	local event = { origin = origin, to_self = true }
	return {
		label = label,
		fn = function()
			parsed = nil
			stream:feed(bytes)
			local stanza = parsed
			stanza.attr.from = origin.full_jid -- as the c2s session stamps it
			event.stanza = stanza
			handler(event)
		end,
	}
end

local lib = require "xmpp_sic"
local ours = load_module(ours_path)
local ipcheck = load_module(ipcheck_path)
local native = load_module(here .. "/mod_bench_native_sic.lua")["iq/bare/urn:bench:sic1:address"]
local sic1 = request("<address xmlns='urn:xmpp:sic:1'/>")
local sic0 = request("<ip xmlns='urn:xmpp:sic:0'/>")

local ours1, theirs1 = ours["iq/bare/urn:xmpp:sic:1:address"], ipcheck["iq-get/bare/urn:xmpp:sic:1:address"]
local ours0, theirs0 = ours["iq/bare/urn:xmpp:sic:0:ip"], ipcheck["iq-get/bare/urn:xmpp:sic:0:ip"]
print(string.format("%d iterations x %d rounds, %s; median / min us per IQ", iterations, rounds, _VERSION))
print("handlers, given the parsed stanza:")
local t = measure_all({
	handler_case("mod_xmpp_sic  sic:1 <address/>", ours1, sic1),
	handler_case("mod_ipcheck   sic:1 <address/>", theirs1, sic1),
	handler_case("mod_xmpp_sic  sic:0 <ip/>", ours0, sic0),
	handler_case("mod_ipcheck   sic:0 <ip/>", theirs0, sic0),
	handler_case("mod_bench_native_sic (no library) sic:1 reply", native, request("<address xmlns='urn:bench:sic1'/>")),
	{ label = "mod_xmpp_sic's library call alone (handle_parsed, sic:1)",
	  fn = function() return lib.handle_parsed(sic1, origin.full_jid, nil, "127.0.0.1", 41234, 0, 0, 0) end },
}, rounds)
print(string.format("ratio mod_xmpp_sic/mod_ipcheck: sic:1 %.2f, sic:0 %.2f; mod_xmpp_sic/native sic:1 %.2f",
	t[1] / t[2], t[3] / t[4], t[1] / t[5]))

local bytes = "<iq type='get' id='bench-1234'><address xmlns='urn:xmpp:sic:1'/></iq>"
assert(lib.handle_iq(bytes, origin.full_jid, nil, "127.0.0.1", 41234))
print("from the request's bytes (sic:1 <address/>):")
t = measure_all({
	bytes_case("bytes: mod_ipcheck path (xmppstream, handler, tostring)", theirs1, bytes),
	bytes_case("bytes: mod_xmpp_sic path (xmppstream, handler, tostring)", ours1, bytes),
	bytes_case("bytes: native path (xmppstream, handler, tostring)", native,
		"<iq type='get' id='bench-1234'><address xmlns='urn:bench:sic1'/></iq>"),
	{ label = "bytes: xmpp_sic.handle_iq on the same string",
	  fn = function() return lib.handle_iq(bytes, origin.full_jid, nil, "127.0.0.1", 41234) end },
}, rounds)
print(string.format("ratio mod_ipcheck path / handle_iq: %.1f; mod_ipcheck path / mod_xmpp_sic path: %.2f; "
	.. "mod_xmpp_sic path / native path: %.2f", t[1] / t[4], t[1] / t[2], t[2] / t[3]))
