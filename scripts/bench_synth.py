#!/usr/bin/env python3
"""Times `kiban synth` per output format, side by side with the file-system floor.

The floor recreates the exact directory tree and file sizes kiban wrote for SS-MIX2 (the storage
layout is one small file per message), with nothing but mkdir and write, so the ratio shows how
much of kiban's time is its own and how much the disk's.

    cargo build --release
    python3 scripts/bench_synth.py --patients 100000 --work /path/on/the/disk/under/test
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time


def run_synth(kiban, patients, fmt, out):
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [kiban, "synth", "--patients", str(patients), "--providers", "3", "--seed", "1",
         "--format", fmt, "--out", out, "--no-progress"],
        check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def tree(root):
    dirs, files = [], []
    for path, _, names in os.walk(root):
        dirs.append(os.path.relpath(path, root))
        for name in names:
            full = os.path.join(path, name)
            files.append((os.path.relpath(full, root), os.path.getsize(full)))
    return dirs, files


def floor(dirs, files, out):
    start = time.perf_counter()
    for rel in dirs:
        os.makedirs(os.path.join(out, rel), exist_ok=True)
    for rel, size in files:
        with open(os.path.join(out, rel), "wb") as handle:
            handle.write(b"x" * size)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--work", default="bench-work")
    parser.add_argument("--kiban", default="target/release/kiban")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rows = []
    for fmt in ["csv", "fhir", "mixed", "ssmix2"]:
        out = os.path.join(args.work, fmt)
        shutil.rmtree(out, ignore_errors=True)
        wall, user, system = run_synth(args.kiban, args.patients, fmt, out)
        n_files = sum(len(names) for _, _, names in os.walk(out))
        rows.append((fmt, wall, user, system, n_files))
        print(f"{fmt}: {wall:.1f} s wall, {user:.1f} s user, {system:.1f} s system, {n_files} files",
              file=sys.stderr, flush=True)
    dirs, files = tree(os.path.join(args.work, "ssmix2"))
    floor_out = os.path.join(args.work, "floor")
    shutil.rmtree(floor_out, ignore_errors=True)
    floor_wall = floor(dirs, files, floor_out)
    print(f"floor: {floor_wall:.1f} s for {len(dirs)} folders and {len(files)} files", file=sys.stderr)

    print(f"| format | patients | files | wall (s) | user (s) | system (s) |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for fmt, wall, user, system, n_files in rows:
        print(f"| {fmt} | {args.patients} | {n_files} | {wall:.1f} | {user:.1f} | {system:.1f} |")
    ssmix2_wall = rows[-1][1]
    print()
    print(f"SS-MIX2 file-system floor (mkdir + write of the same {len(dirs)} folders and {len(files)} "
          f"files, one thread): {floor_wall:.1f} s; kiban / floor = {ssmix2_wall / floor_wall:.2f}")


if __name__ == "__main__":
    main()
