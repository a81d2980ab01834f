"""python -m models build NAME [--out DIR]: build an example model, print its path."""

from __future__ import annotations

import argparse
import sys

from . import registry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a model into the cache and print its path")
    b.add_argument("name", choices=sorted(registry.BUILDERS))
    b.add_argument("--out", default=registry.DEFAULT_CACHE)
    sub.add_parser("list", help="list the models")
    st = sub.add_parser("stats", help="Markdown table of the built models: export time, nodes")
    st.add_argument("--out", default=registry.DEFAULT_CACHE)
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for name, (_, doc) in sorted(registry.BUILDERS.items()):
            print(f"{name:<24} {doc}")
        return 0
    if args.cmd == "stats":
        from ._export import stats

        print("| model | exporter | opset | export (s) | nodes | with subgraphs |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for name in registry.BUILDERS:
            s = stats(f"{args.out}/{name}.onnx")
            if s:
                print(f"| {name} | {s['exporter']} | {s['opset']} | {s['export_s']} | "
                      f"{s['nodes']} | {s['nodes_with_subgraphs']} |")
            else:
                print(f"| {name} | (not built) | | | | |")
        return 0
    print(registry.build(args.name, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
