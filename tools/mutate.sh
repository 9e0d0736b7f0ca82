#!/usr/bin/env bash
# Mutation testing: plant each bug of tools/mutants.txt, one at a time, in a
# scratch copy of the tracked sources, rebuild, run the tests it names, and
# report the mutants no test caught (exit 1 if any). Run by `make test-long`.
#   tools/mutate.sh                 # every mutant
#   MUTANTS="gelu bpe" tools/mutate.sh   # those whose id contains one of these
#   MUTATE_DIR=/tmp/m tools/mutate.sh    # scratch folder (default: a new temp one)
# The scratch build is Release without -Werror (a planted bug may warn); the
# models and data are the checkout's (.cache/models, ../shared/data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$root" <<'PY'
import os, re, subprocess, sys, tempfile, time

root = sys.argv[1]
only = os.environ.get("MUTANTS", "").split()
jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))

def parse(path):
    muts, cur = [], None
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith("== "):
            parts = [p.strip() for p in line[3:].split(" | ")]
            if len(parts) not in (4, 5):
                sys.exit(f"{path}:{no}: want '== id | file | tests | what [| needs FLAG]'")
            cur = {"id": parts[0], "file": parts[1], "tests": parts[2], "what": parts[3], "old": None, "new": None, "line": no,
                   "needs": parts[4].split()[-1] if len(parts) == 5 else None}
            muts.append(cur)
        elif line.startswith("- ") and cur:
            cur["old"] = line[2:].replace("\\n", "\n")
        elif line.startswith("+ ") and cur:
            cur["new"] = line[2:].replace("\\n", "\n")
        elif line == "+" and cur:
            cur["new"] = ""
    for m in muts:
        if m["old"] is None or m["new"] is None:
            sys.exit(f"{path}:{m['line']}: mutant {m['id']} lacks its - or + line")
    return muts

muts = parse(os.path.join(root, "tools", "mutants.txt"))
if only:
    muts = [m for m in muts if any(o in m["id"] for o in only)]
# a mutant in code this CPU cannot execute (AMX on a machine without it)
# cannot be caught here: listed as not run, never as killed
flags = set()
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
except OSError:
    pass
not_run = [m for m in muts if m["needs"] and m["needs"] not in flags]
muts = [m for m in muts if m not in not_run]
if os.environ.get("MUTATE_CHECK"):  # only check that every mutant applies
    for m in muts + not_run:
        n = open(os.path.join(root, m["file"]), encoding="utf-8").read().count(m["old"])
        print(f"{m['id']:<28} {'ok' if n == 1 else f'occurs {n} times'}")
    sys.exit(0)
scratch = os.environ.get("MUTATE_DIR") or tempfile.mkdtemp(prefix="pare-mutate-")
os.makedirs(scratch, exist_ok=True)
print(f"mutate: {len(muts)} mutants, scratch copy in {scratch}", flush=True)

# the tracked files (and the uncommitted edits of them), nothing built
files = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True).stdout.split(b"\0")
for f in files:
    if not f:
        continue
    src, dst = os.path.join(root, f.decode()), os.path.join(scratch, f.decode())
    if not os.path.isfile(src):
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as a, open(dst, "wb") as b:
        b.write(a.read())
env = dict(os.environ)
env.setdefault("PARE_MODELS_DIR", os.path.join(root, ".cache", "models"))
env.setdefault("PARE_DATA_DIR", os.path.join(os.path.dirname(root), "shared", "data"))
env.pop("PARE_TEST_QUICK", None)
build = os.path.join(scratch, "build")

def run(cmd, **kw):
    return subprocess.run(cmd, env=env, cwd=scratch, capture_output=True, text=True, **kw)

r = run(["cmake", "-S", ".", "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DPARE_WERROR=OFF", "-DPARE_FUZZ=OFF"])
if r.returncode:
    sys.exit("mutate: cmake failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])

def targets(regex):
    r = run(["ctest", "--test-dir", build, "-N", "-R", regex])
    out = r.stdout + r.stderr
    names = re.findall(r"Test\s+#\d+: (\S+)", out)
    if not names:
        sys.exit(f"mutate: no test matches {regex!r}")
    return names, ["pare_cli"] + [n for n in names if n.startswith("test_")]

def build_and_test(regex):
    names, tgts = targets(regex)
    b = run(["cmake", "--build", build, "-j", jobs, "--target"] + tgts)
    if b.returncode:
        return "build failed", b.stdout[-3000:] + b.stderr[-3000:]
    t = run(["ctest", "--test-dir", build, "-R", regex, "--timeout", "900", "--output-on-failure"])
    return ("passed" if t.returncode == 0 else "failed"), t.stdout[-3000:]

# the unmutated code passes every listed test first (one group: CMake's
# regular expressions take at most 9 subexpressions)
all_names = sorted({n for m in muts for n in targets(m["tests"])[0]})
all_regex = "^(" + "|".join(all_names) + ")$"
t0 = time.time()
state, log = build_and_test(all_regex)
if state != "passed":
    sys.exit(f"mutate: the unmutated tests do not pass ({state}):\n{log}")
print(f"mutate: baseline builds and passes ({time.time() - t0:.0f} s)", flush=True)

rows, survivors = [], 0
for m in muts:
    path = os.path.join(scratch, m["file"])
    text = open(path, encoding="utf-8").read()
    n = text.count(m["old"])
    if n != 1:
        sys.exit(f"mutate: {m['id']}: the text to replace occurs {n} times in {m['file']} (want once)")
    t0 = time.time()
    open(path, "w", encoding="utf-8").write(text.replace(m["old"], m["new"]))
    try:
        state, log = build_and_test(m["tests"])
    finally:
        open(path, "w", encoding="utf-8").write(text)
    caught = state in ("failed", "build failed")
    if state == "build failed":
        caught = False  # a planted bug must compile: a build failure tells nothing
    survivors += not caught
    verdict = "killed" if caught else ("BUILD FAILED" if state == "build failed" else "SURVIVED")
    rows.append((m["id"], verdict, m["tests"], time.time() - t0, m["what"]))
    print(f"mutate: {m['id']:<28} {verdict:<12} {time.time() - t0:5.0f} s  {m['what']}", flush=True)
    if not caught and os.environ.get("MUTATE_VERBOSE"):
        print(log)
# rebuild the restored tree so the scratch copy is left consistent
print(f"\nmutate: {len(rows) - survivors} of {len(rows)} mutants killed" + (f", {survivors} not" if survivors else ""))
for m in not_run:
    print(f"  {m['id']}: not run: this CPU lacks {m['needs']} ({m['what']})")
for r in rows:
    if r[1] != "killed":
        print(f"  {r[0]}: {r[1]} ({r[4]}; tests {r[2]})")
sys.exit(1 if survivors else 0)
PY
