#!/usr/bin/env python3
"""SS-MIX2 intake throughput: kiban's reader side by side with python-hl7 and the raw read + decode floor.

Generates (or reuses) a synthetic SS-MIX2 storage with `kiban synth --format ssmix2 --providers 1`, then
times whole processes over the same files, in one run. The page cache is warmed once, by one untimed raw
(Rust) pass that reads every file, so every timed pass reads warm files; warming once rather than per variant
keeps the 100,000-patient run from paying python-hl7's half hour twice.

  kiban read_ssmix2   the kiban-ingest example `bench_read_ssmix2`: walk, read, fingerprint, decode, parse,
                      validate the path against the message, map into PatientRecords (on every core)
  python-hl7          os.walk, read, decode ISO-2022-JP, hl7.parse (python-hl7), one thread
  raw (Rust)          the same example with `--raw`: walk, read, ISO-2022-JP decode only (the floor), one thread
  raw (Python)        os.walk, read, decode only: python-hl7's own floor, one thread

The Rust passes run `--runs` times (default 3) and the median counts; the Python passes run once each (at
100,000 patients python-hl7 alone takes about half an hour). Each pass is timed by wall clock and by CPU time
(user + system, all threads): a one-thread pass whose wall time is well above its CPU time waited on the disk
(the tree did not stay in the page cache), and the load average printed around the passes shows whether
something else shared the cores.

    CARGO_TARGET_DIR=/work/target-bench cargo build --release -p kiban  # `kiban synth`, for a new tree
    CARGO_TARGET_DIR=/work/target-bench cargo build --release -p kiban-ingest --example bench_read_ssmix2
    python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install hl7
    nice /work/bench-venv/bin/python scripts/bench_intake.py --patients 100000 \
        --work /work/bench-intake100k --target-dir /work/target-bench
"""

import argparse
import os
import resource
import subprocess
import sys
import time


def worker(mode, root):
    """One timed pass in this process: `python-hl7` or `raw`. Prints `key=value` counts."""
    import hl7  # noqa: PLC0415 (only the worker needs it)

    n_files = n_bytes = n_segments = n_failed = 0
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                data = handle.read()
            n_files += 1
            n_bytes += len(data)
            try:
                text = data.decode("iso2022_jp")
                if mode == "python-hl7":
                    n_segments += len(hl7.parse(text))
            except Exception:  # noqa: BLE001 (a bad file is counted, as kiban quarantines it)
                n_failed += 1
    print(f"mode={mode} files={n_files} bytes={n_bytes} segments={n_segments} failed={n_failed}")


def timed(command):
    """Runs one pass: its wall seconds, its CPU seconds (user + system, all threads) and its counts."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    fields = dict(pair.split("=", 1) for pair in completed.stdout.split())
    return seconds, cpu_seconds, fields


def load_average():
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--work", default="bench-intake", help="folder for the synthetic storage")
    parser.add_argument("--target-dir", default="target", help="cargo target dir of the release build")
    parser.add_argument("--python", default=sys.executable, help="a Python with `hl7` installed")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each Rust pass (the median counts)")
    args = parser.parse_args()

    kiban = os.path.join(args.target_dir, "release", "kiban")
    example = os.path.join(args.target_dir, "release", "examples", "bench_read_ssmix2")
    out = os.path.join(args.work, f"ssmix2-{args.patients}")
    marker = os.path.join(out, ".complete")
    if not os.path.exists(marker):
        start = time.perf_counter()
        subprocess.run([kiban, "synth", "--patients", str(args.patients), "--providers", "1", "--seed", "1",
                        "--format", "ssmix2", "--out", out, "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        open(marker, "w").close()
        print(f"synth: {args.patients} patients in {time.perf_counter() - start:.1f} s", flush=True)
    roots = [entry.path for entry in os.scandir(out) if entry.is_dir()]
    if len(roots) != 1:
        sys.exit(f"expected one provider folder in {out}, found {len(roots)}")
    root = roots[0]

    # (name, command, timed runs): the Python passes are slow and steady enough to run once.
    variants = [
        ("kiban read_ssmix2", [example, root], args.runs),
        ("python-hl7 0.4.5", [args.python, __file__, "--worker", "python-hl7", root], 1),
        ("raw read + decode (Rust)", [example, "--raw", root], args.runs),
        ("raw read + decode (Python)", [args.python, __file__, "--worker", "raw", root], 1),
    ]
    # The load average shows whether something else shared the cores during the run.
    print(f"load average before: {load_average()}", flush=True)
    seconds, _, _ = timed([example, "--raw", root])  # Warm: every file into the page cache, once for all.
    print(f"warm-up raw pass (untimed): {seconds:.2f} s", flush=True)
    results = {}
    for name, command, runs in variants:
        passes = sorted((timed(command) for _ in range(runs)), key=lambda run: run[0])
        results[name] = passes[len(passes) // 2]
        all_seconds = ", ".join(f"{seconds:.2f}" for seconds, _, _ in passes)
        print(f"{name}: {results[name][0]:.2f} s (runs: {all_seconds}), CPU {results[name][1]:.2f} s, "
              f"load average {load_average()}, {results[name][2]}", flush=True)

    floor = results["raw read + decode (Rust)"][2]
    files = int(floor["files"])
    megabytes = int(floor["bytes"]) / 1e6
    for name, (_, _, fields) in results.items():
        if int(fields["files"]) != files:
            sys.exit(f"{name} saw {fields['files']} files, the floor {files}")
    print(f"\n{args.patients:,} patients, {files:,} files, {megabytes:,.1f} MB\n")
    print("| reader | wall (s) | CPU (s) | files/s | MB/s |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, cpu_seconds, _) in results.items():
        print(f"| {name} | {seconds:.2f} | {cpu_seconds:.2f} | {files / seconds:,.0f} | {megabytes / seconds:.1f} |")
    kiban_s = results["kiban read_ssmix2"][0]
    python_s, python_cpu_s, _ = results["python-hl7 0.4.5"]
    print(f"\nkiban / python-hl7 throughput: {python_s / kiban_s:.1f}x")
    # A one-thread pass that waited on the disk (files evicted from the page cache during a long pass) has
    # wall > CPU; its CPU time is what it would take with every file cached.
    print(f"kiban / python-hl7 throughput, python-hl7 by CPU time: {python_cpu_s / kiban_s:.1f}x")
    print(f"kiban / raw (Rust) throughput: {results['raw read + decode (Rust)'][0] / kiban_s:.2f}")
    print(f"python-hl7 / raw (Python) throughput: {results['raw read + decode (Python)'][0] / python_s:.2f}")
    print(f"kiban: {results['kiban read_ssmix2'][2]}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
