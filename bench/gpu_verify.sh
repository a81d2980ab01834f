#!/usr/bin/env bash
# Verification on the CUDA execution provider versus CPU (run on the lent GPU machine; see
# README "GPU"). Writes one JSON per model and provider into $OUT (or ./out).
set -uo pipefail
final=${OUT:-out}
out=$(mktemp -d)
mkdir -p "$final"
for m in toy unet_ts vit_tiny_ts; do
  f=.cache/models/$m.onnx
  [ -f "$f" ] || continue
  for prov in cuda cpu; do
    flag=""; [ "$prov" = cpu ] && flag="--cpu"
    /usr/bin/time -f "$m $prov wall %e s" python3 -m graphshape.cli verify "$f" $flag --json \
      -o "$out/$m-$prov.json" --random 6 || echo "$m $prov: exit $?"
  done
done
# time per run at large sizes (U-Net, multiples of 16)
for s in 1024 2048 4096; do
  for prov in cuda cpu; do
    flag=""; [ "$prov" = cpu ] && flag="--cpu"
    python3 -m graphshape.cli verify .cache/models/unet_ts.onnx $flag --json --memory-budget 64 \
      --size N=1 --size H=$s --size W=$s -o "$out/unet-$s-$prov.json" || echo "unet $s $prov: exit $?"
  done
done
python3 - "$out" "$final" <<'PY'
import json, os, sys
d = sys.argv[1]
rows = []
for f in sorted(os.listdir(d)):
    if not f.endswith(".json") or f == "summary.json":
        continue
    r = json.load(open(os.path.join(d, f)))
    v = r["verdicts"]
    rows.append({"file": f, "providers": r["providers"], "ok": r["ok"], "summary": r["summary"],
                 "verdicts": [(x["sizes"], x["predicted"], x["observed"]) for x in v],
                 "run_seconds": [round(x["seconds"], 4) for x in v]})
json.dump(rows, open(os.path.join(sys.argv[2], "gpu-summary.json"), "w"), indent=1)
for r in rows:
    print(r["file"], r["providers"][0], r["summary"], "max run s:", max(r["run_seconds"] or [0]))
PY
