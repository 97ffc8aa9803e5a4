#!/usr/bin/env python3
"""TEST DOUBLE of `lean` for plumbing tests. Not Lean; proves nothing about Lean.

Modes, chosen by the word `double:<mode>` in the .lean file (for the check step: in the
submission olean it receives):

  (none)        print one JSON information message, write an "olean", exit 0
  sleep         sleep for an hour (the deadline must end it)
  oom           allocate memory until the kernel kills it
  crash         die by SIGSEGV
  stackoverflow print Lean's stack-overflow line and abort
  flood         print without end (the output cap must end it)
  check-sleep   compile normally; sleep in the check step

The check step (Check.lean) reports, with the nonce found in Check.lean, that the target
exists and depends on two "axioms": one naming the sha256 of the olean it received, so a
test can tell that exactly the compiled bytes crossed from one container to the next, and
one naming the uid the check ran as (the compile's message names its own).
"""
import hashlib
import json
import os
import re
import signal
import sys
import time


def main(argv):
    out = None
    files = [a for a in argv if a.endswith(".lean")]
    if "-o" in argv:
        out = argv[argv.index("-o") + 1]
    path = files[-1]
    with open(path, "rb") as fh:
        source = fh.read()
    if os.path.basename(path) == "Check.lean":
        return check(source)
    mode = re.search(rb"double:([a-z-]+)", source)
    mode = mode.group(1).decode() if mode else ""
    if mode == "sleep":
        time.sleep(3600)
    elif mode == "oom":
        hog = []
        while True:
            block = bytearray(16 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            hog.append(block)
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "stackoverflow":
        sys.stderr.write("Stack overflow detected. Aborting.\n")
        sys.stderr.flush()
        os.abort()
    elif mode == "flood":
        line = json.dumps({"severity": "information", "data": "x" * 1000}) + "\n"
        while True:
            sys.stdout.write(line)
    print(json.dumps({"fileName": path, "pos": {"line": 1, "column": 0}, "endPos": None,
                      "severity": "information",
                      "data": f"test double compiled {path} as uid {os.getuid()}"}))
    if out:
        with open(out, "wb") as fh:
            fh.write(b"double-olean\n" + source)
    return 0


def check(check_source):
    nonce = re.search(rb'logInfo \(toMessageData \("([0-9a-f]+) "', check_source).group(1).decode()
    with open("/tmp/work/Submission.olean", "rb") as fh:
        olean = fh.read()
    if b"double:check-sleep" in olean:
        time.sleep(3600)
    digest = hashlib.sha256(olean).hexdigest()
    facts = ["target found", "kind theorem", f"axiom double.olean_sha256_{digest}",
             f"axiom double.check_uid_{os.getuid()}", "done"]
    for fact in facts:
        print(json.dumps({"severity": "information", "data": f"{nonce} {fact}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
