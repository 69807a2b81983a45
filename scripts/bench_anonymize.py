#!/usr/bin/env python3
"""`kiban anonymize` beside a Python peer (anjana) on ARX's adult benchmark, in one run.

Both tools get the same task: the 8 quasi-identifiers of adult.csv with ARX's shipped hierarchies,
5-anonymity, 4 % suppression. Each whole process (start, load, search, write) is timed as a subprocess,
`--runs` times, and the median is reported; pycanon then checks the k each tool's output achieves.
ARX 3.9's figures on this kind of machine come from the issue (7.2 s whole process, 132 ms warm search).

    cargo build --release
    python3 -m venv /tmp/peer-venv && /tmp/peer-venv/bin/pip install anjana pycanon
    /tmp/peer-venv/bin/python scripts/bench_anonymize.py --data ../shared/data/arx

Scale mode replicates adult to N rows (k scaled with N) and reports kiban's time and peak RSS:

    /tmp/peer-venv/bin/python scripts/bench_anonymize.py --data ../shared/data/arx --scale 1000000 10000000
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"]
ARX_WHOLE_SECONDS = 7.2
ARX_WARM_SEARCH_SECONDS = 0.132

ANJANA = r"""
import sys, pandas as pd
from anjana.anonymity import k_anonymity
data_dir, out, k, supp = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
qis = %r
data = pd.read_csv(f"{data_dir}/adult.csv", sep=";", dtype=str)
hierarchies = {}
for qi in qis:
    h = pd.read_csv(f"{data_dir}/adult_hierarchy_{qi}.csv", sep=";", header=None, dtype=str)
    hierarchies[qi] = {level: h[level].values for level in h.columns}
result = k_anonymity(data, [], qis, k, supp, hierarchies)
result.to_csv(out, sep=";", index=False)
""" % QIS


def kiban_args(kiban, data, out, k, supp, input_path=None):
    args = [kiban, "anonymize", input_path or os.path.join(data, "adult.csv"), "--delimiter", ";",
            "--out", out, "--no-progress", "--k", str(k), "--suppression", str(supp),
            "--insensitive", "salary-class"]
    for qi in QIS:
        args += ["--qi", f"{qi}={os.path.join(data, f'adult_hierarchy_{qi}.csv')}"]
    return args


def timed(args):
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def achieved_k(path):
    import pandas as pd
    from pycanon.anonymity import k_anonymity
    data = pd.read_csv(path, sep=";", dtype=str)
    released = data[~(data[QIS] == "*").all(axis=1)]
    return k_anonymity(released, QIS), len(data) - len(released)


def side_by_side(args, work):
    kiban_out = os.path.join(work, "kiban")
    anjana_out = os.path.join(work, "anjana.csv")
    script = os.path.join(work, "anjana_task.py")
    with open(script, "w") as handle:
        handle.write(ANJANA)
    kiban_times, anjana_times, searches = [], [], []
    for _ in range(args.runs):
        kiban_times.append(timed(kiban_args(args.kiban, args.data, kiban_out, 5, 0.04)))
        with open(os.path.join(kiban_out, "report.json")) as handle:
            searches.append(float(re.search(r'"search_seconds": ([0-9.e-]+)', handle.read()).group(1)))
        anjana_times.append(timed([sys.executable, script, args.data, anjana_out, "5", "4"]))
    kiban_whole, anjana_whole = statistics.median(kiban_times), statistics.median(anjana_times)
    search = statistics.median(searches)
    kiban_k, kiban_suppressed = achieved_k(os.path.join(kiban_out, "adult.anonymized.csv"))
    anjana_k, _ = achieved_k(anjana_out)
    print("| tool | whole process (median of %d) | search | k achieved (pycanon) |" % args.runs)
    print("|---|---:|---:|---:|")
    print(f"| kiban anonymize | {kiban_whole * 1000:.0f} ms | {search * 1000:.1f} ms | {kiban_k} "
          f"({kiban_suppressed} rows suppressed) |")
    print(f"| anjana 1.2 (Python) | {anjana_whole * 1000:.0f} ms | — | {anjana_k} |")
    print(f"| ARX 3.9 (figures from the issue) | {ARX_WHOLE_SECONDS * 1000:.0f} ms | "
          f"{ARX_WARM_SEARCH_SECONDS * 1000:.0f} ms (warm) | 5 |")
    print()
    print(f"kiban / anjana whole process: {kiban_whole / anjana_whole:.3f}; "
          f"kiban / ARX whole process: {kiban_whole / ARX_WHOLE_SECONDS:.3f}; "
          f"kiban search / ARX warm search: {search / ARX_WARM_SEARCH_SECONDS:.3f}")


def scale(args, work):
    with open(os.path.join(args.data, "adult.csv")) as handle:
        header, *rows = handle.read().splitlines()
    print("| rows | k | wall | peak RSS | suppressed | transformation |")
    print("|---:|---:|---:|---:|---:|---|")
    for n in args.scale:
        path = os.path.join(work, f"adult-{n}.csv")
        with open(path, "w") as handle:
            handle.write(header + "\n")
            full, rest = divmod(n, len(rows))
            for _ in range(full):
                handle.write("\n".join(rows) + "\n")
            if rest:
                handle.write("\n".join(rows[:rest]) + "\n")
        k = max(5, 5 * n // len(rows))
        out = os.path.join(work, f"out-{n}")
        result = subprocess.run(["/usr/bin/time", "-v"] + kiban_args(args.kiban, args.data, out, k, 0.04, path),
                                check=True, capture_output=True, text=True)
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr).group(1)
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
        suppressed = re.search(r"(\d+) suppressed", result.stdout).group(1)
        transformation = re.search(r"transformation: (.*)", result.stdout).group(1)
        print(f"| {n:,} | {k} | {wall} | {rss_kb / 1024 / 1024:.2f} GiB | {suppressed} | {transformation} |",
              flush=True)
        os.remove(path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/arx")
    parser.add_argument("--kiban", default="target/release/kiban")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, nargs="*")
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        if args.scale:
            scale(args, work)
        else:
            side_by_side(args, work)


if __name__ == "__main__":
    main()
