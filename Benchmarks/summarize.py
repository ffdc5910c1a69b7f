"""Distils ordo-one/benchmark markdown output into the figures the issues ask for."""
import re
import sys

text = open(sys.argv[1]).read()
results = {}
name = None
for line in text.splitlines():
    heading = re.match(r"^#+\s*(.+?)\s*$", line) or re.match(r"^([A-Za-z][\w\-]+)$", line.strip())
    if heading and "|" not in line:
        name = heading.group(1).strip()
        continue
    if name and line.startswith("|") and not set(line) <= set("|-: "):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 9 and cells[0] and not cells[0].startswith("Metric"):
            results.setdefault(name, {})[cells[0]] = cells[1:]

def metric(bench, prefix):
    for key, cells in results.get(bench, {}).items():
        if key.startswith(prefix):
            return key, cells
    return None, None

for bench in sorted(results):
    key, cells = metric(bench, "Time (wall clock)")
    if not cells:
        continue
    unit = re.search(r"\((\w+)\)", key.replace("(wall clock)", "")).group(1) if "(" in key else ""
    p50, p99 = cells[2], cells[5]
    _, mallocs = metric(bench, "Malloc (total)")
    line = f"{bench:28s} p50 {p50:>8s} {unit}  p99 {p99:>8s} {unit}"
    if mallocs:
        line += f"  mallocs/op p50 {mallocs[2]}"
    print(line)

# YAML throughput: the tree reader and libyaml's event parse of the same bytes.
tree = metric("yaml-reader-tree", "Time (wall clock)")[1]
floor = metric("yaml-libyaml-events", "Time (wall clock)")[1]
if tree and floor:
    def micros(cell):
        value = float(cell.replace(",", ""))
        return value
    ratio = micros(tree[2]) / micros(floor[2])
    print(f"YAML reader / libyaml event parse (p50): {ratio:.2f}x   (target <= 2x)")
