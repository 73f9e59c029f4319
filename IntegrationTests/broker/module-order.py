#!/usr/bin/env python3
"""Prints, in load order, the kernel module files needed for MODULE (dependencies first).

Usage: module-order.py MODULES_DIR MODULE. Reads each module's `depends=` field from its .modinfo
section, so it needs neither depmod output nor kmod tools.
"""
import lzma
import os
import re
import sys


def main():
    root, wanted = sys.argv[1], sys.argv[2]
    paths = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(".ko") or name.endswith(".ko.xz"):
                paths[name.split(".ko")[0].replace("-", "_")] = os.path.join(directory, name)

    def depends(module):
        path = paths.get(module)
        if path is None:
            sys.exit("module %s not found under %s (built into the kernel?)" % (module, root))
        data = open(path, "rb").read()
        if path.endswith(".xz"):
            data = lzma.decompress(data)
        match = re.search(rb"depends=([^\0]*)\0", data)
        return [d.decode().replace("-", "_") for d in match.group(1).split(b",") if d] if match else []

    order = []

    def visit(module, trail=()):
        if module in trail:
            sys.exit("module dependency loop: %s" % " -> ".join(trail + (module,)))
        for dependency in depends(module):
            visit(dependency, trail + (module,))
        if module not in order:
            order.append(module)

    visit(wanted.replace("-", "_"))
    for module in order:
        print(paths[module])


if __name__ == "__main__":
    main()
