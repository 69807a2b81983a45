#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the shared test data (../../shared/data), which is never committed.

Each seed is named by the SHA-1 of its bytes (libFuzzer's convention), so re-running adds nothing twice.
  hl7v2_parse     every SS-MIX2 file as it stands
  ssmix2_message  every SS-MIX2 file, prefixed with its datatype's index in the target's DATATYPES
  fhir_document   every FHIR example prefixed with 0 (JSON), and each as one NDJSON line prefixed with 1
"""

import argparse
import hashlib
import json
from pathlib import Path

# Keep in step with DATATYPES in fuzz_targets/ssmix2_message.rs.
DATATYPES = ["ADT-00", "ADT-12", "ADT-22", "ADT-52", "PPR-01", "OMP-01", "OMP-11", "OML-11", "ADT-42",
             "OMP-02", "OMG-01", "OML-01"]


def add(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=here.parent.parent / "shared" / "data")
    parser.add_argument("--corpus", type=Path, default=here / "corpus")
    args = parser.parse_args()

    ssmix2 = [p for p in sorted((args.data / "ssmix2").rglob("*")) if p.is_file() and p.suffix in ("", ".hl7")]
    for path in ssmix2:
        data = path.read_bytes()
        add(args.corpus / "hl7v2_parse", data)
        datatype = path.parent.name
        index = DATATYPES.index(datatype) if datatype in DATATYPES else 0
        add(args.corpus / "ssmix2_message", bytes([index]) + data)
        add(args.corpus / "ssmix2_message", bytes([128 + index]) + data)

    fhir = sorted((args.data / "fhir-jp").rglob("*.json"))
    for path in fhir:
        data = path.read_bytes()
        add(args.corpus / "fhir_document", b"\x00" + data)
        line = json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode()
        add(args.corpus / "fhir_document", b"\x01" + line + b"\n" + line + b"\n")

    for target in ["hl7v2_parse", "ssmix2_message", "fhir_document"]:
        print(f"{target}: {len(list((args.corpus / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
