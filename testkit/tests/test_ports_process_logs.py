import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from testkit import logs, ports, process


class Ports(unittest.TestCase):
    def test_free_port_can_be_bound(self):
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            port = ports.free_port(family)
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((host, port))

    def test_dual_port_is_free_on_both_loopbacks(self):
        port = ports.free_dual_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s4, \
                socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
            s4.bind(("127.0.0.1", port))
            s6.bind(("::1", port))

    def test_distinct_ports_are_distinct(self):
        got = ports.distinct_ports(5)
        self.assertEqual(len(set(got)), 5)

    def test_distinct_ports_gives_up(self):
        with self.assertRaises(RuntimeError):
            ports.distinct_ports(2, picker=lambda: 4242)


class Process(unittest.TestCase):
    def test_parse_stat_counts_from_the_last_parenthesis(self):
        # A command name with spaces and a ')' inside, as comm may be.
        fields = ["S"] + ["0"] * 10 + ["123", "45"] + ["0"] * 30
        text = "4242 (evil) name (x)) " + " ".join(fields)
        self.assertEqual(process.parse_stat(text), (123, 45))

    def test_cpu_seconds_of_a_busy_child_grows(self):
        child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<0.3: pass"])
        try:
            child.wait(timeout=10)
        finally:
            process.stop(child)
        # Once reaped /proc has no entry: measure ourselves instead.
        before = process.cpu_seconds(os.getpid())
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
        self.assertGreater(process.cpu_seconds(os.getpid()) - before, 0.1)

    def test_stop_terminates_by_pid(self):
        child = subprocess.Popen(["sleep", "30"])
        self.assertEqual(process.stop(child), -15)

    def test_stop_kills_what_ignores_sigterm(self):
        # Short sleeps in a loop: no child outlives the shell for long
        # (a long one would hold the test runner's output open).
        child = subprocess.Popen(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"],
                                 stdout=subprocess.PIPE)
        child.stdout.readline()
        started = time.monotonic()
        self.assertEqual(process.stop(child, term_timeout=0.3), -9)
        self.assertLess(time.monotonic() - started, 5)
        child.stdout.close()

    def test_start_writes_output_to_the_log(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "out.log")
            child = process.start(["sh", "-c", "echo hello; echo oops >&2"], path)
            child.wait(timeout=10)
            self.assertEqual(sorted(logs.read(path).split()), ["hello", "oops"])

    def test_wait_for_ports_sees_a_listener(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            process.wait_for_ports(None, [("127.0.0.1", listener.getsockname()[1])], timeout=5)

    def test_wait_for_ports_fails_when_the_process_exits(self):
        child = subprocess.Popen(["true"])
        with self.assertRaisesRegex(RuntimeError, "exited"):
            process.wait_for_ports(child, [("127.0.0.1", ports.free_port())], timeout=10,
                                   describe=lambda: "tail")

    def test_wait_for_ports_times_out(self):
        with self.assertRaisesRegex(RuntimeError, "not accepting"):
            process.wait_for_ports(None, [("::1", ports.free_port(socket.AF_INET6))], timeout=0.2)


class Logs(unittest.TestCase):
    def test_prosody_errors(self):
        bad = ["Dec 03 c2s55\terror\tTraceback[c2s]: x.lua:10: attempt to index a nil value",
               "mod_x: /usr/lib/prosody/modules/mod_x.lua:4: boom"]
        good = ["Dec 03 c2s55\tinfo\tClient connected", "Dec 03 general\twarn\tslow"]
        self.assertTrue(all(logs.PROSODY_ERRORS.search(line) for line in bad))
        self.assertFalse(any(logs.PROSODY_ERRORS.search(line) for line in good))

    def test_ejabberd_errors(self):
        bad = ["2026-12-03 [error] (<0.1.0>) Failed to process iq", "=CRASH REPORT==== x",
               "[critical] disk"]
        good = ["2026-12-03 [info] (<0.474.0>) Accepted connection", "[warning] slow"]
        self.assertTrue(all(logs.EJABBERD_ERRORS.search(line) for line in bad))
        self.assertFalse(any(logs.EJABBERD_ERRORS.search(line) for line in good))

    def test_problems_and_assert_clean(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ejabberd.log")
            with open(path, "w") as f:
                f.write("[info] fine\n[error] broken\n")
            self.assertEqual(logs.problems([path, os.path.join(d, "absent.log")], logs.EJABBERD_ERRORS),
                             ["ejabberd.log: [error] broken"])
            with self.assertRaisesRegex(AssertionError, "broken"):
                logs.assert_clean([path], logs.EJABBERD_ERRORS)
            self.assertIn("[error] broken", logs.tail([path], 1))


if __name__ == "__main__":
    unittest.main()


class _FlakyServer:
    """A server whose first starts fail with the given messages."""

    def __init__(self, failures):
        self.failures = list(failures)
        self.starts = self.stops = 0

    def _start(self):
        self.starts += 1
        if self.failures:
            raise RuntimeError(self.failures.pop(0))

    def stop(self):
        self.stops += 1


class EnterTests(unittest.TestCase):
    def test_a_port_taken_meanwhile_is_tried_again(self):
        server = _FlakyServer(["Failed to open socket at [::1]:4000: address already in use"])
        self.assertIs(process.enter(server), server)
        self.assertEqual((server.starts, server.stops), (2, 1))

    def test_other_failures_are_raised_at_once(self):
        server = _FlakyServer(["bad config"])
        with self.assertRaisesRegex(RuntimeError, "bad config"):
            process.enter(server)
        self.assertEqual((server.starts, server.stops), (1, 1))

    def test_attempts_are_bounded(self):
        server = _FlakyServer(["eaddrinuse"] * 5)
        with self.assertRaises(RuntimeError):
            process.enter(server, attempts=3)
        self.assertEqual(server.starts, 3)
