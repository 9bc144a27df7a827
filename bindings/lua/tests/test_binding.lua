-- Unit tests of the xmpp_sic Lua module; the same file runs on Lua 5.4 and
-- LuaJIT. run-tests.sh points LUA_CPATH at the build under test and may set
--   XMPP_SIC_ABI_MISMATCH_SO  a build that expects another ABI version
--   XMPP_SIC_PANIC_SO         a build of the library with the panic probe
-- Replies are parsed (tests/xml.lua) rather than matched as text wherever the
-- structure is what matters.

local h = require "harness"
local xml = require "xml"
local sic = require "xmpp_sic"

local test, eq, truthy, raises = h.test, h.eq, h.truthy, h.raises

local NS0, NS1 = "urn:xmpp:sic:0", "urn:xmpp:sic:1"
local STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
local ALICE = "alice@example.org/phone"

local function iq(kind, payload, extra)
	return string.format("<iq type='%s' id='q1'%s>%s</iq>", kind, extra or "", payload)
end
local SIC1 = iq("get", "<address xmlns='urn:xmpp:sic:1'/>")
local SIC0_IP = iq("get", "<ip xmlns='urn:xmpp:sic:0'/>")
local SIC0_ADDRESS = iq("get", "<address xmlns='urn:xmpp:sic:0'/>")

-- Parses an OK reply and checks the envelope every reply shares.
local function reply_of(stanza, sender, ...)
	local reply, msg, code = sic.handle_iq(stanza, sender, ...)
	truthy(type(reply) == "string", "a reply string (got " .. tostring(reply) .. ", " .. tostring(msg) .. ", " .. tostring(code) .. ")")
	local el = xml.parse(reply)
	eq(el.name, "iq", "reply element")
	eq(el.attr.to, sender, "reply to")
	return el, reply
end

local function address_of(reply_el, ns)
	eq(reply_el.attr.type, "result", "reply type")
	local address = truthy(xml.child(reply_el, "address", ns), "<address xmlns='" .. ns .. "'/>")
	local ip = truthy(xml.child(address, "ip"), "<ip/>").text
	local port = xml.child(address, "port")
	return ip, port and port.text
end

local function stanza_error(reply_el)
	eq(reply_el.attr.type, "error", "reply type")
	local err = truthy(xml.child(reply_el, "error"), "<error/>")
	for _, c in ipairs(err.children) do
		if c.attr.xmlns == STANZAS and c.name ~= "text" then
			return c.name, err.attr.type
		end
	end
	error("no defined condition in " .. tostring(reply_el))
end

local function fails_with(code, ...)
	local reply, msg, got = sic.handle_iq(...)
	eq(reply, nil, "first result")
	truthy(type(msg) == "string" and #msg > 0, "a message")
	eq(got, code, "status code for " .. tostring(select(4, ...)))
end

-- Module surface --------------------------------------------------------

test("version and ABI", function()
	truthy(type(sic.VERSION) == "string" and sic.VERSION:match("^%d+%.%d+%.%d+"), "VERSION looks like x.y.z")
	eq(sic.ABI_VERSION, 1, "ABI_VERSION")
	eq(sic.MAX_STANZA_LEN, 65536, "MAX_STANZA_LEN")
end)

test("flag and status constants match the header", function()
	eq(sic.FLAG_OMIT_PORT, 1)
	eq(sic.FLAG_KEEP_V4_MAPPED, 2)
	eq(sic.FLAG_NO_SIC0, 4)
	local statuses = { "OK", "PASS", "BUFFER_TOO_SMALL", "NULL_ARGUMENT", "INVALID_ARGUMENT", "MALFORMED_STANZA", "PANIC" }
	for value, name in ipairs(statuses) do
		eq(sic["STATUS_" .. name], value - 1, "STATUS_" .. name)
	end
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
end)

test("features: misuse raises", function()
	raises("bad argument #1.*unknown flag bits", sic.features, 8)
	raises("bad argument #1.*number expected, got string", sic.features, "4")
	raises("bad argument #1.*whole number", sic.features, -1)
	raises("bad argument #1.*whole number", sic.features, 0.5)
end)

-- Successful answers ------------------------------------------------------

test("sic:1 over IPv4 returns ip and port", function()
	local el = reply_of(SIC1, ALICE, nil, "192.0.2.10", 5222)
	eq(el.attr.id, "q1", "id")
	eq(el.attr.from, nil, "no from without a target")
	local ip, port = address_of(el, NS1)
	eq(ip, "192.0.2.10")
	eq(port, "5222")
end)

test("sic:1 over IPv6 returns the RFC 5952 text and port", function()
	local ip, port = address_of(reply_of(SIC1, ALICE, nil, "2001:DB8:0:0:0:0:0:1", 65535), NS1)
	eq(ip, "2001:db8::1")
	eq(port, "65535")
	ip, port = address_of(reply_of(SIC1, ALICE, nil, "::1", 1), NS1)
	eq(ip, "::1")
	eq(port, "1")
end)

test("IPv6 zone ids are accepted and not shown", function()
	eq((address_of(reply_of(SIC1, ALICE, nil, "fe80::1%1", 5222), NS1)), "fe80::1")
	eq((address_of(reply_of(SIC1, ALICE, nil, "fe80::1%lo", 5222), NS1)), "fe80::1")
end)

test("IPv4-mapped addresses: unmapped unless KEEP_V4_MAPPED", function()
	eq((address_of(reply_of(SIC1, ALICE, nil, "::ffff:198.51.100.7", 5222), NS1)), "198.51.100.7")
	local kept = address_of(reply_of(SIC1, ALICE, nil, "::ffff:198.51.100.7", 5222, sic.FLAG_KEEP_V4_MAPPED), NS1)
	eq(kept, "::ffff:198.51.100.7")
end)

test("no port: OMIT_PORT, nil port, port 0", function()
	local _, port = address_of(reply_of(SIC1, ALICE, nil, "192.0.2.10", 5222, sic.FLAG_OMIT_PORT), NS1)
	eq(port, nil, "OMIT_PORT")
	_, port = address_of(reply_of(SIC1, ALICE, nil, "192.0.2.10", nil), NS1)
	eq(port, nil, "nil port")
	_, port = address_of(reply_of(SIC1, ALICE, nil, "192.0.2.10", 0), NS1)
	eq(port, nil, "port 0")
end)

test("sic:0 <ip/> (slixmpp's form) carries the address as text", function()
	local el = reply_of(SIC0_IP, ALICE, nil, "2001:db8::5", 5222)
	eq(el.attr.type, "result")
	local ip = truthy(xml.child(el, "ip", NS0), "<ip xmlns='urn:xmpp:sic:0'/>")
	eq(ip.text, "2001:db8::5")
	eq(#ip.children, 0, "no children in sic:0 <ip/>")
end)

test("sic:0 <address/> has no port", function()
	local ip, port = address_of(reply_of(SIC0_ADDRESS, ALICE, nil, "192.0.2.1", 5222), NS0)
	eq(ip, "192.0.2.1")
	eq(port, nil, "sic:0 defines no port")
end)

test("own bare JID and own domain are answered, from the target", function()
	local el = reply_of(SIC1, ALICE, "alice@example.org", "192.0.2.1", 5222)
	eq(el.attr.from, "alice@example.org", "from own bare JID")
	eq((address_of(el, NS1)), "192.0.2.1")
	el = reply_of(SIC1, ALICE, "example.org", "192.0.2.1", 5222)
	eq(el.attr.from, "example.org", "from the domain")
	eq((address_of(el, NS1)), "192.0.2.1")
end)

test("the stanza namespace is echoed", function()
	local el = reply_of(iq("get", "<address xmlns='urn:xmpp:sic:1'/>", " xmlns='jabber:client'"), ALICE, nil, "192.0.2.1", 1)
	eq(el.attr.xmlns, "jabber:client")
	eq((address_of(el, NS1)), "192.0.2.1")
end)

test("ids and JIDs with XML specials survive escaping", function()
	local stanza = "<iq type='get' id='a&amp;b&lt;&apos;&quot;&#x263A;'><address xmlns='urn:xmpp:sic:1'/></iq>"
	local sender = "alice@example.org/it's <\"me\"> & you"
	local el = reply_of(stanza, sender, nil, "192.0.2.1", 1)
	eq(el.attr.id, "a&b<'\"\226\152\186", "decoded id")
	eq(el.attr.to, sender, "decoded to")
end)

test("a reply larger than any fixed Lua buffer", function()
	-- Each raw '"' is written back as &quot;, so the id grows sixfold.
	local id = string.rep('"', 9000)
	local stanza = "<iq type='get' id='" .. id .. "'><address xmlns='urn:xmpp:sic:1'/></iq>"
	local el, text = reply_of(stanza, ALICE, nil, "192.0.2.1", 1)
	truthy(#text > 54000, "reply is " .. #text .. " bytes")
	eq(el.attr.id, id, "id round trip")
	eq((address_of(el, NS1)), "192.0.2.1")
end)

-- XMPP error replies (a successful call) ---------------------------------

test("another user or domain: forbidden (auth)", function()
	for _, target in ipairs({ "bob@example.org", "alice@example.net", "example.net", "bob@example.org/res" }) do
		local cond, kind = stanza_error(reply_of(SIC1, ALICE, target, "192.0.2.1", 1))
		eq(cond, "forbidden", target)
		eq(kind, "auth", target)
	end
end)

test("type set: not-allowed (cancel), for both namespaces", function()
	for _, payload in ipairs({ "<address xmlns='urn:xmpp:sic:1'/>", "<ip xmlns='urn:xmpp:sic:0'/>" }) do
		local cond, kind = stanza_error(reply_of(iq("set", payload), ALICE, nil, "192.0.2.1", 1))
		eq(cond, "not-allowed", payload)
		eq(kind, "cancel", payload)
	end
end)

test("payload with content or siblings: bad-request", function()
	local cond = stanza_error(reply_of(iq("get", "<address xmlns='urn:xmpp:sic:1'><ip/></address>"), ALICE, nil, "192.0.2.1", 1))
	eq(cond, "bad-request", "content")
	cond = stanza_error(reply_of(iq("get", "<address xmlns='urn:xmpp:sic:1'/><x xmlns='y'/>"), ALICE, nil, "192.0.2.1", 1))
	eq(cond, "bad-request", "sibling")
end)

test("unknown IQ type: bad-request", function()
	eq((stanza_error(reply_of(iq("fetch", "<address xmlns='urn:xmpp:sic:1'/>"), ALICE, nil, "192.0.2.1", 1))), "bad-request")
end)

test("no address known: service-unavailable", function()
	local cond, kind = stanza_error(reply_of(SIC1, ALICE, nil, nil, nil))
	eq(cond, "service-unavailable")
	eq(kind, "cancel")
end)

-- PASS -------------------------------------------------------------------

test("pass: other payloads, results, errors, sic:0 under NO_SIC0", function()
	eq(sic.handle_iq(iq("get", "<query xmlns='jabber:iq:version'/>"), ALICE, nil, "192.0.2.1", 1), false, "other namespace")
	eq(sic.handle_iq(iq("result", "<address xmlns='urn:xmpp:sic:1'/>"), ALICE, nil, "192.0.2.1", 1), false, "result")
	eq(sic.handle_iq(iq("error", "<address xmlns='urn:xmpp:sic:1'/>"), ALICE, nil, "192.0.2.1", 1), false, "error")
	eq(sic.handle_iq(iq("get", ""), ALICE, nil, "192.0.2.1", 1), false, "empty IQ")
	eq(sic.handle_iq(SIC0_IP, ALICE, nil, "192.0.2.1", 1, sic.FLAG_NO_SIC0), false, "NO_SIC0")
	local el = reply_of(SIC1, ALICE, nil, "192.0.2.1", 1, sic.FLAG_NO_SIC0)
	eq((address_of(el, NS1)), "192.0.2.1", "sic:1 under NO_SIC0")
end)

-- Expected failures: nil, message, status ---------------------------------

test("malformed stanzas: STATUS_MALFORMED_STANZA", function()
	local bad = {
		"<iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1'/>",
		"<iq type='get'><address xmlns='urn:xmpp:sic:1'/></iq>",
		"<iq id='q1'><address xmlns='urn:xmpp:sic:1'/></iq>",
		SIC1 .. SIC1,
		"<!DOCTYPE iq><iq type='get' id='q1'><address xmlns='urn:xmpp:sic:1'/></iq>",
		"<iq type='get' id='q1'><!-- hi --><address xmlns='urn:xmpp:sic:1'/></iq>",
		"<message type='get' id='q1'/>",
		"",
		"<iq type='get' id='q1'><x:address xmlns='urn:xmpp:sic:1'/></iq>",
		"<iq type='get' id='q1'>" .. string.rep(" ", sic.MAX_STANZA_LEN) .. "<address xmlns='urn:xmpp:sic:1'/></iq>",
	}
	for i, stanza in ipairs(bad) do
		local reply, msg, code = sic.handle_iq(stanza, ALICE, nil, "192.0.2.1", 1)
		eq(reply, nil, "case " .. i)
		eq(code, sic.STATUS_MALFORMED_STANZA, "case " .. i .. " status")
		eq(msg, "malformed stanza", "case " .. i .. " message")
	end
end)

test("invalid JIDs: STATUS_INVALID_ARGUMENT", function()
	fails_with(sic.STATUS_INVALID_ARGUMENT, SIC1, "", nil, "192.0.2.1", 1)
	fails_with(sic.STATUS_INVALID_ARGUMENT, SIC1, "@example.org", nil, "192.0.2.1", 1)
	fails_with(sic.STATUS_INVALID_ARGUMENT, SIC1, "alice@example.org/" .. string.rep("r", 2000), nil, "192.0.2.1", 1)
	fails_with(sic.STATUS_INVALID_ARGUMENT, SIC1, ALICE, "bob@", "192.0.2.1", 1)
	fails_with(sic.STATUS_INVALID_ARGUMENT, SIC1, "\255\254@example.org", nil, "192.0.2.1", 1)
end)

test("unparsable IP strings: nil, message, STATUS_INVALID_ARGUMENT", function()
	local bad = {
		"", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4:5222", "[::1]", "::g", ":::", "1:2:3:4:5:6:7:8:9", "1.2.3.4\0", "::1\0junk",
		"fe80::1%", "fe80::1%no-such-if0", "1.2.3.4%lo", string.rep("1", 1000),
	}
	for _, ip in ipairs(bad) do
		local reply, msg, code = sic.handle_iq(SIC1, ALICE, nil, ip, 5222)
		eq(reply, nil, ("%q"):format(ip))
		eq(msg, "invalid IP address", ("%q message"):format(ip))
		eq(code, sic.STATUS_INVALID_ARGUMENT, ("%q status"):format(ip))
	end
end)

test("a panic in the library is STATUS_PANIC, and the module keeps working", function()
	local path = os.getenv("XMPP_SIC_PANIC_SO")
	truthy(path, "XMPP_SIC_PANIC_SO is set")
	local probe = truthy(package.loadlib(path, "luaopen_xmpp_sic"), "loadlib " .. path)()
	io.stderr:write("(expected: Rust's panic hook reports the probe's panic)\n")
	local stanza = "<iq type='get' id='xmpp-sic:panic'><address xmlns='urn:xmpp:sic:1'/></iq>"
	local reply, msg, code = probe.handle_iq(stanza, ALICE, nil, "192.0.2.1", 1)
	eq(reply, nil)
	eq(code, sic.STATUS_PANIC, "status")
	truthy(msg:find("panic"), "message mentions the panic: " .. tostring(msg))
	eq((address_of(reply_of(SIC1, ALICE, nil, "192.0.2.1", 1), NS1)), "192.0.2.1")
	local el = xml.parse(assert(probe.handle_iq(SIC1, ALICE, nil, "192.0.2.1", 1)))
	eq((address_of(el, NS1)), "192.0.2.1", "probe build still answers")
end)

-- Misuse raises -----------------------------------------------------------

test("wrong argument types raise", function()
	local h_iq = sic.handle_iq
	raises("bad argument #1.*string expected, got no value", h_iq)
	raises("bad argument #1.*string expected, got number", h_iq, 42, ALICE)
	raises("bad argument #1.*string expected, got table", h_iq, {}, ALICE)
	raises("bad argument #2.*string expected, got nil", h_iq, SIC1, nil)
	raises("bad argument #2.*string expected, got number", h_iq, SIC1, 1)
	raises("bad argument #3.*string expected, got boolean", h_iq, SIC1, ALICE, true)
	raises("bad argument #3.*string expected, got number", h_iq, SIC1, ALICE, 5)
	raises("bad argument #4.*string expected, got number", h_iq, SIC1, ALICE, nil, 2130706433)
	raises("bad argument #4.*string expected, got table", h_iq, SIC1, ALICE, nil, {})
	raises("bad argument #5.*number expected, got string", h_iq, SIC1, ALICE, nil, "192.0.2.1", "5222")
	raises("bad argument #5.*number expected, got boolean", h_iq, SIC1, ALICE, nil, "192.0.2.1", true)
	raises("bad argument #6.*number expected, got string", h_iq, SIC1, ALICE, nil, "192.0.2.1", 1, "1")
end)

test("out-of-range numbers and unknown flags raise", function()
	local h_iq = sic.handle_iq
	raises("bad argument #5.*port must be a whole number from 0 to 65535", h_iq, SIC1, ALICE, nil, "192.0.2.1", 65536)
	raises("bad argument #5.*port must be", h_iq, SIC1, ALICE, nil, "192.0.2.1", -1)
	raises("bad argument #5.*port must be", h_iq, SIC1, ALICE, nil, "192.0.2.1", 1.5)
	raises("bad argument #5.*port must be", h_iq, SIC1, ALICE, nil, "192.0.2.1", 0 / 0)
	raises("bad argument #6.*unknown flag bits", h_iq, SIC1, ALICE, nil, "192.0.2.1", 1, 8)
	raises("bad argument #6.*flags must be", h_iq, SIC1, ALICE, nil, "192.0.2.1", 1, 2 ^ 32)
	raises("bad argument #6.*flags must be", h_iq, SIC1, ALICE, nil, "192.0.2.1", 1, -1)
end)

-- Trees (Prosody's stanza shape) -----------------------------------------

-- Structural equality of two trees as the test XML reader sees them, so
-- attribute order (a hash table's) does not matter.
local function same_xml(a, b, where)
	local x, y = xml.parse(a), xml.parse(b)
	local function walk(p, q, path)
		eq(p.name, q.name, path .. " name")
		for k, v in pairs(p.attr) do eq(q.attr[k], v, path .. "@" .. k) end
		for k, v in pairs(q.attr) do eq(p.attr[k], v, path .. "@" .. k) end
		eq(p.text, q.text, path .. " text")
		eq(#p.children, #q.children, path .. " children")
		for i = 1, #p.children do walk(p.children[i], q.children[i], path .. "/" .. p.children[i].name) end
	end
	walk(x, y, where or "")
end

test("to_tree: the shape of a reply, with the metatable everywhere", function()
	local mt = {}
	local reply = assert(sic.handle_iq(SIC1, ALICE, "example.org", "192.0.2.1", 5222))
	local t = assert(sic.to_tree(reply, mt))
	eq(getmetatable(t), mt, "root metatable")
	eq(t.name, "iq")
	eq(t.attr.type, "result")
	eq(t.attr.to, ALICE)
	eq(t.attr.from, "example.org")
	eq(#t, 1, "one child")
	eq(#t.tags, 1, "one tag")
	local address = t.tags[1]
	eq(t[1], address, "tags and children hold the same table")
	eq(getmetatable(address), mt, "child metatable")
	eq(address.attr.xmlns, NS1)
	eq(address.tags[1].name, "ip")
	eq(address.tags[1][1], "192.0.2.1", "ip text")
	eq(address.tags[2][1], "5222", "port text")
	eq(#address.tags[1].tags, 0, "leaf has no tags")
	eq(address.tags[1].attr.xmlns, NS1, "inherited namespace made explicit, as Prosody's parsers do")
	eq(t.attr.xmlns, nil, "no namespace where none was written")
	eq(getmetatable(assert(sic.to_tree("<a/>"))), nil, "no metatable unless asked")
end)

test("to_tree: references, xml:lang, either quote, mixed content", function()
	local t = assert(sic.to_tree("<a xml:lang='en' b=\"x'y\" c='&lt;&#x263A;&#65;'>t&amp;<b/>u</a>"))
	eq(t.attr["xml:lang"], "en")
	eq(t.attr.b, "x'y")
	eq(t.attr.c, "<\226\152\186A")
	eq(#t, 3, "text, element, text")
	eq(t[1], "t&")
	eq(t[2].name, "b")
	eq(t[3], "u")
	eq(#t.tags, 1)
end)

test("to_tree: namespaces are inherited, and xmlns='' leaves them", function()
	local t = assert(sic.to_tree("<a xmlns='urn:a'><b><c xmlns=''><d/></c><e xmlns='urn:e'/></b></a>"))
	local b = t.tags[1]
	eq(b.attr.xmlns, "urn:a", "b inherits")
	eq(b.tags[1].attr.xmlns, nil, "c undeclared")
	eq(b.tags[1].tags[1].attr.xmlns, nil, "d under c")
	eq(b.tags[2].attr.xmlns, "urn:e", "e declares its own")
end)

test("to_tree: anything but plain XML is refused, not guessed at", function()
	local bad = {
		"", "x", "<a>", "<a></b>", "<a/><b/>", "<a x='1' x='2'/>", "<a:b/>", "<a xmlns:a='x'/>",
		"<!-- c --><a/>", "<a><?pi?></a>", "<a><![CDATA[x]]></a>", "<!DOCTYPE a><a/>", "<a>\0</a>",
		"<a>&bogus;</a>", "<a>&#0;</a>", "<a>&#xD800;</a>", "<a>&#x110000;</a>", "<a>&#;</a>", "<a>&amp</a>",
		"<a b='<'/>", "<a b=c/>", "<a\255/>", "<a b='1'c='2'/>", "<a b='1/>", "<a>\237\160\128</a>",
		string.rep("<a>", 200) .. string.rep("</a>", 200),
	}
	for _, text in ipairs(bad) do
		local t, msg = sic.to_tree(text)
		eq(t, nil, ("%q"):format(text))
		truthy(type(msg) == "string" and #msg > 0, "a message for " .. ("%q"):format(text))
	end
	raises("bad argument #1.*string expected", sic.to_tree, {})
	raises("bad argument #2.*table expected", sic.to_tree, "<a/>", "mt")
end)

test("to_xml: util.stanza's serialisation of a tree", function()
	local tree = { name = "iq", attr = { type = "get", id = "x'<&>\"" }, tags = {} }
	local child = { name = "address", attr = { xmlns = NS1 }, tags = {} }
	tree[1], tree.tags[1] = child, child
	eq(sic.to_xml(child), "<address xmlns='urn:xmpp:sic:1'/>", "empty element")
	local text = sic.to_xml(tree)
	local el = xml.parse(text)
	eq(el.attr.id, "x'<&>\"", "escaped attribute")
	eq(xml.child(el, "address", NS1) ~= nil, true, "child")
	local with_text = { name = "m", attr = {}, tags = {}, "a<b & 'c'" }
	eq(sic.to_xml(with_text), "<m>a&lt;b &amp; &apos;c&apos;</m>", "escaped text")
end)

test("to_xml: an xmlns equal to the parent's is left out, prefixed attributes get ns1", function()
	local inner = { name = "c", attr = { xmlns = "jabber:client" }, tags = {} }
	local outer = { name = "b", attr = { xmlns = "jabber:client" }, tags = { inner }, inner }
	eq(sic.to_xml(outer), "<b xmlns='jabber:client'><c/></b>")
	local bare = { name = "b", attr = {}, tags = { inner }, inner }
	eq(sic.to_xml(bare), "<b><c xmlns='jabber:client'/></b>", "only a written xmlns is inherited")
	local pref = { name = "x", attr = { ["urn:y\1z"] = "v" }, tags = {} }
	eq(sic.to_xml(pref), "<x xmlns:ns1='urn:y' ns1:z='v'/>")
end)

test("to_xml: misuse raises, depth beyond the library's limit fails", function()
	raises("bad argument #1.*table expected", sic.to_xml, "<a/>")
	raises("has no name", sic.to_xml, { attr = {} })
	raises("attributes must map strings to strings", sic.to_xml, { name = "a", attr = { x = 1 } })
	raises("attr is a", sic.to_xml, { name = "a", attr = "x" })
	raises("child 1 is a", sic.to_xml, { name = "a", attr = {}, 42 })
	local deep = { name = "a", attr = {}, tags = {} }
	for _ = 1, 200 do deep = { name = "a", attr = {}, tags = { deep }, deep } end
	local out, msg = sic.to_xml(deep)
	eq(out, nil)
	truthy(msg:find("deep"), msg)
end)

test("handle_stanza: same answers as handle_iq, as trees", function()
	local mt = {}
	local cases = {
		{ SIC1, ALICE, nil, "192.0.2.1", 5222 },
		{ SIC1, ALICE, nil, "2001:db8::7", 443, sic.FLAG_OMIT_PORT },
		{ SIC0_IP, ALICE, "example.org", "::ffff:10.0.0.1", 1 },
		{ SIC0_ADDRESS, ALICE, nil, "192.0.2.1", 1 },
		{ SIC1, ALICE, "bob@example.org", "192.0.2.1", 1 },
		{ iq("set", "<address xmlns='urn:xmpp:sic:1'/>"), ALICE, nil, "192.0.2.1", 1 },
		{ SIC1, ALICE, nil, nil, nil },
		{ "<iq type='get' id='&apos;&amp;'><address xmlns='urn:xmpp:sic:1'/></iq>", "a@b/'\"", nil, "192.0.2.1", 1 },
	}
	for i, c in ipairs(cases) do
		local request = assert(sic.to_tree(c[1]))
		local text = assert(sic.handle_iq(sic.to_xml(request), c[2], c[3], c[4], c[5], c[6]))
		local tree = sic.handle_stanza(request, c[2], c[3], c[4], c[5], c[6], mt)
		truthy(type(tree) == "table", "case " .. i .. " gives a tree")
		eq(getmetatable(tree), mt, "case " .. i .. " metatable")
		same_xml(sic.to_xml(tree), text, "case " .. i)
	end
end)

test("handle_stanza: pass, failures, misuse", function()
	local version = assert(sic.to_tree(iq("get", "<query xmlns='jabber:iq:version'/>")))
	eq(sic.handle_stanza(version, ALICE, nil, "192.0.2.1", 1), false, "pass")
	local request = assert(sic.to_tree(SIC1))
	local r, msg, code = sic.handle_stanza(request, ALICE, nil, "bogus", 1)
	eq(r, nil)
	eq(msg, "invalid IP address")
	eq(code, sic.STATUS_INVALID_ARGUMENT)
	r, msg, code = sic.handle_stanza(request, "@", nil, "192.0.2.1", 1)
	eq(code, sic.STATUS_INVALID_ARGUMENT, "bad sender")
	local no_id = { name = "iq", attr = { type = "get" }, tags = {} }
	r, msg, code = sic.handle_stanza(no_id, ALICE, nil, "192.0.2.1", 1)
	eq(code, sic.STATUS_MALFORMED_STANZA, "no id")
	local deep = { name = "a", attr = {}, tags = {} }
	for _ = 1, 200 do deep = { name = "a", attr = {}, tags = { deep }, deep } end
	local sic_deep = { name = "iq", attr = { type = "get", id = "d" }, tags = {},
		{ name = "address", attr = { xmlns = NS1 }, tags = {}, deep } }
	r, msg, code = sic.handle_stanza(sic_deep, ALICE, nil, "192.0.2.1", 1)
	eq(code, sic.STATUS_MALFORMED_STANZA, "too deep")
	raises("bad argument #1.*table expected, got string", sic.handle_stanza, SIC1, ALICE)
	raises("bad argument #2.*string expected", sic.handle_stanza, request, nil)
	raises("bad argument #5.*port must be", sic.handle_stanza, request, ALICE, nil, "192.0.2.1", 1e6)
	raises("bad argument #6.*unknown flag bits", sic.handle_stanza, request, ALICE, nil, "192.0.2.1", 1, 16)
	raises("bad argument #7.*table expected", sic.handle_stanza, request, ALICE, nil, "192.0.2.1", 1, 0, "mt")
	raises("attributes must map strings", sic.handle_stanza, { name = "iq", attr = { id = 5 } }, ALICE)
end)

test("handle_stanza: a large reply leaves the C-stack buffers", function()
	local id = string.rep('"', 9000)
	local request = assert(sic.to_tree("<iq type='get' id='" .. id .. "'><address xmlns='urn:xmpp:sic:1'/></iq>"))
	local tree = sic.handle_stanza(request, ALICE, nil, "192.0.2.1", 1)
	truthy(type(tree) == "table", "a tree")
	eq(tree.attr.id, id, "id round trip")
end)

-- Robustness ---------------------------------------------------------------

test("many calls: stable results and no growth in Lua memory", function()
	local stanzas = { SIC1, SIC0_IP, iq("set", "<address xmlns='urn:xmpp:sic:1'/>"), "<iq", SIC1 }
	local trees = { sic.to_tree(SIC1), sic.to_tree(SIC0_IP), { name = "iq", attr = {} } }
	local ips = { "192.0.2.1", "2001:db8::1", "bogus", nil, "::ffff:10.1.2.3" }
	local mt = {}
	local function round()
		for i = 1, 2000 do
			local k = i % #stanzas + 1
			local target = (i % 3 == 0) and "bob@example.org" or nil
			sic.handle_iq(stanzas[k], ALICE, target, ips[k], i % 65536)
			sic.handle_stanza(trees[i % #trees + 1], ALICE, target, ips[k], i % 65536, 0, mt)
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
