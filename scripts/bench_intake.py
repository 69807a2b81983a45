#!/usr/bin/env python3
"""SS-MIX2 intake throughput: kiban's reader side by side with python-hl7 and the raw read + decode floor.

Generates (or reuses) a synthetic SS-MIX2 storage with `kiban synth --format ssmix2 --providers 1`, then
times whole processes over the same files, every one warm (each variant runs once untimed first, so the
files sit in the OS page cache), in one run:

  kiban read_ssmix2   the kiban-ingest example `bench_read_ssmix2`: walk, read, decode, parse, validate
                      the path against the message, map into PatientRecords (one thread)
  python-hl7          os.walk, read, decode ISO-2022-JP, hl7.parse (python-hl7), one thread
  raw (Rust)          the same example with `--raw`: walk, read, ISO-2022-JP decode only (the floor)
  raw (Python)        os.walk, read, decode only: python-hl7's own floor

    CARGO_TARGET_DIR=/work/target-bench cargo build --release -p kiban -p kiban-ingest --example bench_read_ssmix2
    python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install hl7
    nice -n 10 /work/bench-venv/bin/python scripts/bench_intake.py --patients 100000 \
        --work /work/bench-intake --target-dir /work/target-bench
"""

import argparse
import os
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
    start = time.perf_counter()
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    fields = dict(pair.split("=", 1) for pair in completed.stdout.split())
    return seconds, fields


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--work", default="bench-intake", help="folder for the synthetic storage")
    parser.add_argument("--target-dir", default="target", help="cargo target dir of the release build")
    parser.add_argument("--python", default=sys.executable, help="a Python with `hl7` installed")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per variant (the median counts)")
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

    variants = [
        ("kiban read_ssmix2", [example, root]),
        ("python-hl7 0.4.5", [args.python, __file__, "--worker", "python-hl7", root]),
        ("raw read + decode (Rust)", [example, "--raw", root]),
        ("raw read + decode (Python)", [args.python, __file__, "--worker", "raw", root]),
    ]
    results = {}
    for name, command in variants:
        timed(command)  # Warm: the files into the page cache, the binaries and modules into memory.
        runs = sorted(timed(command) for _ in range(args.runs))
        results[name] = runs[len(runs) // 2]
        print(f"{name}: {results[name][0]:.2f} s {results[name][1]}", flush=True)

    files = int(results["raw read + decode (Rust)"][1]["files"])
    megabytes = int(results["raw read + decode (Rust)"][1]["bytes"]) / 1e6
    for name, (_, fields) in results.items():
        if int(fields["files"]) != files:
            sys.exit(f"{name} saw {fields['files']} files, the floor {files}")
    print(f"\n{args.patients:,} patients, {files:,} files, {megabytes:,.1f} MB\n")
    print("| reader | wall (s) | files/s | MB/s |")
    print("|---|---:|---:|---:|")
    for name, (seconds, _) in results.items():
        print(f"| {name} | {seconds:.2f} | {files / seconds:,.0f} | {megabytes / seconds:.1f} |")
    kiban_s = results["kiban read_ssmix2"][0]
    print(f"\nkiban / python-hl7 throughput: {results['python-hl7 0.4.5'][0] / kiban_s:.1f}x")
    print(f"kiban / raw (Rust) throughput: {results['raw read + decode (Rust)'][0] / kiban_s:.2f}")
    print(f"python-hl7 / raw (Python) throughput: "
          f"{results['raw read + decode (Python)'][0] / results['python-hl7 0.4.5'][0]:.2f}")
    print(f"kiban: {results['kiban read_ssmix2'][1]}")


if __name__ == "__main__":
    main()
