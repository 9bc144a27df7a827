#!/usr/bin/env python3
"""Turns the outputs of bench/run.sh into one markdown report on stdout."""
import json
import os
import platform
import re
import sys


def median_ns(criterion, group, bench):
    path = os.path.join(criterion, group, bench, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    criterion, out = sys.argv[1], sys.argv[2]
    print(f"Machine: {machine()}\n")
    floor = median_ns(criterion, "sic_handle_iq", "floor_quick_xml_sic1")
    print("### Core: one `sic_handle_iq` call through the C ABI\n")
    print("| request | median | vs quick-xml floor |")
    print("|---|---|---|")
    for bench, label in [
        ("sic1_ipv4", "sic:1 `<address/>`, IPv4"),
        ("sic1_ipv6", "sic:1 `<address/>`, IPv6"),
        ("sic0_ipv4", "sic:0 `<ip/>`, IPv4"),
        ("sic0_ipv6", "sic:0 `<ip/>`, IPv6"),
        ("sic1_to_own_bare_jid", "sic:1 to own bare JID"),
        ("forbidden", "sic:1 to another user (forbidden)"),
        ("bad_request", "payload with a child (bad-request)"),
    ]:
        ns = median_ns(criterion, "sic_handle_iq", bench)
        print(f"| {label} | {fmt(ns)} | {ns / floor:.2f}× |")
    print(f"| floor: quick-xml `Reader` reading every event of the sic:1 stanza | {fmt(floor)} | 1.00× |\n")

    print("### Cost against id length and JID length\n")
    print("| id bytes | handle | floor | ratio |")
    print("|---|---|---|---|")
    for n in (8, 64, 512, 4096):
        h, fl = median_ns(criterion, "id_length", f"handle/{n}"), median_ns(criterion, "id_length", f"floor/{n}")
        print(f"| {n} | {fmt(h)} | {fmt(fl)} | {h / fl:.2f}× |")
    print("\n| localpart bytes (sender and target) | handle |")
    print("|---|---|")
    for n in (5, 64, 255, 1023):
        print(f"| {n} | {fmt(median_ns(criterion, 'jid_length', f'handle/{n}'))} |")

    print("\n| a stanza of just under 64 KiB (the largest accepted) | handle |")
    print("|---|---|")
    for name, label in (("plain_id", "id of plain bytes"), ("amp_refs_id", "id made of `&amp;` references (the slowest input per byte)")):
        print(f"| {label} | {fmt(median_ns(criterion, 'largest_stanza', f'handle/{name}'))} |")

    print("\n### Threads, allocations, memory\n")
    print("| measure | value |")
    print("|---|---|")
    with open(os.path.join(out, "throughput.txt")) as f:
        rates = dict(re.findall(r"threads=(\d+) calls_per_s=(\d+)", f.read()))
    for t, rate in sorted(rates.items()):
        print(f"| calls/s on {t} thread(s) | {int(rate):,} |")
    if "1" in rates and "2" in rates:
        print(f"| scaling 1 → 2 threads | {int(rates['2']) / int(rates['1']):.2f}× |")
    with open(os.path.join(out, "allocations.txt")) as f:
        for line in f:
            name, per_call = line.rsplit(" ", 1)
            print(f"| heap allocations per call, {name} | {per_call.strip()} |")
    with open(os.path.join(out, "rss.txt")) as f:
        for line in f:
            m = re.match(r"anonymous rss, (.*): (\d+) KiB before, (\d+) KiB after (\d+) calls", line)
            if m:
                print(f"| anonymous RSS over {int(m[4]):,} calls, {m[1]} | {m[2]} KiB → {m[3]} KiB |")

    for name in sorted(os.listdir(out)):
        if name.startswith("host-") and name.endswith(".md"):
            with open(os.path.join(out, name)) as f:
                print()
                print(f.read().rstrip())


if __name__ == "__main__":
    main()
