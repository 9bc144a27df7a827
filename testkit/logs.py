"""Error checks on server logs: the lines that show an error, a crash or a
traceback, so a test can assert a clean log after it ran."""

import re

PROSODY_ERRORS = re.compile(r"\terror\t|traceback|\.lua:\d+:|attempt to (index|call)", re.IGNORECASE)
# ejabberd's own error levels, crash reports of OTP, and the IQ handler's
# failure message (a handler that crashed inside gen_iq_handler).
EJABBERD_ERRORS = re.compile(r"\[(error|critical|emergency|alert)\]|CRASH REPORT|crash_report|"
                             r"Failed to process iq")


def read(path):
    """The file's text, or '' when it does not exist (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def problems(paths, pattern):
    """Lines of these files that match `pattern`, each as 'file: line'."""
    found = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        found += [f"{name}: {line}" for line in read(path).splitlines() if pattern.search(line)]
    return found


def tail(paths, lines=40):
    """The last lines of each file, under a header naming it."""
    out = []
    for path in paths:
        text = read(path)
        if text:
            out.append(f"--- {path.rsplit('/', 1)[-1]}\n" + "\n".join(text.splitlines()[-lines:]))
    return "\n".join(out)


def assert_clean(paths, pattern, who="the server"):
    found = problems(paths, pattern)
    if found:
        raise AssertionError(f"{who} logged errors:\n" + "\n".join(found[:20]))
