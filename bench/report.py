#!/usr/bin/env python3
"""Print the bench table from the JSON lines bench/run.sh collects
(.cache/bench/last.jsonl by default). Standard library only.

Rows: one per (model, batch). When bench/run.sh ran several rounds (each
engine once per round, alternating, so that a noisy spell of a shared
machine hits every engine alike), each cell is the median over rounds of
the per-round p50. Peer columns are p50 latencies in ms; the
speed-ups are peer p50 / pare p50 (fp32 peers against pare fp32, the int8
peers against pare-int8, W8A8 dynamic; "s" columns against pare-int8s, static); GFLOP/s is pare's own (its "gflop" at p50)
and "% peak" divides it by the FMA peak `pare peak --json` measured (the
higher of its runs).
"""
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = ("torch", "ort", "torch-int8", "ort-int8")
# pare's int8 rows (W8A8 dynamic, static) and the int8 peers they are set against
PARE_INT8 = ("pare-int8", "pare-int8s")
INT8_PEERS = ("torch-int8", "ort-int8")


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache", "bench", "last.jsonl")
    peak, rows, order = None, {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as ex:
                sys.exit(f"{path}:{n}: not JSON ({ex})")
            if r.get("engine") == "peak":  # measured twice: keep the higher (fp32 and int8 apart)
                i8 = max(r.get("int8_gops", 0), (peak or {}).get("int8_gops", 0))
                if not peak or r["fma_gflops"] > peak["fma_gflops"]:
                    peak = r
                peak["int8_gops"] = i8
                continue
            key = (r["model"], r["batch"], r["seq"])
            if key not in rows:
                rows[key] = {}
                order.append(key)
            rows[key].setdefault(r["engine"], []).append(r)

    # Collapse the rounds: median of the per-round p50 (and of GFLOP/s).
    n_rounds = 1
    for key in order:
        for eng, runs in rows[key].items():
            n_rounds = max(n_rounds, len(runs))
            rows[key][eng] = {"p50_ms": statistics.median(r["p50_ms"] for r in runs),
                              "gflops": statistics.median(r.get("gflops") or 0 for r in runs) or None,
                              "threads": runs[0].get("threads"),
                              "rounds": [round(r["p50_ms"], 2) for r in runs]}
    peers = [p for p in PEERS if any(p in rows[k] for k in order)]
    if peak:
        print(f"FMA peak: {peak['fma_gflops']:.1f} GFLOP/s on {peak.get('threads')} threads "
              f"({peak.get('cpu', '?')}; {peak.get('features', '')})")
        if peak.get("int8_gops"):
            print(f"int8 peak: {peak['int8_gops']:.1f} GOP/s ({peak.get('int8_isa', '?')})")
    threads = sorted({e.get("threads") for k in order for e in rows[k].values()} - {None})
    print(f"p50 latency in ms (median of {n_rounds} alternating round(s)); threads {','.join(map(str, threads))}; "
          "x = peer / pare (higher: pare faster)")
    ratios = [p for p in peers if not p.endswith("int8")]  # pare is fp32
    mine = [p for p in PARE_INT8 if any(p in rows[k] for k in order)]
    iratios = [(q, p) for q in mine for p in INT8_PEERS if p in peers]
    head = (["model", "batch", "seq", "pare"] + mine + peers + [f"x {p}" for p in ratios]
            + [f"x {p}{'s' if q.endswith('s') else ''}" for q, p in iratios] + ["GFLOP/s", "% peak"]
            + (["int8 GOP/s", "% i8 peak"] if "pare-int8" in mine else []))
    table = [head]
    for key in order:
        e = rows[key]
        pare = e.get("pare", {}).get("p50_ms")
        cells = [key[0], str(key[1]), str(key[2]), fmt(pare, ".2f")]
        cells += [fmt(e.get(p, {}).get("p50_ms"), ".2f") for p in mine + peers]
        for p in ratios:
            t = e.get(p, {}).get("p50_ms")
            cells.append(fmt(t / pare if t and pare else None, ".2f"))
        for q, p in iratios:
            t, mq = e.get(p, {}).get("p50_ms"), e.get(q, {}).get("p50_ms")
            cells.append(fmt(t / mq if t and mq else None, ".2f"))
        gflops = e.get("pare", {}).get("gflops")
        cells.append(fmt(gflops, ".1f"))
        cells.append(fmt(100 * gflops / peak["fma_gflops"] if gflops and peak else None, ".0f"))
        if "pare-int8" in mine:  # W8A8 dynamic against the int8 peak of `pare peak`
            g8 = e.get("pare-int8", {}).get("gflops")
            cells.append(fmt(g8, ".1f"))
            cells.append(fmt(100 * g8 / peak["int8_gops"] if g8 and peak and peak.get("int8_gops") else None, ".0f"))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if n_rounds > 1:
        print("\nper-round p50 (ms), pare vs ort:")
        for key in order:
            e = rows[key]
            print(f"  {key[0]} batch {key[1]}: pare {e.get('pare', {}).get('rounds')}  ort {e.get('ort', {}).get('rounds')}")


if __name__ == "__main__":
    main()
