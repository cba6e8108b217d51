#!/usr/bin/env python3
"""Reports import cycles between the modules of a crate.

Input: the "uses" graph of `cargo modules dependencies --no-externs --no-sysroot --no-owns` (DOT,
from cargo-modules on crates.io) on standard input. Every item node is folded into the module
that owns it, and an edge between two modules is kept when a module uses an item of another
(a module using its own submodules, or a submodule its ancestors, counts too).
Output: the strongly connected groups of more than one module (each an import circle), one per
line; exit 1 when there is any, 0 when the module graph reads one way.
"""
import re
import sys

nodes = {}
edges = set()
for line in sys.stdin:
    node = re.match(r'\s*"([^"]+)" \[label="([^|"]*)\|', line)
    if node and "->" not in line:
        nodes[node.group(1)] = node.group(2)
        continue
    edge = re.match(r'\s*"([^"]+)" -> "([^"]+)" \[label="uses"', line)
    if edge:
        edges.add((edge.group(1), edge.group(2)))


def module_of(path):
    """The module that owns `path` (the path itself for a module or the crate)."""
    while path in nodes and not re.search(r"\bmod\b|crate", nodes[path]):
        path = path.rsplit("::", 1)[0]
    return path


graph = {}
for a, b in edges:
    ma, mb = module_of(a), module_of(b)
    if ma != mb:
        graph.setdefault(ma, set()).add(mb)
        graph.setdefault(mb, set())

# Tarjan's strongly connected components.
index, low, on_stack, stack, groups, counter = {}, {}, set(), [], [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in graph.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            group.append(w)
            if w == v:
                break
        if len(group) > 1:
            groups.append(sorted(group))


sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        visit(v)
for group in groups:
    print("import circle: " + " <-> ".join(group))
print(f"{len(graph)} modules, {sum(len(t) for t in graph.values())} module edges, {len(groups)} circles")
sys.exit(1 if groups else 0)
