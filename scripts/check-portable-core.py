#!/usr/bin/env python3
"""Checks that the embeddable modules use no Linux-only API (docs/embedding.md).

This toolchain has no SDK for another operating system, so the check reads the sources of
RosenpassCrypto, RosenpassProtocol, RosenpassSecureMemory and CRosenpassSystem, and Package.swift:

- a C library module (Glibc, Musl) may be imported only as one branch of an `#if canImport(...)`
  chain that also has a Darwin branch;
- Linux-only interfaces may appear only inside `#if os(Linux)`, `#if canImport(Glibc)` (Swift) or
  `#if defined(__linux__)` (C) blocks;
- in Package.swift these targets depend only on each other and on swift-crypto.
Run by IntegrationTests/test-portable-core.sh as part of `make test`.
"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MODULES = ["RosenpassCrypto", "RosenpassProtocol", "RosenpassSecureMemory", "CRosenpassSystem"]
ALLOWED_DEPENDENCIES = set(MODULES) | {"Crypto", "CryptoExtras"}
LINUX_ONLY = re.compile(
    r"/proc/|/sys/|\bprctl\b|MADV_DONTDUMP|CLOCK_BOOTTIME|\bepoll|\bgetrandom\b|\bsyscall\s*\(|\bSYS_\w+|\baccept4\b|"
    r"\bpipe2\b|MSG_NOSIGNAL|SOCK_CLOEXEC|SOCK_NONBLOCK|NETLINK_|\bnetlink\b|\bGlibc\.|\binotify_|\bsignalfd\b|"
    r"\btimerfd_|\beventfd\b")
# A guard that selects Linux only: the whole condition, nothing or-ed with another system.
LINUX_CONDITION = r"(os\(Linux\)(\s*\|\|\s*os\(Android\))?|canImport\(Glibc\)|canImport\(Musl\)|defined\(__linux__\))"
LINUX_GUARD = re.compile(r"#\s*if\s+" + LINUX_CONDITION + r"\s*$")


def strip_comment(line, language):
    """The line without a trailing // comment; a // inside a string literal is not one."""
    in_string = False
    index = 0
    while index < len(line):
        character = line[index]
        if character == "\\" and in_string:
            index += 2
            continue
        if character == '"':
            in_string = not in_string
        elif not in_string and line.startswith("//", index):
            return line[:index]
        index += 1
    return line


def check_file(path, language, problems):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    stack = []  # for each open #if: is it a Linux-only guard (for the branch we are in)?
    chains = []  # for each open #if: the canImport names of its branches
    pending = []  # for each open #if: the C library imports in it, judged at its #endif
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        where = f"{os.path.relpath(path, ROOT)}:{number}"
        directive = re.match(r"#\s*(if|ifdef|ifndef|elseif|elif|else|endif)\b(.*)", line)
        if directive:
            kind, rest = directive.group(1), directive.group(2)
            if kind in ("if", "ifdef", "ifndef"):
                stack.append(bool(LINUX_GUARD.match(line)))
                chains.append(re.findall(r"canImport\((\w+)\)", rest))
                pending.append([])
            elif kind in ("elseif", "elif"):
                if stack:
                    stack[-1] = bool(re.fullmatch(r"\s*" + LINUX_CONDITION + r"\s*", rest))
                    chains[-1] += re.findall(r"canImport\((\w+)\)", rest)
            elif kind == "else":
                if stack:
                    stack[-1] = False
            elif kind == "endif":
                if stack:
                    stack.pop()
                    for imported_where, module in pending.pop():
                        if "Darwin" not in chains[-1]:
                            problems.append(f"{imported_where}: imports {module} in an #if canImport chain without a Darwin branch")
                    chains.pop()
            continue
        code = strip_comment(raw, language)
        imported = re.match(r"\s*import\s+(Glibc|Musl)\b", code)
        if imported:
            if not chains:
                problems.append(f"{where}: imports {imported.group(1)} outside an #if canImport chain")
            else:
                pending[-1].append((where, imported.group(1)))
            continue
        if LINUX_ONLY.search(code) and not any(stack):
            problems.append(f"{where}: Linux-only interface outside a Linux guard: {raw.strip()}")


def check_package(problems):
    with open(os.path.join(ROOT, "Package.swift"), encoding="utf-8") as handle:
        text = handle.read()
    chunks = re.split(r"\.(?:target|executableTarget|testTarget)\(", text)
    for chunk in chunks:
        name = re.match(r'\s*name:\s*"(\w+)"', chunk)
        if not name or name.group(1) not in MODULES:
            continue
        body = re.sub(r"//[^\n]*", "", chunk)
        for dependency in re.findall(r'"([\w-]+)"', body)[1:]:
            if dependency == "swift-crypto" or dependency.startswith("Tests/"):
                continue
            if dependency not in ALLOWED_DEPENDENCIES:
                problems.append(f"Package.swift: {name.group(1)} depends on {dependency}")


def main():
    problems = []
    files = 0
    for module in MODULES:
        for folder, _, names in os.walk(os.path.join(ROOT, "Sources", module)):
            for name in names:
                language = "swift" if name.endswith(".swift") else "c" if name.endswith((".c", ".h")) else None
                if language:
                    files += 1
                    check_file(os.path.join(folder, name), language, problems)
    check_package(problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{files} files of {', '.join(MODULES)} checked for Linux-only API: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
