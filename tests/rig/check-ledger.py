"""Checks the ledger of real-server tests against tests/rig/server-tests.txt.

Usage: python3 tests/rig/check-ledger.py LEDGER EXPECTED

Prints which test reached which server (kind and version as the server
reported them, and what the test verified), then fails when a listed test
did not reach every kind it must reach, or when a ledger line names a test
that is not listed.
"""
import json
import sys


def main(ledger_path, expected_path):
    expected = {}
    with open(expected_path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, *kinds = line.split()
                expected[name] = set(kinds)
    reached = {}
    with open(ledger_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{ledger_path}:{number}: not JSON ({e}): {line.strip()}")
            reached.setdefault(entry["test"], set()).add(entry["engine"])
            print(f"  {entry['test']}: {entry['engine']} {entry['version']} at {entry['url']}: {entry['verified']}")
    problems = []
    for name, kinds in sorted(expected.items()):
        missing = kinds - reached.get(name, set())
        if missing:
            problems.append(f"{name} did not reach {', '.join(sorted(missing))}")
    for name in sorted(set(reached) - set(expected)):
        problems.append(f"{name} reached a server but is not listed in {expected_path}")
    if problems:
        print(f"\n{len(problems)} problem(s) with the real-server tests:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        sys.exit(1)
    pairs = sum(len(k) for k in expected.values())
    print(f"\nall {len(expected)} listed server tests reached their engines ({pairs} test-engine pairs)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
