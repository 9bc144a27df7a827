-- Tests of mod_xmpp_sic against Prosody's own libraries, outside a running
-- server: the parts the end-to-end test cannot reach (BOSH, proxied
-- WebSocket, s2s origins, library failures), and agreement between the
-- module's replies and the library's raw entry on the same requests.
--   LUA_CPATH="bindings/lua/?.so;;" LUA_PATH="bindings/lua/tests/?.lua;bindings/prosody/tests/?.lua;;" \
--     lua5.4 bindings/prosody/tests/test_module.lua bindings/prosody/mod_xmpp_sic/mod_xmpp_sic.lua

local fake = require "fake_module" -- first: sets Prosody's paths
local h = require "harness"
local st = require "util.stanza"
local xmppstream = require "util.xmppstream"
local xml_parse = require "util.xml".parse
local sic = require "xmpp_sic"

local test, eq, truthy = h.test, h.eq, h.truthy
local MODULE = assert(arg[1], "usage: test_module.lua path/to/mod_xmpp_sic.lua")
local NS0, NS1 = "urn:xmpp:sic:0", "urn:xmpp:sic:1"
local STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

-- Parses a client stream the way mod_c2s does and returns its stanzas, so
-- the trees under test are exactly what Prosody hands to modules.
local function client_stanzas(body)
	local stanzas = {}
	local session = { notopen = true }
	local stream = xmppstream.new(session, {
		stream_ns = "http://etherx.jabber.org/streams", default_ns = "jabber:client",
		streamopened = function(s) s.notopen = nil end,
		handlestanza = function(_, stanza) table.insert(stanzas, stanza) end,
		error = function(_, e, d) error("stream error " .. tostring(e) .. " " .. tostring(d)) end,
	})
	assert(stream:feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en'>"))
	assert(stream:feed(body))
	return stanzas
end

local function request(payload, attrs)
	local stanza = client_stanzas("<iq type='get' id='q1'" .. (attrs or "") .. ">" .. payload .. "</iq>")[1]
	stanza.attr.from = "alice@localhost/res" -- stamped by the router
	return stanza
end

-- Same element trees, attribute order aside. Namespaces are compared as
-- they apply: Prosody's parser writes each child's xmlns, util.stanza's
-- builders leave it to be inherited, and both serialise alike.
local function same_stanza(a, b, path, ns_a, ns_b)
	path = path or a.name
	ns_a, ns_b = a.attr.xmlns or ns_a, b.attr.xmlns or ns_b
	eq(a.name, b.name, path .. " name")
	eq(ns_a, ns_b, path .. " namespace")
	for k, v in pairs(a.attr) do
		if k ~= "xmlns" then eq(b.attr[k], v, path .. "@" .. k) end
	end
	for k, v in pairs(b.attr) do
		if k ~= "xmlns" then eq(a.attr[k], v, path .. "@" .. k) end
	end
	eq(#a, #b, path .. " children")
	eq(#a.tags, #b.tags, path .. " tags")
	for i = 1, #a do
		if type(a[i]) == "string" then
			eq(a[i], b[i], path .. " text")
		else
			same_stanza(a[i], b[i], path .. "/" .. a[i].name, ns_a, ns_b)
		end
	end
end

local function error_condition(reply)
	local err = truthy(reply:get_child("error"), "an <error/>")
	for _, child in ipairs(err.tags) do
		if child.attr.xmlns == STANZAS and child.name ~= "text" then
			return child.name, err.attr.type
		end
	end
end

-- The module ---------------------------------------------------------------

local function loaded(options)
	return fake.load(MODULE, options)
end

local function ask(state, session, stanza, kind)
	local payload = stanza.tags[1]
	local event = ("iq/%s/%s:%s"):format(kind or "bare", payload.attr.xmlns, payload.name)
	local handler = truthy(state.hooks[event], "a hook for " .. event)
	return handler({ origin = session, stanza = stanza })
end

local function address_reply(session)
	eq(#session.sent, 1, "one reply sent")
	local reply = session.sent[1]
	truthy(st.is_stanza(reply), "the reply is a util.stanza object")
	eq(reply.attr.type, "result", "result: " .. tostring(reply))
	local address = truthy(reply:get_child("address", NS1), "<address/>")
	return address:get_child_text("ip"), address:get_child_text("port"), reply
end

test("hooks and features", function()
	local state = loaded()
	for _, kind in ipairs({ "bare", "host" }) do
		for _, payload in ipairs({ NS1 .. ":address", NS0 .. ":ip", NS0 .. ":address" }) do
			truthy(state.hooks["iq/" .. kind .. "/" .. payload], "hook iq/" .. kind .. "/" .. payload)
		end
	end
	eq(table.concat(state.features, " "), NS1 .. " " .. NS0)
	eq(table.concat(loaded({ xmpp_sic_legacy = false }).features, " "), NS1, "xmpp_sic_legacy = false")
end)

test("plain c2s: address and port of the connection", function()
	local session = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 40123) })
	eq(ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>")), true, "handled")
	local ip, port, reply = address_reply(session)
	eq(ip, "192.0.2.7")
	eq(port, "40123")
	eq(reply.attr.to, "alice@localhost/res")
	eq(reply.attr.id, "q1")
end)

test("a connection with only :port() (older backends) still gives the port", function()
	local conn = { ip = function() return "2001:db8::9" end, port = function() return 5555 end }
	local session = fake.session({ ip = "2001:db8::9", conn = conn })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "2001:db8::9")
	eq(port, "5555")
end)

test("BOSH: no port, whatever connection carried the request", function()
	local session = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 40123), bosh_wait = 60 })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "192.0.2.7")
	eq(port, nil, "no port for BOSH")
end)

test("WebSocket: a direct connection keeps its port", function()
	local session = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 40123), websocket_request = {} })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "192.0.2.7")
	eq(port, "40123")
end)

test("BOSH behind a proxy: the forwarded address, no port", function()
	local session = fake.session({ ip = "203.0.113.5", conn = fake.conn("127.0.0.1", 40123), bosh_wait = 60 })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "203.0.113.5")
	eq(port, nil)
end)

test("PROXY protocol (mod_net_proxy): the client from the header, port included", function()
	local conn = fake.conn("198.51.100.4", 6123)
	conn.proxyip = function() return "127.0.0.1" end -- mod_net_proxy's marker
	local session = fake.session({ ip = "198.51.100.4", conn = conn })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "198.51.100.4")
	eq(port, "6123")
end)

test("the facts handed to the library: transport and source", function()
	-- A spy in place of the library while the module loads.
	local seen
	local spy = setmetatable({ handle_parsed = function(...)
		seen = { select(6, ...) }
		return sic.handle_parsed(...)
	end }, { __index = sic })
	package.loaded.xmpp_sic = spy
	local ok, state = pcall(loaded)
	package.loaded.xmpp_sic = sic
	assert(ok, state)
	local cases = {
		{ {}, "192.0.2.7", sic.TRANSPORT_STREAM, sic.SOURCE_SOCKET },
		{ { websocket_request = {} }, "192.0.2.7", sic.TRANSPORT_WEBSOCKET, sic.SOURCE_SOCKET },
		{ { bosh_wait = 60 }, "192.0.2.7", sic.TRANSPORT_BOSH, sic.SOURCE_SOCKET },
		{ { websocket_request = {} }, "127.0.0.1", sic.TRANSPORT_WEBSOCKET, sic.SOURCE_FORWARDED },
		{ { bosh_wait = 60 }, "127.0.0.1", sic.TRANSPORT_BOSH, sic.SOURCE_FORWARDED },
		{ { proxied = true }, "192.0.2.7", sic.TRANSPORT_STREAM, sic.SOURCE_PROXY_PROTOCOL },
	}
	for i, c in ipairs(cases) do
		local conn = fake.conn(c[2], 40000)
		if c[1].proxied then conn.proxyip = function() return "127.0.0.1" end end
		local fields = { ip = "192.0.2.7", conn = conn, bosh_wait = c[1].bosh_wait, websocket_request = c[1].websocket_request }
		seen = nil
		ask(state, fake.session(fields), request("<address xmlns='urn:xmpp:sic:1'/>"))
		truthy(seen, "case " .. i .. ": the library was called")
		eq(seen[1], c[3], "case " .. i .. " transport")
		eq(seen[2], c[4], "case " .. i .. " source")
		eq(seen[3], 0, "case " .. i .. " flags")
	end
end)

test("behind a proxy (X-Forwarded-For): the forwarded address, no port", function()
	-- mod_websocket sets session.ip from the request, which mod_http rewrote
	-- from X-Forwarded-For; the connection's peer is the proxy.
	local session = fake.session({ ip = "203.0.113.5", conn = fake.conn("127.0.0.1", 40123), websocket_request = {} })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	local ip, port = address_reply(session)
	eq(ip, "203.0.113.5")
	eq(port, nil, "the proxy's port is not the client's")
end)

test("IPv4-mapped peers are unmapped unless configured", function()
	local session = fake.session({ ip = "::ffff:192.0.2.8", conn = fake.conn("::ffff:192.0.2.8", 1) })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	eq((address_reply(session)), "192.0.2.8")
	session = fake.session({ ip = "::ffff:192.0.2.8", conn = fake.conn("::ffff:192.0.2.8", 1) })
	ask(loaded({ xmpp_sic_keep_v4_mapped = true }), session, request("<address xmlns='urn:xmpp:sic:1'/>"))
	eq((address_reply(session)), "::ffff:192.0.2.8")
end)

test("sic:0 <ip/>, to the domain, another user, type set", function()
	local state = loaded()
	local function fresh() return fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) }) end

	local s = fresh()
	ask(state, s, request("<ip xmlns='urn:xmpp:sic:0'/>"))
	eq(s.sent[1]:get_child_text("ip", NS0), "192.0.2.7", "sic:0 text")

	s = fresh()
	ask(state, s, request("<address xmlns='urn:xmpp:sic:1'/>", " to='localhost'"), "host")
	local _, _, reply = address_reply(s)
	eq(reply.attr.from, "localhost", "from the domain")

	s = fresh()
	ask(state, s, request("<address xmlns='urn:xmpp:sic:1'/>", " to='bob@localhost'"))
	eq(s.sent[1].attr.type, "error")
	eq(error_condition(s.sent[1]), "forbidden")

	s = fresh()
	local set = request("<address xmlns='urn:xmpp:sic:1'/>")
	set.attr.type = "set"
	ask(state, s, set)
	eq(error_condition(s.sent[1]), "not-allowed")
end)

test("no address known: service-unavailable", function()
	local s = fake.session({ conn = nil, ip = nil })
	ask(loaded(), s, request("<address xmlns='urn:xmpp:sic:1'/>"))
	eq(error_condition(s.sent[1]), "service-unavailable")
end)

test("a request from a remote server or component reveals no address", function()
	local s2s = fake.session({ type = "s2sin", full_jid = false, ip = "198.51.100.1",
		conn = fake.conn("198.51.100.1", 5269) })
	local stanza = request("<address xmlns='urn:xmpp:sic:1'/>", " to='alice@localhost'")
	stanza.attr.from = "mallory@remote.example/x"
	ask(loaded(), s2s, stanza)
	eq(s2s.sent[1].attr.to, "mallory@remote.example/x")
	eq(error_condition(s2s.sent[1]), "forbidden")
	truthy(not tostring(s2s.sent[1]):find("198.51.100.1", 1, true), "the s2s peer address is not sent")
end)

test("pass: the event continues and nothing is sent", function()
	local s = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	eq(ask(loaded({ xmpp_sic_legacy = false }), s, request("<ip xmlns='urn:xmpp:sic:0'/>")), nil)
	eq(#s.sent, 0, "nothing sent")
end)

test("library failures are logged, not raised, and the event continues", function()
	local state = loaded()
	local s = fake.session({ full_jid = "@not-a-jid", ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	eq(ask(state, s, request("<address xmlns='urn:xmpp:sic:1'/>")), nil)
	eq(#s.sent, 0)
	local last = state.logs[#state.logs]
	eq(last[1], "warn")
	truthy(last[2]:find("invalid argument"), last[2])

	s = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	local long_id = request("<address xmlns='urn:xmpp:sic:1'/>")
	long_id.attr.id = string.rep("x", 70000)
	eq(ask(state, s, long_id), true, "no size limit on what the library never reads")
	eq(s.sent[1].attr.id, long_id.attr.id)

	s = fake.session({ ip = "not an ip", conn = fake.conn("not an ip", 1) })
	eq(ask(state, s, request("<address xmlns='urn:xmpp:sic:1'/>")), nil)
	truthy(state.logs[#state.logs][2]:find("invalid IP address"), "bad ip logged")
end)

test("a session without a JID is left to Prosody", function()
	local s = fake.session({ full_jid = false, ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	eq(ask(loaded(), s, request("<address xmlns='urn:xmpp:sic:1'/>")), nil)
	eq(#s.sent, 0)
end)

test("the reply is util.stanza's, every element a stanza object", function()
	local session = fake.session({ ip = "2001:db8::1", conn = fake.conn("2001:db8::1", 443) })
	ask(loaded(), session, request("<address xmlns='urn:xmpp:sic:1'/>", " to='alice@localhost'"))
	local ip, port, reply = address_reply(session)
	eq(ip, "2001:db8::1")
	eq(port, "443")
	eq(reply.attr.from, "alice@localhost", "from, as st.reply sets it")
	local address = reply.tags[1]
	eq(reply[1], address, "tags and children hold the same table")
	for _, e in ipairs({ reply, address, address.tags[1], address.tags[2] }) do
		truthy(st.is_stanza(e), e.name .. " is a stanza")
	end
	-- Exactly what util.stanza's own builders make of the same answer.
	local stanza = request("<address xmlns='urn:xmpp:sic:1'/>", " to='alice@localhost'")
	local built = st.reply(stanza):tag("address", { xmlns = NS1 })
		:text_tag("ip", "2001:db8::1"):text_tag("port", "443"):up()
	built.last_add = nil
	same_stanza(reply, built)
	eq(address:get_child_text("ip"), "2001:db8::1", "get_child works on the payload")
	-- Attribute order follows Lua's hashing, which varies between runs.
	local text = tostring(reply)
	truthy(text:find("^<iq [^>]*>"), text)
	truthy(text:find("><address xmlns='urn:xmpp:sic:1'><ip>2001:db8::1</ip><port>443</port></address></iq>$"), text)
	same_stanza(st.clone(reply), reply) -- mod_smacks clones queued stanzas
end)

test("an error reply is st.error_reply's: no payload echoed, the library's text", function()
	local deep = string.rep("<x>", 5000) .. string.rep("</x>", 5000)
	local s = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	eq(ask(loaded(), s, request("<address xmlns='urn:xmpp:sic:1'>" .. deep .. "</address>")), true)
	local reply = s.sent[1]
	eq(error_condition(reply), "bad-request")
	eq(#reply.tags, 1, "only the <error/>")
	truthy(reply:get_child("error"):get_child_text("text", STANZAS), "a <text/>")
	eq(reply.attr.id, "q1")
end)

test("ids with whitespace references reach the reply as Prosody parsed them", function()
	local s = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 1) })
	local stanza = client_stanzas("<iq type='get' id='a&#10;b&#9;c&#13;'><address xmlns='urn:xmpp:sic:1'/></iq>")[1]
	stanza.attr.from = "alice@localhost/res"
	ask(loaded(), s, stanza)
	eq(s.sent[1].attr.id, "a\nb\tc\r", "the id, unchanged")
end)

-- The same request through the module (Prosody's parser, handle_parsed,
-- util.stanza) and through the library's raw entry (its own parser and
-- writer) must give the same reply, attribute order aside.
test("agreement with the library's raw entry over a corpus", function()
	local payloads = {
		"<address xmlns='urn:xmpp:sic:1'/>", "<ip xmlns='urn:xmpp:sic:0'/>", "<address xmlns='urn:xmpp:sic:0'/>",
		"<p:address xmlns:p='urn:xmpp:sic:1'/>", "<address xmlns='urn:xmpp:sic:1' a='b'/>",
		"<address xmlns='urn:xmpp:sic:1'>text</address>", "<address xmlns='urn:xmpp:sic:1'> \n </address>",
		"<address xmlns='urn:xmpp:sic:1'><ip/></address>", "<address xmlns='urn:xmpp:sic:1'/><x xmlns='y'/>",
		"<address xmlns='urn:xmpp:sic:1'/>junk", "<ip xmlns='urn:xmpp:sic:0'><a><b/></a></ip>",
	}
	local envelopes = {
		{ "get", "" }, { "set", "" }, { "get", " to='localhost'" }, { "get", " to='bob@localhost'" },
		{ "get", " to='alice@localhost'" }, { "get", " to='other.example'" }, { "get", " to='ALICE@LOCALHOST'" },
		{ "get", " xml:lang='de'" },
	}
	local compared = 0
	for _, payload in ipairs(payloads) do
		for _, envelope in ipairs(envelopes) do
			local text = "<iq type='" .. envelope[1] .. "' id='i&amp;d'" .. envelope[2] .. ">" .. payload .. "</iq>"
			local stanza = client_stanzas(text)[1]
			stanza.attr.from = "alice@localhost/res"
			stanza.attr["xml:lang"] = nil -- the stream's, not the client's; tostring would write it
			local s = fake.session({ ip = "192.0.2.7", conn = fake.conn("192.0.2.7", 5222) })
			local handled = ask(loaded(), s, stanza, stanza.attr.to == "localhost" and "host" or "bare")
			local raw = sic.handle_iq(text, "alice@localhost/res", stanza.attr.to, "192.0.2.7", 5222)
			if raw == false then
				eq(handled, nil, text .. ": passed by both")
			else
				eq(handled, true, text .. ": handled")
				local theirs = assert(xml_parse(raw))
				theirs.attr.xmlns = nil
				local ours = s.sent[1]
				if ours.attr.type == "error" then
					-- util.stanza writes the error's <text/> with xml:lang='en';
					-- compare the envelope and the defined condition.
					eq(ours.attr.id, theirs.attr.id, text .. " id")
					eq(ours.attr.to, theirs.attr.to, text .. " to")
					eq(ours.attr.from, theirs.attr.from, text .. " from")
					eq(theirs.attr.type, "error", text .. " raw type")
					local a, b = error_condition(ours), error_condition(theirs)
					eq(a, b, text .. " condition")
					eq(ours:get_child("error").attr.type, theirs:get_child("error").attr.type, text .. " error type")
					eq(ours:get_child("error"):get_child_text("text", STANZAS),
						theirs:get_child("error"):get_child_text("text", STANZAS), text .. " error text")
				else
					same_stanza(ours, theirs, text)
				end
				compared = compared + 1
			end
		end
	end
	truthy(compared >= 60, compared .. " replies compared")
end)

test("mod_ipcheck alongside: a warning", function()
	fake.set_loaded("ipcheck", true)
	local state = loaded()
	fake.set_loaded("ipcheck", false)
	truthy(state.logs[1] and state.logs[1][1] == "warn" and state.logs[1][2]:find("mod_ipcheck"), "warned at load")
	state = loaded()
	state.hooks["module-loaded"]({ module = "ipcheck", host = "localhost" })
	truthy(state.logs[#state.logs][2]:find("mod_ipcheck"), "warned when loaded later")
end)

h.finish("prosody module tests (" .. _VERSION .. ")")
