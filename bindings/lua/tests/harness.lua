-- Minimal test runner shared by the Lua suites: each case runs under pcall so
-- one failure does not hide the rest, and the last line is the
-- "N passed, N failed" that run-tests.sh adds up.

local harness = { passed = 0, failed = 0 }

function harness.test(name, fn)
	local ok, err = pcall(fn)
	if ok then
		harness.passed = harness.passed + 1
	else
		harness.failed = harness.failed + 1
		io.stderr:write("FAIL ", name, ": ", tostring(err), "\n")
	end
end

function harness.eq(got, want, what)
	if got ~= want then
		error(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
	end
end

function harness.truthy(v, what)
	if not v then
		error((what or "condition") .. " is false", 2)
	end
	return v
end

-- Asserts that fn(...) raises and that the message mentions `pattern`.
function harness.raises(pattern, fn, ...)
	local ok, err = pcall(fn, ...)
	if ok then
		error("expected an error matching '" .. pattern .. "', got success", 2)
	end
	if not tostring(err):find(pattern) then
		error("error '" .. tostring(err) .. "' does not match '" .. pattern .. "'", 2)
	end
end

function harness.finish(suite)
	print(string.format("%s: %d passed, %d failed", suite, harness.passed, harness.failed))
	os.exit(harness.failed == 0 and 0 or 1)
end

return harness
