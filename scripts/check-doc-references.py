#!/usr/bin/env python3
"""Checks that every design document the code cites is in the repository, with the cited section.

Code comments, tests and scripts cite the notes in docs/ as `docs/protocol.md` §5.2,
"docs/components.md section 8.3" or "docs/protocol.md Appendix A". This script fails when a cited
file does not exist under docs/, or when a cited section number has no heading in it, so that a
reader of the repository never meets a reference that leads nowhere (and no comment points at a
file outside it). Run by IntegrationTests/test-doc-references.sh as part of `make test`.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CITATION = re.compile(r"docs/([\w.-]+\.md)`?\)?(?:,? ?(?:§ ?|section |Appendix )([0-9]+(?:\.[0-9]+)*|[A-Z]\b))?")
OUTSIDE = re.compile(r"\.\./shared|shared/spec/")


def headings(path):
    numbers = set()
    with open(path, encoding="utf-8") as text:
        for line in text:
            match = re.match(r"#+\s+(?:Appendix\s+)?([0-9]+(?:\.[0-9]+)*|[A-Z])[.:\s]", line)
            if match:
                numbers.add(match.group(1))
    return numbers


def main():
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    sections = {}
    problems = []
    checked = 0
    for name in files:
        path = os.path.join(ROOT, name)
        if not name or not os.path.isfile(path) or name.startswith(("Fuzzing/Corpus/", ".build")):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.split("\n"), 1):
            if OUTSIDE.search(line) and name != "scripts/check-doc-references.py":
                problems.append(f"{name}:{number}: points outside the repository: {line.strip()}")
            for match in CITATION.finditer(line):
                document, section = match.group(1), match.group(2)
                target = os.path.join(ROOT, "docs", document)
                checked += 1
                if not os.path.isfile(target):
                    problems.append(f"{name}:{number}: cites docs/{document}, which does not exist")
                    continue
                if section:
                    if document not in sections:
                        sections[document] = headings(target)
                    if section not in sections[document]:
                        problems.append(f"{name}:{number}: cites docs/{document} section {section}, which has no such heading")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{checked} references to docs/ checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
