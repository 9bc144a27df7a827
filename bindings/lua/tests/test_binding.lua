-- Unit tests of the xmpp_sic Lua module; the same file runs on Lua 5.4 and
-- LuaJIT. run-tests.sh points LUA_CPATH at the build under test and may set
--   XMPP_SIC_ABI_MISMATCH_SO  a build that expects another ABI version
--   XMPP_SIC_PANIC_SO         a build of the library with the panic probe
-- Stanzas are built by hand in util.stanza's shape, so that these tests need
-- nothing from Prosody; tests/test_module.lua uses Prosody's own parser.

local h = require "harness"
local sic = require "xmpp_sic"

local test, eq, truthy, raises = h.test, h.eq, h.truthy, h.raises

local NS0, NS1 = "urn:xmpp:sic:0", "urn:xmpp:sic:1"
local ALICE = "alice@example.org/phone"

-- An element as util.stanza holds it: children in order in the array part,
-- child elements again in `tags`.
local function el(name, attr, ...)
	local t = { name = name, attr = attr or {}, tags = {}, ... }
	for _, child in ipairs(t) do
		if type(child) == "table" then
			table.insert(t.tags, child)
		end
	end
	return t
end

local function iq(kind, ...)
	return el("iq", { type = kind, id = "q1" }, ...)
end
local function sic1(...) return el("address", { xmlns = NS1 }, ...) end
local SIC1 = iq("get", sic1())
local SIC0_IP = iq("get", el("ip", { xmlns = NS0 }))
local SIC0_ADDRESS = iq("get", el("address", { xmlns = NS0 }))

-- All of handle_parsed's results, in a table only for comparing.
local function answer(...)
	return { n = select("#", ...), ... }
end
local function ask(...)
	return answer(sic.handle_parsed(...))
end

local function result_of(...)
	local a = ask(...)
	eq(a[1], "result", "kind (" .. tostring(a[2]) .. " " .. tostring(a[3]) .. ")")
	eq(a.n, 5, "values returned for a result")
	return a[2], a[3], a[4], a[5]
end

local function error_of(...)
	local a = ask(...)
	eq(a[1], "error", "kind (" .. tostring(a[2]) .. ")")
	eq(a.n, 4, "values returned for an error")
	truthy(type(a[4]) == "string" and #a[4] > 0, "an English text")
	return a[3], a[2]
end

-- Module surface --------------------------------------------------------

test("version and ABI", function()
	truthy(type(sic.VERSION) == "string" and sic.VERSION:match("^%d+%.%d+%.%d+"), "VERSION looks like x.y.z")
	eq(sic.ABI_VERSION, 1, "ABI_VERSION")
	eq(sic.MAX_STANZA_LEN, 65536, "MAX_STANZA_LEN")
end)

test("constants match the header", function()
	eq(sic.FLAG_OMIT_PORT, 1)
	eq(sic.FLAG_KEEP_V4_MAPPED, 2)
	eq(sic.FLAG_NO_SIC0, 4)
	eq(sic.TRANSPORT_STREAM, 0)
	eq(sic.TRANSPORT_WEBSOCKET, 1)
	eq(sic.TRANSPORT_BOSH, 2)
	eq(sic.SOURCE_SOCKET, 0)
	eq(sic.SOURCE_PROXY_PROTOCOL, 1)
	eq(sic.SOURCE_FORWARDED, 2)
	local statuses = { "OK", "PASS", "BUFFER_TOO_SMALL", "NULL_ARGUMENT", "INVALID_ARGUMENT", "MALFORMED_STANZA", "PANIC" }
	for value, name in ipairs(statuses) do
		eq(sic["STATUS_" .. name], value - 1, "STATUS_" .. name)
	end
	eq(sic.handle_stanza, nil, "the tree conversions are gone")
	eq(sic.to_tree, nil)
	eq(sic.to_xml, nil)
end)

test("a build expecting another ABI refuses to load", function()
	local path = os.getenv("XMPP_SIC_ABI_MISMATCH_SO")
	truthy(path, "XMPP_SIC_ABI_MISMATCH_SO is set")
	local open = truthy(package.loadlib(path, "luaopen_xmpp_sic"), "loadlib " .. path)
	raises("ABI version 1, module built for 999999", open)
end)

test("features, with and without flags", function()
	local all = sic.features()
	eq(#all, 2, "feature count")
	eq(all[1], NS1)
	eq(all[2], NS0)
	local only1 = sic.features(sic.FLAG_NO_SIC0)
	eq(#only1, 1, "NO_SIC0 feature count")
	eq(only1[1], NS1)
	eq(#sic.features(sic.FLAG_OMIT_PORT + sic.FLAG_KEEP_V4_MAPPED), 2, "flags not about features")
	eq(#sic.features(7), 1, "all flags")
	eq(#sic.features(nil), 2, "explicit nil")
	raises("bad argument #1.*unknown flag bits", sic.features, 8)
	raises("bad argument #1.*number expected, got string", sic.features, "4")
	raises("bad argument #1.*whole number", sic.features, -1)
	raises("bad argument #1.*whole number", sic.features, 0.5)
end)

-- handle_parsed: results -----------------------------------------------------

test("sic:1 over IPv4 and IPv6: form, namespace, RFC 5952 text, port", function()
	local name, ns, ip, port = result_of(SIC1, ALICE, nil, "192.0.2.10", 5222)
	eq(name, "address")
	eq(ns, NS1)
	eq(ip, "192.0.2.10")
	eq(port, 5222)
	name, ns, ip, port = result_of(SIC1, ALICE, nil, "2001:DB8:0:0:0:0:0:1", 65535)
	eq(ip, "2001:db8::1")
	eq(port, 65535)
	eq(select(3, result_of(SIC1, ALICE, nil, "::1", 1)), "::1")
end)

test("IPv6 zones are accepted and not shown; v4-mapped unmapped unless KEEP_V4_MAPPED", function()
	eq(select(3, result_of(SIC1, ALICE, nil, "fe80::1%1", 5222)), "fe80::1")
	eq(select(3, result_of(SIC1, ALICE, nil, "fe80::1%lo", 5222)), "fe80::1")
	eq(select(3, result_of(SIC1, ALICE, nil, "::ffff:198.51.100.7", 5222)), "198.51.100.7")
	eq(select(3, result_of(SIC1, ALICE, nil, "::ffff:198.51.100.7", 5222, 0, 0, sic.FLAG_KEEP_V4_MAPPED)),
		"::ffff:198.51.100.7")
end)

test("sic:0 forms never carry a port", function()
	local name, ns, ip, port = result_of(SIC0_IP, ALICE, nil, "2001:db8::5", 5222)
	eq(name, "ip")
	eq(ns, NS0)
	eq(ip, "2001:db8::5")
	eq(port, nil)
	name, ns, ip, port = result_of(SIC0_ADDRESS, ALICE, nil, "192.0.2.1", 5222)
	eq(name, "address")
	eq(ns, NS0)
	eq(port, nil)
end)

test("the port: the library decides from transport and source", function()
	local S, W, B = sic.TRANSPORT_STREAM, sic.TRANSPORT_WEBSOCKET, sic.TRANSPORT_BOSH
	local SOCK, PROXY, FWD = sic.SOURCE_SOCKET, sic.SOURCE_PROXY_PROTOCOL, sic.SOURCE_FORWARDED
	local cases = {
		{ S, SOCK, 0, 5222 }, { W, SOCK, 0, 5222 }, { S, PROXY, 0, 5222 }, { W, PROXY, 0, 5222 },
		{ B, SOCK, 0, nil }, { B, PROXY, 0, nil }, { S, FWD, 0, nil }, { W, FWD, 0, nil },
		{ S, SOCK, sic.FLAG_OMIT_PORT, nil },
	}
	for i, c in ipairs(cases) do
		local _, _, ip, port = result_of(SIC1, ALICE, nil, "192.0.2.10", 5222, c[1], c[2], c[3])
		eq(ip, "192.0.2.10", "case " .. i)
		eq(port, c[4], "case " .. i .. " port")
	end
	eq(select(4, result_of(SIC1, ALICE, nil, "192.0.2.10", nil)), nil, "nil port")
	eq(select(4, result_of(SIC1, ALICE, nil, "192.0.2.10", 0)), nil, "port 0")
	eq(select(4, result_of(SIC1, ALICE, nil, "192.0.2.10", 1, nil, nil, nil)), 1, "explicit nils are defaults")
end)

test("own bare JID and own domain are answered", function()
	eq(select(3, result_of(SIC1, ALICE, "alice@example.org", "192.0.2.1", 1)), "192.0.2.1")
	eq(select(3, result_of(SIC1, ALICE, "example.org", "192.0.2.1", 1)), "192.0.2.1")
end)

test("payload attributes and whitespace are accepted", function()
	eq(select(3, result_of(iq("get", el("address", { xmlns = NS1, foo = "bar" })), ALICE, nil, "192.0.2.1", 1)),
		"192.0.2.1", "an attribute")
	eq(select(3, result_of(iq("get", el("address", { xmlns = NS1, ["urn:x\1y"] = "z" })), ALICE, nil, "192.0.2.1", 1)),
		"192.0.2.1", "a namespaced attribute")
	eq(select(3, result_of(iq("get", sic1(" \t\r\n ")), ALICE, nil, "192.0.2.1", 1)), "192.0.2.1", "whitespace")
	eq(select(3, result_of(iq("get", "\n  ", sic1(), "\n"), ALICE, nil, "192.0.2.1", 1)), "192.0.2.1",
		"whitespace beside")
end)

-- handle_parsed: XMPP errors (a successful call) ------------------------------

test("another user or domain: forbidden (auth)", function()
	for _, target in ipairs({ "bob@example.org", "alice@example.net", "example.net", "bob@example.org/res" }) do
		local cond, kind = error_of(SIC1, ALICE, target, "192.0.2.1", 1)
		eq(cond, "forbidden", target)
		eq(kind, "auth", target)
	end
end)

test("type set: not-allowed (cancel), for every form", function()
	for _, payload in ipairs({ sic1(), el("ip", { xmlns = NS0 }), el("address", { xmlns = NS0 }) }) do
		local cond, kind = error_of(iq("set", payload), ALICE, nil, "192.0.2.1", 1)
		eq(cond, "not-allowed", payload.name)
		eq(kind, "cancel", payload.name)
	end
end)

test("payload with children, text or siblings: bad-request (modify)", function()
	local cases = {
		children = iq("get", sic1(el("ip", { xmlns = NS1 }))),
		text = iq("get", sic1("x")),
		["text between whitespace"] = iq("get", sic1("  x  ")),
		["element sibling"] = iq("get", sic1(), el("x", { xmlns = "y" })),
		["text sibling"] = iq("get", sic1(), "junk"),
		["text before"] = iq("get", "junk", sic1()),
	}
	for what, stanza in pairs(cases) do
		local cond, kind = error_of(stanza, ALICE, nil, "192.0.2.1", 1)
		eq(cond, "bad-request", what)
		eq(kind, "modify", what)
	end
end)

test("a payload nested 5000 deep costs nothing more: bad-request", function()
	local inner = el("x")
	for _ = 1, 5000 do inner = el("x", nil, inner) end
	eq((error_of(iq("get", sic1(inner)), ALICE, nil, "192.0.2.1", 1)), "bad-request")
end)

test("unknown or missing IQ type: bad-request", function()
	eq((error_of(iq("fetch", sic1()), ALICE, nil, "192.0.2.1", 1)), "bad-request")
	eq((error_of(el("iq", { id = "x" }, sic1()), ALICE, nil, "192.0.2.1", 1)), "bad-request")
	eq((error_of(iq("get\0x", sic1()), ALICE, nil, "192.0.2.1", 1)), "bad-request", "a NUL in the type")
end)

test("no address known: service-unavailable", function()
	local cond, kind = error_of(SIC1, ALICE, nil, nil, nil)
	eq(cond, "service-unavailable")
	eq(kind, "cancel")
end)

-- handle_parsed: pass and failures ----------------------------------------

test("pass: other payloads, results, errors, no payload, sic:0 under NO_SIC0", function()
	local function pass(stanza, flags, what)
		local a = ask(stanza, ALICE, nil, "192.0.2.1", 1, nil, nil, flags)
		eq(a.n, 1, what .. ": one value")
		eq(a[1], false, what)
	end
	pass(iq("get", el("query", { xmlns = "jabber:iq:version" })), 0, "other namespace")
	pass(iq("get", el("address", { xmlns = NS1 .. "x" })), 0, "near namespace")
	pass(iq("get", el("address")), 0, "no namespace")
	pass(iq("result", sic1()), 0, "result")
	pass(iq("error", sic1()), 0, "error")
	pass(iq("get"), 0, "empty IQ")
	pass(iq("get", "text only"), 0, "text only")
	pass(SIC0_IP, sic.FLAG_NO_SIC0, "NO_SIC0")
	pass(iq("get", el("ping", { xmlns = "urn:xmpp:ping" }), sic1()), 0, "the payload is the first element")
	eq(select(3, result_of(SIC1, ALICE, nil, "192.0.2.1", 1, 0, 0, sic.FLAG_NO_SIC0)), "192.0.2.1",
		"sic:1 under NO_SIC0")
end)

test("invalid JIDs: nil, message, STATUS_INVALID_ARGUMENT", function()
	local bad = {
		{ "", nil }, { "@example.org", nil }, { "alice@example.org/" .. string.rep("r", 2000), nil },
		{ ALICE, "bob@" }, { "\255\254@example.org", nil },
	}
	for i, c in ipairs(bad) do
		local a = ask(SIC1, c[1], c[2], "192.0.2.1", 1)
		eq(a[1], nil, "case " .. i)
		eq(a[2], "invalid argument", "case " .. i .. " message")
		eq(a[3], sic.STATUS_INVALID_ARGUMENT, "case " .. i .. " status")
	end
end)

test("unparsable IP strings: nil, message, STATUS_INVALID_ARGUMENT", function()
	local bad = {
		"", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4:5222", "[::1]", "::g", ":::", "1:2:3:4:5:6:7:8:9", "1.2.3.4\0", "::1\0junk",
		"fe80::1%", "fe80::1%no-such-if0", "1.2.3.4%lo", string.rep("1", 1000),
		"1.2.3.04", "::ffff:01.2.3.4", "fe80::1%lo\0", "fe80::1%4294967296", "fe80::1%-1",
	}
	for _, ip in ipairs(bad) do
		for _, fn in ipairs({ "handle_parsed", "handle_iq" }) do
			local request = fn == "handle_iq" and "<iq type='get' id='q'><address xmlns='urn:xmpp:sic:1'/></iq>" or SIC1
			local a = answer(sic[fn](request, ALICE, nil, ip, 5222))
			eq(a[1], nil, ("%s %q"):format(fn, ip))
			eq(a[2], "invalid IP address", ("%s %q message"):format(fn, ip))
			eq(a[3], sic.STATUS_INVALID_ARGUMENT, ("%s %q status"):format(fn, ip))
		end
	end
end)

-- handle_parsed: misuse raises, never crashes -----------------------------

test("wrong argument types and values raise", function()
	local hp = sic.handle_parsed
	raises("bad argument #1.*table expected, got no value", hp)
	raises("bad argument #1.*table expected, got string", hp, "<iq/>", ALICE)
	raises("bad argument #2.*string expected, got nil", hp, SIC1, nil)
	raises("bad argument #2.*string expected, got number", hp, SIC1, 1)
	raises("bad argument #3.*string expected, got boolean", hp, SIC1, ALICE, true)
	raises("bad argument #4.*string expected, got number", hp, SIC1, ALICE, nil, 2130706433)
	raises("bad argument #5.*number expected, got string", hp, SIC1, ALICE, nil, "192.0.2.1", "5222")
	raises("bad argument #5.*port must be a whole number from 0 to 65535", hp, SIC1, ALICE, nil, "192.0.2.1", 65536)
	raises("bad argument #5.*port must be", hp, SIC1, ALICE, nil, "192.0.2.1", 1.5)
	raises("bad argument #5.*port must be", hp, SIC1, ALICE, nil, "192.0.2.1", 0 / 0)
	raises("bad argument #6.*unknown transport", hp, SIC1, ALICE, nil, "192.0.2.1", 1, 3)
	raises("bad argument #6.*number expected, got string", hp, SIC1, ALICE, nil, "192.0.2.1", 1, "bosh")
	raises("bad argument #7.*unknown source", hp, SIC1, ALICE, nil, "192.0.2.1", 1, 0, 3)
	raises("bad argument #7.*whole number", hp, SIC1, ALICE, nil, "192.0.2.1", 1, 0, -1)
	raises("bad argument #8.*unknown flag bits", hp, SIC1, ALICE, nil, "192.0.2.1", 1, 0, 0, 8)
	raises("bad argument #8.*flags must be", hp, SIC1, ALICE, nil, "192.0.2.1", 1, 0, 0, 2 ^ 32)
end)

test("tables that are not stanzas raise a clear error", function()
	local function f() end
	local cases = {
		[{}] = "attr is not a table",
		[{ attr = "x", tags = {} }] = "attr is not a table",
		[{ attr = {}, tags = 5 }] = "tags is not a table",
		[{ attr = {} }] = "tags is not a table",
		[{ attr = { type = 5 }, tags = {} }] = "attr.type is not a string",
		[{ attr = { type = {} }, tags = {} }] = "attr.type is not a string",
		[{ attr = {}, tags = { "address" } }] = "tags%[1%] is not a table",
		[{ attr = {}, tags = { f } }] = "tags%[1%] is not a table",
		[{ attr = {}, tags = { {} } }] = "tags%[1%].name is not a string",
		[{ attr = {}, tags = { { name = 7, attr = {} } } }] = "tags%[1%].name is not a string",
		[{ attr = {}, tags = { { name = "address" } } }] = "tags%[1%].attr is not a table",
		[{ attr = {}, tags = { { name = "address", attr = { xmlns = true } } } }] = "tags%[1%]%.attr%.xmlns is not a string",
		[iq("get", sic1(true))] = "a child is a boolean",
		[iq("get", sic1(42))] = "a child is a number",
		[iq("get", sic1(f))] = "a child is a function",
		[iq("get", sic1(), false)] = "a child is a boolean",
		[iq("get", sic1(), coroutine.create(f))] = "a child is a thread",
	}
	for stanza, why in pairs(cases) do
		raises("bad argument #1 .*not a stanza: " .. why, sic.handle_parsed, stanza, ALICE, nil, "192.0.2.1", 1)
	end
end)

test("garbage of every shape: an answer or a raised error, never a crash", function()
	-- Deterministic, so a failure reproduces; run under ASan by run-tests.sh.
	local seed = 12345
	local function rand(n)
		seed = (seed * 16807) % 2147483647 -- exact in doubles too (LuaJIT)
		return seed % n + 1
	end
	local atoms = { false, true, 0, -1, 1.5, "", "x", "get", "set", "xmlns", NS1, "address", "ip", NS0,
		"\0", string.rep("a", 300), print, coroutine.create(print), io.stdout }
	local function value(depth)
		local pick = rand(#atoms + 5)
		if pick == #atoms + 1 then
			return nil
		elseif pick <= #atoms or depth > 4 then
			return atoms[(pick - 1) % #atoms + 1]
		end
		local t = {}
		for _ = 1, rand(4) do
			local k = ({ "name", "attr", "tags", "type", "xmlns", 1, 2, 3 })[rand(8)]
			t[k] = value(depth + 1)
		end
		if rand(6) == 1 then
			-- Raw access never consults a metatable: these must not run.
			setmetatable(t, { __index = function() error("metamethod ran") end, __len = function() error("__len ran") end })
		end
		return t
	end
	local answered, raised = 0, 0
	for i = 1, 20000 do
		local stanza = value(0)
		if i % 3 == 0 then
			stanza = iq(({ "get", "set", "x" })[rand(3)], sic1(value(1), value(1)), value(1))
		end
		local ok, err = pcall(sic.handle_parsed, stanza, ALICE, nil, "192.0.2.1", 1)
		if ok then
			answered = answered + 1
		else
			raised = raised + 1
			truthy(tostring(err):find("bad argument #1", 1, true), "message: " .. tostring(err))
		end
	end
	io.stderr:write(("(garbage: %d answered, %d raised)\n"):format(answered, raised))
	truthy(answered > 500 and raised > 500, ("both outcomes seen: %d answered, %d raised"):format(answered, raised))
end)

-- handle_iq: the raw entry, on the library's own parser --------------------

local RAW1 = "<iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1'/></iq>"

test("handle_iq answers with the library's reply text", function()
	eq(sic.handle_iq(RAW1, ALICE, nil, "192.0.2.10", 5222),
		"<iq type='result' id='q1' to='alice@example.org/phone'><address xmlns='urn:xmpp:sic:1'>"
			.. "<ip>192.0.2.10</ip><port>5222</port></address></iq>")
	local reply = sic.handle_iq(RAW1, ALICE, "bob@example.org", "192.0.2.10", 5222)
	truthy(reply:find("type='error'", 1, true) and reply:find("<forbidden ", 1, true), reply)
	eq(sic.handle_iq("<iq type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>", ALICE, nil, "192.0.2.1", 1),
		false, "pass")
	local a = answer(sic.handle_iq("<iq type='get' id='q1'><address", ALICE, nil, "192.0.2.1", 1))
	eq(a[1], nil)
	eq(a[2], "malformed stanza")
	eq(a[3], sic.STATUS_MALFORMED_STANZA)
	raises("bad argument #1.*string expected, got table", sic.handle_iq, SIC1, ALICE)
	raises("bad argument #6.*unknown flag bits", sic.handle_iq, RAW1, ALICE, nil, "192.0.2.1", 1, 8)
end)

test("handle_iq: a reply larger than the C-stack buffer", function()
	-- Each raw '"' is written back as &quot;, so the id grows sixfold.
	local id = string.rep('"', 9000)
	local reply = sic.handle_iq("<iq type='get' id='" .. id .. "'><address xmlns='urn:xmpp:sic:1'/></iq>",
		ALICE, nil, "192.0.2.1", 1)
	truthy(type(reply) == "string" and #reply > 54000, "reply of " .. #tostring(reply) .. " bytes")
	truthy(reply:find(string.rep("&quot;", 9000), 1, true), "the id, escaped")
	truthy(reply:find("<ip>192.0.2.1</ip>", 1, true), "the address")
end)

test("both entry points decide alike", function()
	-- The same request as text and as a tree, under the same connection.
	local cases = {
		{ RAW1, SIC1, nil },
		{ RAW1, SIC1, "bob@example.org" },
		{ "<iq type='set' id='q1'><address xmlns='urn:xmpp:sic:1'/></iq>", iq("set", sic1()), nil },
		{ "<iq type='get' id='q1'><ip xmlns='urn:xmpp:sic:0'/></iq>", SIC0_IP, "example.org" },
		{ "<iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1'>x</address></iq>", iq("get", sic1("x")), nil },
		{ "<iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1' a='b'/></iq>",
			iq("get", el("address", { xmlns = NS1, a = "b" })), nil },
		{ "<iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1'/><x/></iq>", iq("get", sic1(), el("x")), nil },
		{ "<iq type='get' id='q1'><p:address xmlns:p='urn:xmpp:sic:1'/></iq>", SIC1, nil },
	}
	for i, c in ipairs(cases) do
		local text = assert(sic.handle_iq(c[1], ALICE, c[3], "2001:db8::1", 443))
		local a = ask(c[2], ALICE, c[3], "2001:db8::1", 443)
		if a[1] == "result" then
			truthy(text:find("type='result'", 1, true), "case " .. i .. ": " .. text)
			truthy(text:find("<" .. a[2] .. " xmlns='" .. a[3] .. "'>", 1, true), "case " .. i .. " payload: " .. text)
			truthy(text:find(a[4], 1, true), "case " .. i .. " ip")
			eq(text:find("<port>443</port>", 1, true) ~= nil, a[5] == 443, "case " .. i .. " port")
		else
			eq(a[1], "error", "case " .. i)
			truthy(text:find("type='" .. a[2] .. "'><" .. a[3] .. " ", 1, true), "case " .. i .. ": " .. text)
		end
	end
end)

test("a panic in the library is STATUS_PANIC, and the module keeps working", function()
	local path = os.getenv("XMPP_SIC_PANIC_SO")
	truthy(path, "XMPP_SIC_PANIC_SO is set")
	local probe = truthy(package.loadlib(path, "luaopen_xmpp_sic"), "loadlib " .. path)()
	io.stderr:write("(expected: Rust's panic hook reports the probe's panic)\n")
	local stanza = "<iq type='get' id='xmpp-sic:panic'><address xmlns='urn:xmpp:sic:1'/></iq>"
	local a = answer(probe.handle_iq(stanza, ALICE, nil, "192.0.2.1", 1))
	eq(a[1], nil)
	eq(a[3], sic.STATUS_PANIC, "status")
	truthy(a[2]:find("panic"), "message mentions the panic: " .. tostring(a[2]))
	truthy(probe.handle_iq(RAW1, ALICE, nil, "192.0.2.1", 1):find("<ip>192.0.2.1</ip>", 1, true), "probe build answers")
	eq(select(3, probe.handle_parsed(SIC1, ALICE, nil, "192.0.2.1", 1)), NS1, "and its handle_parsed too")
end)

-- Robustness ---------------------------------------------------------------

test("many calls: stable results and no growth in Lua memory", function()
	local stanzas = { SIC1, SIC0_IP, iq("set", sic1()), iq("get", sic1("x")), iq("get", el("q", { xmlns = "x" })) }
	local ips = { "192.0.2.1", "2001:db8::1", "bogus", nil, "::ffff:10.1.2.3" }
	local function round()
		for i = 1, 2000 do
			local k = i % #stanzas + 1
			local target = (i % 3 == 0) and "bob@example.org" or nil
			sic.handle_parsed(stanzas[k], ALICE, target, ips[i % 5 + 1], i % 65536, i % 3, math.floor(i / 3) % 3)
			sic.handle_iq(RAW1, ALICE, target, ips[i % 5 + 1], i % 65536)
		end
	end
	round()
	collectgarbage("collect")
	local before = collectgarbage("count")
	for _ = 1, 20 do
		round()
	end
	collectgarbage("collect")
	local growth = collectgarbage("count") - before
	truthy(growth < 64, string.format("Lua heap grew by %.1f KiB", growth))
end)

h.finish("lua unit tests (" .. (jit and jit.version or _VERSION) .. ")")
