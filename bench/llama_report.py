#!/usr/bin/env python3
"""Table of bench/llama.sh results: median over rounds per engine x model."""
import json
import statistics
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    peak = next((r for r in rows if r.get("engine") == "peak"), {})
    bw = peak.get("read_gbps")
    by = {}
    for r in rows:
        if r.get("engine") in ("pare", "llama.cpp"):
            by.setdefault((r["model"], r["engine"]), []).append(r)
    models = []
    for m, _ in by:
        if m not in models:
            models.append(m)

    def med(m, e, key):
        vals = [r[key] for r in by.get((m, e), []) if r.get(key)]
        return statistics.median(vals) if vals else None

    def fmt(x, spec="%.1f"):
        return spec % x if x is not None else "-"

    print("\nLlama decode/prefill, %s threads; read bandwidth %s GB/s (pare peak)\n"
          % (peak.get("threads", "?"), fmt(bw)))
    print("| model | pare prefill tok/s | llama.cpp prefill | ratio | pare decode tok/s | llama.cpp decode | ratio | bound tok/s | pare % of bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in models:
        pp, lp = med(m, "pare", "prefill_tok_s"), med(m, "llama.cpp", "prefill_tok_s")
        pd, ld = med(m, "pare", "decode_tok_s"), med(m, "llama.cpp", "decode_tok_s")
        wb = med(m, "pare", "weight_bytes_per_token")
        bound = bw * 1e9 / wb if bw and wb else None
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            m, fmt(pp), fmt(lp), fmt(pp / lp, "%.2f") if pp and lp else "-",
            fmt(pd), fmt(ld), fmt(pd / ld, "%.2f") if pd and ld else "-",
            fmt(bound), fmt(100 * pd / bound, "%.0f%%") if pd and bound else "-"))
    print("\nratio = pare / llama.cpp (above 1: pare faster). Medians over rounds.")
    f32 = med("tinyllama-f32", "pare", "decode_tok_s")
    for q in ("q8_0", "q4_0"):
        d = med("tinyllama-" + q, "pare", "decode_tok_s")
        if f32 and d:
            print("pare decode, tinyllama %s over pare's own f32: %.2fx" % (q, d / f32))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".cache/bench/llama.jsonl")
