#!/usr/bin/env bash
# Medistock at national scale, measured side by side with DuckDB in the same run (release).
#
#   bash scripts/bench-national.sh              # ingest of a national file + risk run at 5 and 25 depots
#   bash scripts/bench-national.sh --backtest   # and the replay of a year of national files
#
# 1. A national wholesaler file: 20,000 references × 180 depots = 3.6 M lines (~190 MB),
#    written by `medistock national`. DuckDB (from PyPI, in .venv-bench) parses it and sums
#    it per reference and date: the baseline; and, for the ingest, DuckDB doing the same
#    writes (the file hashed, its lines kept in a database file, the line-level Parquet and
#    the daily sums in Parquet). Then `medistock validate` and `medistock ingest`
#    on the same file (wall time and peak RSS from /usr/bin/time); the next day's file
#    ingested over the positions of the first (a wholesaler's daily file in steady state: each
#    position held is read and merged); and the ingest benchmark phase by phase.
# 2. The daily risk run over 20,000 references, 7 wholesalers declaring daily and 20
#    manufacturers weekly, 56 days of history, with 5 then 25 depots per wholesaler
#    (`--bench risk`), then the weekly synthesis over the same state.
# 3. With --backtest: a year of national files (17,000 references, 7 wholesalers, 20
#    manufacturers) replayed by `medistock backtest`, timed.
#
# Work files go to $MEDISTOCK_BENCH_DIR (default: a temporary folder, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKTEST=0
for arg in "$@"; do
  case "$arg" in
    --backtest) BACKTEST=1 ;;
    *) echo "usage: $0 [--backtest]" >&2; exit 2 ;;
  esac
done

WORK="${MEDISTOCK_BENCH_DIR:-$(mktemp -d)}"
if [ -z "${MEDISTOCK_BENCH_DIR:-}" ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

echo "== build (release)"
cargo build --release -p medistock-cli
cargo bench --profile release -p medistock-analytics --bench ingest --bench risk --no-run
MEDISTOCK=target/release/medistock

if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet --disable-pip-version-check duckdb
fi

timed() { # label, command…: prints wall time and peak RSS
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out" 2>&1 || {
    cat "$WORK/out"; echo "$label: failed" >&2; return 1; }
  read -r wall kb < "$WORK/time"
  printf '  %-44s %7.2f s   %6.0f Mo\n' "$label" "$wall" "$((kb / 1024))"
}

echo "== 1. national wholesaler file"
rm -rf "$WORK/fichier"
# Yesterday and today: today's file is the one measured (a file a year old would carry the
# warning of an old stock date on every line), yesterday's is held before the second day.
$MEDISTOCK national --out "$WORK/fichier" --references 20000 --wholesalers 1 --depots 180 \
  --start "$(TZ=Europe/Paris date -d yesterday +%F)" --manufacturers 0 --days 2 --json > /dev/null
FIRST=$(ls "$WORK"/fichier/inbox/gr-1/*.csv | head -1)
FILE=$(ls "$WORK"/fichier/inbox/gr-1/*.csv | tail -1)
ls -l "$FILE" | awk '{printf "  %s: %.1f Mo\n", $NF, $5 / 1e6}'
cat > "$WORK/duck.py" <<'EOF'
import sys, duckdb
# The declared types, as Medistock reads them (a column left empty would be read as text).
columns = {"cip13": "VARCHAR", "date_stock": "DATE", "stock": "BIGINT", "sorties": "BIGINT",
           "periode_jours": "BIGINT", "stock_bloque": "BIGINT", "appro_quantite": "BIGINT",
           "appro_date": "DATE", "site": "VARCHAR"}
duckdb.connect().execute(
    "select cip13, date_stock, count(*), sum(stock), sum(sorties), sum(stock_bloque), "
    "sum(appro_quantite) from read_csv(?, delim=';', header=true, columns=?) group by all",
    [sys.argv[1], columns],
).fetchall()
EOF
# The same file through DuckDB doing what the ingest writes: the file hashed, its lines typed
# and kept in a database file (the state), the line-level Parquet (zstd, row groups of
# 262,144, with the declarant and the hash) and the sums per reference and date in Parquet.
cat > "$WORK/duck_ingest.py" <<'EOF'
import hashlib, os, sys, duckdb
path, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
sha = hashlib.sha256()
with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        sha.update(block)
columns = {"cip13": "VARCHAR", "date_stock": "DATE", "stock": "BIGINT", "sorties": "BIGINT",
           "periode_jours": "BIGINT", "stock_bloque": "BIGINT", "appro_quantite": "BIGINT",
           "appro_date": "DATE", "site": "VARCHAR"}
con = duckdb.connect(os.path.join(out, "state.duckdb"))
con.execute("create table lines as select *, 'gr-1' as declarant, ? as sha256 "
            "from read_csv(?, delim=';', header=true, columns=?)",
            [sha.hexdigest(), path, columns])
con.execute(f"copy lines to '{out}/lines.parquet' (format parquet, compression zstd, row_group_size 262144)")
con.execute(f"copy (select cip13, date_stock, count(*) as sites, sum(stock) as stock, "
            f"sum(sorties) as sorties, sum(stock_bloque) as stock_bloque, "
            f"sum(appro_quantite) as appro_quantite from lines group by all) "
            f"to '{out}/daily.parquet' (format parquet, compression zstd)")
con.close()
EOF
for round in 1 2; do
  timed "DuckDB : lecture + somme par référence ($round)" .venv-bench/bin/python "$WORK/duck.py" "$FILE"
  rm -rf "$WORK/duck"
  timed "DuckDB : écritures de l'ingestion ($round)" .venv-bench/bin/python "$WORK/duck_ingest.py" "$FILE" "$WORK/duck"
done
for round in 1 2; do
  timed "medistock validate ($round)" $MEDISTOCK validate "$FILE"
done
for round in 1 2; do
  rm -rf "$WORK/data"
  timed "medistock ingest, état local ($round)" $MEDISTOCK --data-dir "$WORK/data" ingest --declarant gr-1 "$FILE"
done
rm -rf "$WORK/veille"
$MEDISTOCK --data-dir "$WORK/veille" ingest --quiet --declarant gr-1 "$FIRST" > /dev/null
for round in 1 2; do
  rm -rf "$WORK/data"
  cp -a "$WORK/veille" "$WORK/data"
  timed "medistock ingest, lendemain ($round)" $MEDISTOCK --data-dir "$WORK/data" ingest --declarant gr-1 "$FILE"
done
echo "  benchmark d'ingestion, étape par étape :"
MEDISTOCK_BENCH_FILE="$FILE" cargo bench --profile release -q -p medistock-analytics --bench ingest 2>/dev/null | sed 's/^/  /'

echo "== 2. daily risk run, 20,000 references, 56 days"
for depots in 5 25; do
  echo "  -- $depots dépôts par grossiste"
  MEDISTOCK_BENCH_DEPOTS=$depots cargo bench --profile release -q -p medistock-analytics --bench risk 2>/dev/null | sed 's/^/  /'
done

if [ "$BACKTEST" = 1 ]; then
  echo "== 3. replay of a year of national files"
  rm -rf "$WORK/annee"
  timed "medistock national (365 jours)" $MEDISTOCK national --out "$WORK/annee" --json
  cat "$WORK/out"
  timed "medistock backtest (365 jours)" $MEDISTOCK backtest --data "$WORK/annee" --truth "$WORK/annee/ruptures.csv"
  grep -v '^\s*$' "$WORK/out" | tail -12 | sed 's/^/  /'
fi
