-- A deliberately small XML reader for the tests: enough for the stanzas the
-- library writes (elements, attributes in either quote, text, the five
-- entities and character references), and strict enough that a reply that is
-- not well-formed fails the test instead of being matched by a pattern.
-- Runs on Lua 5.1/LuaJIT and 5.4 alike, so it avoids goto and utf8.*.

local xml = {}

local named = { lt = "<", gt = ">", amp = "&", apos = "'", quot = '"' }

local function utf8_char(cp)
	if cp < 0x80 then
		return string.char(cp)
	elseif cp < 0x800 then
		return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
	elseif cp < 0x10000 then
		return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
	end
	return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
		0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local function decode(text)
	if text:find("<", 1, true) then
		error("raw '<' in text or attribute value", 0)
	end
	return (text:gsub("&([^;]*);?", function(ref)
		if named[ref] then
			return named[ref]
		end
		local cp = ref:match("^#x(%x+)$")
		cp = cp and tonumber(cp, 16) or tonumber(ref:match("^#(%d+)$") or "")
		if not cp then
			error("bad entity reference &" .. ref, 0)
		end
		return utf8_char(cp)
	end))
end

-- Returns the root element as { name, attr = {}, children = {}, text = "..." }
-- (text is all character data directly inside the element), or raises.
function xml.parse(s)
	local pos = 1
	local stack = {}
	local root

	local function open_element(name, attrs_text, self_closing)
		local el = { name = name, attr = {}, children = {}, text = "" }
		local rest = attrs_text:gsub("%s+([%w:_%-%.]+)%s*=%s*(['\"])(.-)%2", function(k, _, v)
			if el.attr[k] ~= nil then
				error("duplicate attribute " .. k, 0)
			end
			el.attr[k] = decode(v)
			return ""
		end)
		if rest:find("%S") then
			error("junk in tag <" .. name .. ">: " .. rest, 0)
		end
		local parent = stack[#stack]
		if parent then
			table.insert(parent.children, el)
		elseif root then
			error("second root element <" .. name .. ">", 0)
		else
			root = el
		end
		if not self_closing then
			table.insert(stack, el)
		end
	end

	while pos <= #s do
		local lt = s:find("<", pos, true)
		local text = s:sub(pos, (lt or #s + 1) - 1)
		if #text > 0 then
			local top = stack[#stack]
			if not top then
				if text:find("%S") then
					error("text outside the root element", 0)
				end
			else
				top.text = top.text .. decode(text)
			end
		end
		if not lt then
			break
		end
		local close_name, close_end = s:match("^</([%w:_%-%.]+)%s*>()", lt)
		if close_name then
			local top = table.remove(stack)
			if not top or top.name ~= close_name then
				error("mismatched </" .. close_name .. ">", 0)
			end
			pos = close_end
		else
			local name, attrs, slash, tag_end = s:match("^<([%w:_%-%.]+)(.-)(/?)>()", lt)
			if not name then
				error("bad markup at byte " .. lt, 0)
			end
			-- ">" inside a quoted value would have ended the match early.
			local _, quotes = attrs:gsub("['\"]", "")
			if quotes % 2 ~= 0 then
				error("unbalanced quotes in <" .. name .. ">", 0)
			end
			open_element(name, attrs, slash == "/")
			pos = tag_end
		end
	end
	if #stack > 0 then
		error("unclosed <" .. stack[#stack].name .. ">", 0)
	end
	if not root then
		error("no element", 0)
	end
	return root
end

-- The first child with this name (and namespace, when given).
function xml.child(el, name, xmlns)
	for _, c in ipairs(el.children) do
		if c.name == name and (xmlns == nil or c.attr.xmlns == xmlns) then
			return c
		end
	end
	return nil
end

return xml
