#!/usr/bin/env bash
# Evaluates the risk model on the simulators over several seeds and prints, for each figure of
# the scoreboard, its mean and its spread (min–max) per simulator:
#   - the demo generator (`medistock demo --seed N`), the data the model was written with;
#   - the independent supply-chain simulator (`medistock simulate --seed N`), replayed with
#     `medistock backtest`, written from the physics of the chain and not tuned on;
#   - the third simulator (`scripts/chain_sim.py`, seed 100 + N), written by other hands from a
#     description of the chain alone, without reading the model (CHAIN=0 leaves it out).
#
#   scripts/evaluate.sh                      # seeds 1 to 5, release build
#   SEEDS="11 12 13 14 15" scripts/evaluate.sh
#   PROFILE=dev scripts/evaluate.sh          # same figures (the runs are deterministic), slower
#   BIN=/tmp/medistock-avant scripts/evaluate.sh   # a binary built before (before/after runs)
#   WITHOUT=slip,stop scripts/evaluate.sh    # the model without some of its signals (ablation)
#   TENSION=40 scripts/evaluate.sh           # another default TENSION threshold (days, 8 to 60)
#   BOARDS=/tmp/boards scripts/evaluate.sh   # keeps each replay's JSON (what a calibration
#                                            # is learnt from: medistock calibration learn)
#   CALIBRATION=map.json scripts/evaluate.sh # replays with a calibration of the probability
#                                            # learnt elsewhere (medistock calibration learn
#                                            # --output map.json)
set -euo pipefail
# Paths given relative to where the script is called from.
for var in BIN CALIBRATION BOARDS; do
  if [[ -n "${!var:-}" ]]; then
    export "$var=$(realpath -m "${!var}")"
  fi
done
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-release}"
SEEDS="${SEEDS:-1 2 3 4 5}"
if [[ -n "${BIN:-}" ]]; then
  bin="$BIN"
else
  cargo build --locked --profile "$PROFILE" --bin medistock
  case "$PROFILE" in dev) dir=debug ;; *) dir="$PROFILE" ;; esac
  bin="target/$dir/medistock"
fi

work=$(mktemp -d -t medistock-eval.XXXXXX)
trap 'rm -rf "$work"' EXIT
for seed in $SEEDS; do
  echo "==> graine $seed : démonstration" >&2
  "$bin" --data-dir "$work/demo-$seed" demo --seed "$seed" ${WITHOUT:+--without "$WITHOUT"} \
    ${TENSION:+--seuil-tension "$TENSION"} ${CALIBRATION:+--calibration "$CALIBRATION"} \
    --scoreboard "$work/demo-$seed.json" >/dev/null
  echo "==> graine $seed : simulateur indépendant" >&2
  "$bin" simulate --seed "$seed" --out "$work/sim-$seed" >/dev/null
  "$bin" backtest --data "$work/sim-$seed" --truth "$work/sim-$seed/ruptures.csv" \
    ${WITHOUT:+--without "$WITHOUT"} ${TENSION:+--seuil-tension "$TENSION"} \
    ${CALIBRATION:+--calibration "$CALIBRATION"} \
    --details "$work/sim-$seed-details.csv" --json >"$work/sim-$seed.json"
  if [[ "${CHAIN:-1}" != 0 ]]; then
    echo "==> graine $((100 + seed)) : troisième simulateur (scripts/chain_sim.py)" >&2
    python3 scripts/chain_sim.py --seed "$((100 + seed))" --out "$work/chain-$seed" >/dev/null
    "$bin" backtest --data "$work/chain-$seed" \
      --truth "$work/chain-$seed/ruptures.csv" ${WITHOUT:+--without "$WITHOUT"} \
      ${TENSION:+--seuil-tension "$TENSION"} ${CALIBRATION:+--calibration "$CALIBRATION"} \
      --json >"$work/chain-$seed.json"
  fi
done
if [[ -n "${BOARDS:-}" ]]; then
  mkdir -p "$BOARDS"
  cp "$work"/*.json "$BOARDS"/
fi

python3 - "$work" $SEEDS <<'PY'
import json, sys
work, seeds = sys.argv[1], sys.argv[2:]
figures = ["stockouts", "recall_at_14d", "recall_at_30d", "median_lead_time_days",
           "false_alerts_per_20_reference_months", "escalation_precision",
           "escalations_on_day_1", "alerts_per_reference_month", "tension_day_share"]
import os
simulators = [("démonstration", "demo", 0), ("simulateur indépendant", "sim", 0)]
if os.environ.get("CHAIN", "1") != "0":
    simulators.append(("troisième simulateur (scripts/chain_sim.py)", "chain", 100))
# The Brier score (mean squared gap between the probability and what happened, 0 is perfect),
# pooled over the seeds: of the model's figures, of those shown (calibrated with CALIBRATION),
# and of climatology (every reference-day given the base rate of the same days). Unlike the
# tables, it weighs every reference-day the same way with or without a map.
def brier(boards):
    for horizon in [14, 30]:
        rows = [r for b in boards for r in b.get("brier") or [] if r["horizon_days"] == horizon]
        n = sum(r["assessments"] for r in rows)
        if not n:
            continue
        pooled = lambda f: sum(r[f] * r["assessments"] for r in rows) / n * 1000
        base = sum(r["stockouts"] for r in rows) / n
        line = f"  score de Brier sous {horizon} jours (×1000) : modèle {pooled('model'):6.2f}"
        if any(r["shown"] != r["model"] for r in rows):
            line += f"   calibrée {pooled('shown'):6.2f}"
        print(line + f"   climatologie {base * (1 - base) * 1000:6.2f}   ({n} références-jours, {base * 100:.2f} % suivis d'une rupture)")
for label, prefix, offset in simulators:
    boards = [json.load(open(f"{work}/{prefix}-{s}.json")) for s in seeds]
    print(f"{label} ({len(seeds)} graines : {' '.join(str(int(s) + offset) for s in seeds)})")
    for f in figures:
        values = [b[f] for b in boards if b.get(f) is not None]
        if not values:
            print(f"  {f:<40} —")
            continue
        mean = sum(values) / len(values)
        # A share is printed in percent: two decimals of a fraction would hide its changes.
        scale, unit = (100.0, " %") if f.endswith("_share") else (1.0, "")
        print(f"  {f:<40} moyenne {mean * scale:8.2f}{unit}   min {min(values) * scale:8.2f}{unit}"
              f"   max {max(values) * scale:8.2f}{unit}")
    brier(boards)
    for horizon in ["calibration_14d", "calibration_30d"]:
        bins = {}
        for b in boards:
            for row in b.get(horizon) or []:
                n, predicted, observed = bins.get(row["from"], (0, 0.0, 0.0))
                k = row["assessments"]
                bins[row["from"]] = (n + k, predicted + row["mean_predicted"] * k, observed + row["observed"] * k)
        if not bins:
            continue
        print(f"  {horizon} (toutes graines : prévue → observée, références-jours)")
        for lo in sorted(bins):
            n, predicted, observed = bins[lo]
            print(f"    {lo*100:3.0f}–{lo*100+10:3.0f} %   prévue {predicted/n*100:5.1f} %   observée {observed/n*100:5.1f} %   {n:>9}")
        # The calibration error: the gap between predicted and observed, in points, averaged
        # over the reference-days of the table.
        total = sum(n for n, _, _ in bins.values())
        gap = sum(abs(p - o) for _, p, o in bins.values()) / total * 100
        print(f"    écart de calibration moyen : {gap:.2f} points")
        # The same over the reference-days given 10 % or more, where a reader acts on it (the
        # first bin, near 0 % on both sides, holds most days and dilutes the mean above).
        above = [v for lo, v in bins.items() if lo >= 0.1]
        if above:
            n_above = sum(n for n, _, _ in above)
            gap_above = sum(abs(p - o) for _, p, o in above) / n_above * 100
            print(f"    écart de calibration moyen à partir de 10 % : {gap_above:.2f} points ({n_above} références-jours)")
        # The reference-days that carried no probability (the manufacturers' stock unknown):
        # not in the table, counted here with what happened to them.
        horizon_days = 14 if horizon.endswith("14d") else 30
        withheld = [w for b in boards for w in b.get("calibration_withheld") or []
                    if w["horizon_days"] == horizon_days]
        n = sum(w["assessments"] for w in withheld)
        if n:
            hits = sum(w["observed"] * w["assessments"] for w in withheld)
            print(f"    non calculée (stock des exploitants inconnu)          observée {hits/n*100:5.1f} %   {n:>9}")

# What the independent simulator's escalations were made on (`raisons_escalades` of
# `backtest --details`): per exact set of signals (the codes after the days to the stock-out,
# `position_ancienne` left aside; « projection seule » when none), the false escalations and
# the others (true, or made during a stock-out), then, per stock-out, the reasons of the
# escalation that started the warning held until it (« sans escalade ce jour-là » when the
# warning started on a day already at TENSION or worse, after an earlier period).
import csv, re
from collections import Counter
def key(reason):
    # The codes are the last word, in lower case; the level (upper case) or the days when
    # there are none.
    words = reason.split()
    codes = words[-1] if words and words[-1] != "j" and re.fullmatch(r"[a-z_+]+", words[-1]) else ""
    codes = [c for c in codes.split("+") if c and c != "position_ancienne"]
    return "+".join(sorted(codes)) or "projection seule"
made_on, warned_14, warned_30, unwarned, stockouts = Counter(), Counter(), Counter(), 0, 0
for s in seeds:
    for row in csv.DictReader(open(f"{work}/sim-{s}-details.csv", encoding="utf-8"), delimiter=";"):
        false = set(row["fausses_alertes"].split())
        reasons = {}
        for reason in filter(None, (r.strip() for r in row["raisons_escalades"].split("|"))):
            day = reason.split()[0]
            reasons[day] = reason
            made_on[(key(reason), day in false)] += 1
        if row["date_rupture"]:
            stockouts += 1
            lead = int(row["avance_jours"]) if row["avance_jours"] else -1
            start = reasons.get(row["debut_alerte"])
            k = key(start) if start else "sans escalade ce jour-là"
            if lead >= 14:
                warned_14[k] += 1
            else:
                unwarned += 1
            if lead >= 30:
                warned_30[k] += 1
print(f"raisons des escalades, simulateur indépendant ({len(seeds)} graines) : fausses / autres ; ruptures averties à 14 j / à 30 j")
for k in sorted({k for k, _ in made_on} | set(warned_14), key=lambda k: (-made_on[(k, True)], k)):
    print(f"  {k:<58} {made_on[(k, True)]:6} {made_on[(k, False)]:6}   {warned_14[k]:4} {warned_30[k]:4}")
print(f"  ruptures : {stockouts}, dont non averties 14 jours avant : {unwarned}")
PY
