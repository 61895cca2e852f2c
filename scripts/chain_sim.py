#!/usr/bin/env python3
"""Independent simulator of the French medicine supply chain (standard library only).

Writes, for a seed, the stock declarations that manufacturers (laboratoires exploitants) and
wholesalers (grossistes-répartiteurs) would send to Medistock, plus the stock-outs that patients
met at the pharmacy counter, in the layout that ``medistock backtest --data DIR --truth FILE``
replays. It was written from a description of the chain only, without reading the project's risk
model or its own simulator, so that it can test the model on data the model was not tuned on.

Usage::

    python3 scripts/chain_sim.py --seed 101 --out /tmp/s101 [--references 200] [--days 270]
                                 [--start 2025-09-01]

Model of the chain (one simulated day = one calendar day; units are boxes)
-------------------------------------------------------------------------

The country is scaled down: 100-300 pharmacies stand for France's 20 000, so every flow is
small; a presentation sells at least 8 boxes a day nationally (below that, integer stocks
spread over dozens of depots make noise, not shortages).

Catalogue. References are presentations of ~60 molecules, each with a therapeutic class
(antibiotic, paediatric fever, respiratory, antiviral, digestive, allergy, chronic,
psychiatric, hospital). A presentation is marketed by 1 to 4 manufacturers: when by several,
the presentations form a substitution group (``groupe``) and share its patient demand (princeps
larger than generics). MITM status depends on the class.

Patients. National demand of a reference on day t is base x slow trend (about ±10 %/year) x
seasonality (winter peak for respiratory classes, spring for allergy) x epidemics (a
bronchiolitis wave in autumn, a flu wave in winter - severe one year in four - and a gastro
wave, each multiplying the demand of the sensitive classes by up to 1.3-3 for 4-12 weeks,
bell-shaped, with a sensitivity drawn per reference) x rare reference-specific demand shocks
(x1.5-2.5 for 3-10 weeks) x day of week (Saturday 0.75; Sunday and public holidays: on-duty
pharmacies only, 3 %). It is split over the pharmacies by their lognormal sizes (Poisson
counts). A patient who finds no box: takes a substitute of the same group if the pharmacy has
one (probability set per group), else tries one other pharmacy (30 %), else waits for the
pharmacy's order (95 %, patience 4-10 days), else is lost.

Pharmacies. Each holds 4-14 days of cover (an order-up-to level from the national demand
estimate, an exponential average of requests and of patients switching in), reviews daily
(70 %) or on Monday, Wednesday and Friday - but orders at once for a waiting patient - and
orders from its usual wholesaler's depot; that wholesaler ships what the depot lacks from its
best-stocked depot (inter-depot transfer, keeping five days there), and the rest is asked from a
second wholesaler (80 %). Deliveries arrive the next opening day. Rare references are not kept
(order-up-to level 0): they are ordered for the waiting patient. When pharmacies' orders are
badly served nationally they over-order (order-up-to level up to x1.5).

Wholesalers. 2-6 wholesalers with market shares, each with 3-8 depots; every depot carries
every reference. Each wholesaler has one policy: periodic (weekly order-up-to on a fixed
weekday) or reorder point (daily check), a cover target of 14-28 days and a delivery lead time
of 1-3 days from the manufacturers. A depot estimates its demand from what it ships; the
estimate is frozen on days it cannot serve everything (pharmacies ask unfilled lines again every
day). After a manufacturer served it short, a depot running low over-orders by 30 % for a month.
Depots deliver pharmacies Monday to Saturday and order Monday to Friday; manufacturers process
the orders of the previous days on working days.

Manufacturers. 8-15 manufacturers, each with a reliability (5-35 % late batches), an
announcement style (optimistic 50 %, honest 25 %, silent 25 %) and an import habit. Each
reference is produced in batches every 2-17 weeks (make-to-stock: a batch brings the stock back
to a safety stock of 1.5-4 months for MITM, 10-45 days otherwise, from a forecast of the
market's sell-out - depot shipments to pharmacies plus hospitals - with the known seasonality;
capped by line capacity), with a production lead of 5-20 days then 5-20 days of quality control
(blocked stock). Batches can be late (lognormal, median 10 days, up to 80), smaller than
planned (5 %, 30-90 % of it), blocked in QC (4 %) for 2-9 more weeks and then released or (40 %)
destroyed. Production stops: plant incidents (a share of one manufacturer's references, 2-20
weeks), API shortages (a molecule, for about three quarters of its manufacturers, 4-26 weeks,
sometimes only a reduced output of 30-60 %), regulatory stops of a single reference (3-16
weeks), rare discontinuations (production ends for good, announced to nobody, the remaining
stock sold off normally). A batch whose production window meets a stop waits for the end of the
stop. Manufacturers also sell directly
to hospitals (0-30 % of the pharmacy demand, 50-150 % for hospital classes). A manufacturer that
believes its stock will fall materially short of its next supply (below 80 % of the need and by
more than 10 days) rations: each customer gets a daily quota (its historical share of the stock
spread until the believed supply, use or lose), the forecast is frozen, and it may order an
import (once per episode, arriving 2-9 weeks later). Manufacturers learn of a late batch 0-10
days before its planned date and of a stop within a week; the optimistic ones then always
believe the supply is 1-3 weeks away (the announced date slips week after week), the honest ones
know the real date within a few days, the silent ones announce nothing (but ration the same way).

Declarations. Wholesalers send one file a day (Monday-Saturday; some every day) with one line per
reference and depot (end-of-day stock, outflow to pharmacies that day, ``periode_jours`` 1).
Manufacturers send one file a week on their own weekday (available stock, outflow since their
last file - or over the last 7 days for some - and its length, blocked stock, and the next
supply they believe in with its planned quantity, unless silent). Files are sometimes missing
(up to 4-6 %) or late by 1-6 days (arrival prefix ``YYYY-MM-DD__``); 1-3 declarants join weeks
or months after the start, one stops for 2-6 weeks (and half the time sends the missed files on
its return); files arriving after the last day are never received. Each declarant has its own
dialect of the accepted format: separator (; , tab), encoding (UTF-8 with or without BOM,
Windows-1252, UTF-16), line ends, alternative column names with capitals, accents and spaces,
date form (ISO or DD/MM/YYYY), thousands separators (space, no-break space), CIP7 codes, a
``declarant`` or ``commentaire`` column, a trailing separator.

Truth. A patient request fails when the patient did not get *that* presentation within 72 hours
(the ANSM definition of a stock-out at the counter). Served by another pharmacy the same day or
through the pharmacy's order within 3 days is a success; a patient who switches to a substitute
or leaves at once is a failure only if neither of the pharmacy's depots had the presentation
(else the pharmacy could have obtained it: a choice, not a stock-out); longer waits and losses
are failures. A day is a stock-out day when, over the 7-day window centred on it, at least 10 %
of the national requests (and at least 5) failed; stock-out days closer than 7 days form one
period, trimmed to its first and last day failing 10 % of their own requests, and kept if it has
at least 3 such days; a period still running on the last day has an empty end. A warm-up of 60
days precedes the first declared day, so the chain starts in a steady state (a few disruptions
are already running on day 1).

Deliberately hard: demand-driven shortages without any production problem (epidemics,
substitution from a missing neighbour, hoarding); stops and late batches absorbed by safety
stock (most of them: no stock-out); announced supply dates that slip; manufacturers that
announce nothing, that join late or that go silent; wholesalers' periodic ordering (lumpy
outflows) and over-ordering; the manufacturers' hospital sales (their outflow is larger than the
wholesalers' intake); rationing that spreads a manufacturer's stock thin; batches blocked in QC
then destroyed; discontinuations.

Besides the backtest layout, ``DIR/simulation/`` holds the ground truth for analysis:
``evenements.csv`` (disruptions and epidemics per reference) and ``series.csv`` (daily demand,
failures and stocks per reference). The backtest does not read them.
"""

import argparse
import bisect
import datetime as dt
import math
import os
import random
import sys
import time

BURN_IN = 60            # days simulated before the first declared day
TRUTH_SHARE = 0.10      # share of requests failed (72 h) that makes a stock-out day
TRUTH_WINDOW = 3        # ... over the 7-day window centred on the day (3 days each side)
TRUTH_MIN_FAILS = 5     # and at least this many failed requests in the window
TRUTH_MERGE_GAP = 7     # stock-out days closer than this are one period
TRUTH_MIN_DAYS = 3      # a period counts at least this many stock-out days
SERVE_WINDOW = 3        # a request served within 3 days (72 h) is a success

# Day-of-week factors of patient demand (Monday=0). Sunday: on-duty pharmacies only.
DOW_FACTOR = [1.15, 1.0, 1.0, 1.0, 1.05, 0.75, 0.03]
HOLIDAY_FACTOR = 0.03

# --------------------------------------------------------------------------------------------
# Catalogue material
# --------------------------------------------------------------------------------------------

# class -> (seasonal amplitude, season peak day-of-year, MITM probability, hospital share range,
#           epidemic sensitivities {epidemic: sensitivity})
CLASSES = {
    "antibio": (0.25, 20, 0.8, (0.05, 0.3), {"bronchiolite": 0.5, "grippe": 0.8}),
    "fievre_pedia": (0.3, 15, 0.7, (0.0, 0.1), {"bronchiolite": 1.0, "grippe": 0.9}),
    "respi": (0.3, 10, 0.8, (0.0, 0.15), {"bronchiolite": 1.0, "grippe": 0.4}),
    "antiviral": (0.6, 25, 0.6, (0.05, 0.3), {"grippe": 1.6}),
    "digestif": (0.1, 10, 0.2, (0.0, 0.1), {"gastro": 1.0}),
    "allergie": (0.35, 120, 0.1, (0.0, 0.05), {}),
    "chronique": (0.03, 15, 0.6, (0.0, 0.15), {}),
    "psy": (0.02, 15, 0.5, (0.0, 0.2), {}),
    "hopital": (0.05, 15, 0.9, (0.5, 1.5), {}),
}

MOLECULES = [
    ("AMOXICILLINE", "antibio", ["500 mg gélule", "1 g comprimé", "250 mg/5 ml suspension buvable"]),
    ("AMOXICILLINE ACIDE CLAVULANIQUE", "antibio", ["1 g/125 mg comprimé", "100 mg/12,5 mg/ml suspension"]),
    ("AZITHROMYCINE", "antibio", ["250 mg comprimé", "40 mg/ml suspension buvable"]),
    ("CEFPODOXIME", "antibio", ["100 mg comprimé", "40 mg/5 ml suspension"]),
    ("CLARITHROMYCINE", "antibio", ["500 mg comprimé"]),
    ("PRISTINAMYCINE", "antibio", ["500 mg comprimé"]),
    ("CEFTRIAXONE", "antibio", ["1 g poudre injectable"]),
    ("PARACETAMOL", "fievre_pedia", ["2,4 % suspension buvable", "150 mg suppositoire", "1 g comprimé"]),
    ("IBUPROFENE", "fievre_pedia", ["20 mg/ml suspension buvable", "400 mg comprimé"]),
    ("SALBUTAMOL", "respi", ["100 µg suspension pour inhalation", "5 mg/2,5 ml solution pour nébulisation"]),
    ("BUDESONIDE", "respi", ["0,5 mg/2 ml suspension pour nébulisation", "200 µg poudre pour inhalation"]),
    ("BECLOMETASONE", "respi", ["250 µg solution pour inhalation"]),
    ("PREDNISOLONE", "respi", ["20 mg comprimé orodispersible", "5 mg comprimé"]),
    ("BETAMETHASONE", "respi", ["0,05 % solution buvable"]),
    ("OSELTAMIVIR", "antiviral", ["75 mg gélule", "6 mg/ml suspension buvable"]),
    ("RACECADOTRIL", "digestif", ["10 mg granulés", "100 mg gélule"]),
    ("ONDANSETRON", "digestif", ["4 mg comprimé orodispersible"]),
    ("OMEPRAZOLE", "digestif", ["20 mg gélule"]),
    ("ESOMEPRAZOLE", "digestif", ["40 mg comprimé"]),
    ("CETIRIZINE", "allergie", ["10 mg comprimé"]),
    ("DESLORATADINE", "allergie", ["5 mg comprimé"]),
    ("BILASTINE", "allergie", ["20 mg comprimé"]),
    ("AMLODIPINE", "chronique", ["5 mg gélule", "10 mg gélule"]),
    ("RAMIPRIL", "chronique", ["5 mg comprimé", "10 mg comprimé"]),
    ("BISOPROLOL", "chronique", ["2,5 mg comprimé", "5 mg comprimé"]),
    ("ATORVASTATINE", "chronique", ["20 mg comprimé", "40 mg comprimé"]),
    ("METFORMINE", "chronique", ["850 mg comprimé", "1000 mg comprimé"]),
    ("LEVOTHYROXINE", "chronique", ["50 µg comprimé", "100 µg comprimé"]),
    ("FUROSEMIDE", "chronique", ["40 mg comprimé"]),
    ("APIXABAN", "chronique", ["5 mg comprimé"]),
    ("RIVAROXABAN", "chronique", ["20 mg comprimé"]),
    ("INSULINE GLARGINE", "chronique", ["100 U/ml stylo prérempli"]),
    ("LOSARTAN", "chronique", ["50 mg comprimé"]),
    ("PERINDOPRIL", "chronique", ["5 mg comprimé"]),
    ("ALLOPURINOL", "chronique", ["100 mg comprimé"]),
    ("SITAGLIPTINE", "chronique", ["100 mg comprimé"]),
    ("TAMSULOSINE", "chronique", ["0,4 mg gélule"]),
    ("PREDNISONE", "chronique", ["5 mg comprimé", "20 mg comprimé"]),
    ("SERTRALINE", "psy", ["50 mg gélule"]),
    ("ESCITALOPRAM", "psy", ["10 mg comprimé"]),
    ("QUETIAPINE", "psy", ["50 mg comprimé LP", "300 mg comprimé LP"]),
    ("METHYLPHENIDATE", "psy", ["10 mg comprimé", "18 mg comprimé LP"]),
    ("LITHIUM", "psy", ["400 mg comprimé LP"]),
    ("VALPROATE", "psy", ["500 mg comprimé"]),
    ("LAMOTRIGINE", "psy", ["100 mg comprimé"]),
    ("OLANZAPINE", "psy", ["10 mg comprimé"]),
    ("MORPHINE", "hopital", ["10 mg/ml solution injectable", "30 mg gélule LP"]),
    ("HEPARINE", "hopital", ["5000 UI/ml solution injectable"]),
    ("ENOXAPARINE", "hopital", ["4000 UI seringue"]),
    ("NORADRENALINE", "hopital", ["2 mg/ml solution injectable"]),
    ("MIDAZOLAM", "hopital", ["5 mg/ml solution injectable"]),
    ("METHOTREXATE", "hopital", ["2,5 mg comprimé", "25 mg/ml solution injectable"]),
    ("TAMOXIFENE", "hopital", ["20 mg comprimé"]),
    ("CARBOPLATINE", "hopital", ["10 mg/ml solution pour perfusion"]),
    ("AMIKACINE", "hopital", ["500 mg poudre injectable"]),
    ("FLECAINIDE", "chronique", ["100 mg comprimé"]),
    ("HYDROXYCHLOROQUINE", "chronique", ["200 mg comprimé"]),
    ("COLCHICINE", "chronique", ["1 mg comprimé"]),
    ("DIAZEPAM", "psy", ["10 mg comprimé"]),
    ("DOXYCYCLINE", "antibio", ["100 mg comprimé"]),
]

CITIES = ["Lyon", "Lille", "Marseille", "Toulouse", "Nantes", "Rennes", "Bordeaux", "Strasbourg",
          "Nancy", "Dijon", "Orléans", "Rouen", "Caen", "Montpellier", "Nice", "Grenoble",
          "Clermont-Ferrand", "Limoges", "Poitiers", "Tours", "Reims", "Amiens", "Brest", "Metz",
          "Besançon", "Perpignan", "Pau", "Angers", "Le Mans", "Saint-Étienne", "Avignon", "Évry",
          "Créteil", "Nanterre", "Cergy", "Valence", "Chambéry", "Annecy", "Troyes", "Bayonne"]

LAB_NAMES = ["Laboratoires Aubrac", "Pharma Cévennes", "Vercors Santé", "Laboratoire Morvan",
             "Armor Pharma", "Biogénérique de Loire", "Laboratoires Jura", "Médica Provence",
             "Sologne Thérapeutique", "Pharmacie Industrielle du Nord", "Laboratoires Quercy",
             "Alpes Génériques", "Laboratoire Vosges", "Santé Atlantique", "Laboratoires Causses"]
GR_NAMES = ["Répartition Centrale", "Grossiste du Rhône", "Répartiteurs Associés",
            "Coopérative Pharmaceutique de l'Ouest", "Distribution Officinale Sud",
            "Répartition Est"]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def cip_key(twelve):
    """EAN-13 check digit of a 12-digit string (the CIP13 key)."""
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(twelve))
    return str((10 - total % 10) % 10)


def easter(year):
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def french_holidays(year):
    e = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    days = {dt.date(year, m, d) for m, d in fixed}
    days |= {e + dt.timedelta(days=1), e + dt.timedelta(days=39), e + dt.timedelta(days=50)}
    return days


def lognormal_int(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, round(median * math.exp(rng.gauss(0.0, sigma))))))


class Poisson:
    """Poisson sampler bound to one random generator (Knuth below 20, normal above)."""

    def __init__(self, rng):
        self.rnd = rng.random
        self.gauss = rng.gauss

    def __call__(self, lam):
        if lam <= 0.0:
            return 0
        if lam < 20.0:
            rnd = self.rnd
            limit = math.exp(-lam)
            k = 0
            p = rnd()
            while p > limit:
                k += 1
                p *= rnd()
            return k
        return max(0, int(self.gauss(lam, math.sqrt(lam)) + 0.5))


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------

class Lab:
    """A manufacturer (laboratoire exploitant) and its declaring habits."""

    def __init__(self, idx, rng):
        self.id = f"LAB-{idx + 1}"
        self.name = LAB_NAMES[idx % len(LAB_NAMES)]
        self.size = rng.lognormvariate(0.0, 0.8)          # weight for taking references
        self.p_late = rng.uniform(0.05, 0.35)             # share of late batches
        self.style = rng.choices(["optimiste", "honnete", "muet"], [0.5, 0.25, 0.25])[0]
        self.gap = rng.randint(7, 21)                     # optimism: supply believed this far
        self.p_import = rng.choice([0.0, 0.3, 0.6, 0.9])  # chance to import in a shortage
        self.weekday = rng.choice([0, 0, 0, 1, 2, 3, 4])  # declaration weekday
        self.p_missing = rng.uniform(0.0, 0.06)
        self.p_late_file = rng.uniform(0.02, 0.15)
        self.cumulates = rng.random() < 0.6               # a missed week folds into the next file
        self.join = 0
        self.outage = None                                # (start, end) of silence
        self.resend = False
        self.dialect = None
        self.refs = []


class Wholesaler:
    """A wholesaler (grossiste-répartiteur): depots, ordering policy, declaring habits."""

    def __init__(self, idx, rng):
        self.id = f"GR-{idx + 1}"
        self.name = GR_NAMES[idx % len(GR_NAMES)]
        self.share = rng.uniform(0.5, 1.5)
        self.policy = rng.choice(["periodique", "point"])
        self.order_weekday = rng.randint(0, 4)
        self.cover = rng.uniform(14, 28)                  # target cover in days
        self.safety = rng.uniform(4, 10)                  # reorder point safety (days)
        self.lead = rng.randint(1, 3)                     # manufacturer -> depot days
        self.n_depots = rng.randint(3, 8)
        self.sunday_files = rng.random() < 0.3
        self.p_missing = rng.uniform(0.005, 0.04)
        self.p_late_file = rng.uniform(0.02, 0.10)
        self.join = 0
        self.outage = None
        self.resend = False
        self.dialect = None
        self.depots = []                                  # global depot indices


class Supply:
    """A future supply of a reference: a production batch or an import."""
    __slots__ = ("kind", "planned", "actual", "qty_planned", "qty", "discovered", "destroyed",
                 "done", "noise")

    def __init__(self, kind, planned, actual, qty_planned, qty, discovered, destroyed, noise):
        self.kind = kind                  # "lot" or "import"
        self.planned = planned            # release day the manufacturer planned
        self.actual = actual              # release (or destruction) day it will really happen
        self.qty_planned = qty_planned
        self.qty = qty                    # what will really be released
        self.discovered = discovered      # day the manufacturer learns it is late
        self.destroyed = destroyed
        self.done = None                  # production completion day (enters QC), lots only
        self.noise = noise                # honest manufacturers' error on the date

    def believed(self, t, style, gap):
        """Release day the manufacturer believes on day t."""
        if self.actual <= self.planned or t < self.discovered:
            return self.planned
        if style == "honnete":
            return max(t + 1, self.actual + self.noise)
        # optimistic (and silent ones, for their own rationing): always a few weeks away
        return max(self.planned, min(self.actual, t + gap))


class Ref:
    """A reference (presentation) with the state of its whole chain."""

    def __init__(self):
        self.stops = []       # (start, end, capacity factor, cause)
        self.shocks = []      # (start, end, multiplier)
        self.events = []      # (kind, start, end, detail) for the ground-truth journal


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------

class Simulation:
    def __init__(self, seed, n_refs, n_days, start):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_refs = n_refs
        self.n_days = n_days
        self.start = start
        self.t0 = -BURN_IN
        self.poisson = Poisson(self.rng)
        self._calendar()
        self._epidemics()
        self._network()
        self._catalogue()
        self._disruptions()
        self._declaring_habits()
        self._initial_state()

    # ---------------------------------------------------------------- calendar and demand
    def date(self, t):
        return self.start + dt.timedelta(days=t)

    def _calendar(self):
        holidays = set()
        for y in range(self.date(self.t0).year, self.date(self.n_days).year + 1):
            holidays |= french_holidays(y)
        self.day_factor = {}
        self.open_day = {}
        self.weekday = {}
        self.doy = {}
        for t in range(self.t0, self.n_days + 120):
            d = self.date(t)
            wd = d.weekday()
            hol = d in holidays
            self.weekday[t] = wd
            self.doy[t] = d.timetuple().tm_yday
            self.day_factor[t] = HOLIDAY_FACTOR if hol else DOW_FACTOR[wd]
            self.open_day[t] = (wd != 6) and not hol      # pharmacies / depots deliver

    def _epidemics(self):
        """Seasonal epidemic waves over the horizon: (name, start, end, intensity)."""
        rng = self.rng
        self.epidemics = []
        first = self.date(self.t0)
        for year in range(first.year - 1, self.date(self.n_days).year + 1):
            waves = [
                ("bronchiolite", dt.date(year, 10, 10), 35, rng.randint(49, 84), rng.uniform(1.3, 2.0)),
                ("grippe", dt.date(year, 12, 1), 55, rng.randint(35, 70),
                 rng.uniform(2.2, 3.0) if rng.random() < 0.25 else rng.uniform(1.3, 2.0)),
                ("gastro", dt.date(year, 12, 5), 45, rng.randint(28, 42), rng.uniform(1.3, 1.8)),
            ]
            for name, base, spread, dur, inten in waves:
                s = (base - self.start).days + rng.randint(0, spread)
                if s + dur < self.t0 or s > self.n_days:
                    continue
                self.epidemics.append((name, s, s + dur, inten))

    def season(self, ref, t):
        """Seasonal index of a reference (known to its manufacturer, unlike epidemics)."""
        if not ref.season_amp:
            return 1.0
        doy = self.date(t).timetuple().tm_yday if t not in self.doy else self.doy[t]
        return 1.0 + ref.season_amp * math.cos(2 * math.pi * (doy - ref.season_peak) / 365.0)

    def demand_factor(self, ref, t):
        """National demand multiplier of a reference on day t (no day-of-week effect)."""
        f = math.exp(ref.trend * t / 365.0) * self.season(ref, t)
        for name, s, e, inten in self.epidemics:
            if s <= t < e:
                sens = ref.epi_sens.get(name)
                if sens:
                    f *= 1.0 + (inten - 1.0) * sens * math.sin(math.pi * (t - s) / (e - s))
        for s, e, mult in ref.shocks:
            if s <= t < e:
                f *= mult
        return f

    # ---------------------------------------------------------------- network
    def _network(self):
        rng = self.rng
        self.n_pharm = rng.randint(100, 300)
        self.labs = [Lab(i, rng) for i in range(rng.randint(8, 15))]
        self.grs = [Wholesaler(i, rng) for i in range(rng.choices([2, 3, 4, 5, 6], [1, 2, 3, 2, 1])[0])]
        cities = CITIES[:]
        self.depots = []        # (wholesaler index, name)
        for gi, g in enumerate(self.grs):
            rng.shuffle(cities)
            for j in range(g.n_depots):
                g.depots.append(len(self.depots))
                self.depots.append((gi, f"Dépôt {cities[j]}"))
        n_dep = len(self.depots)
        # pharmacies: size, cover, review days, usual and second wholesaler
        w = [rng.lognormvariate(0.0, 0.5) for _ in range(self.n_pharm)]
        total = sum(w)
        self.ph_w = [x / total for x in w]
        acc, self.ph_cum = 0.0, []
        for x in self.ph_w:
            acc += x
            self.ph_cum.append(acc)
        self.ph_cover = [rng.uniform(4, 14) for _ in range(self.n_pharm)]
        self.ph_mwf = [rng.random() < 0.3 for _ in range(self.n_pharm)]
        shares = [g.share for g in self.grs]
        self.ph_prim, self.ph_sec = [], []
        for _ in range(self.n_pharm):
            gi = rng.choices(range(len(self.grs)), shares)[0]
            others = [j for j in range(len(self.grs)) if j != gi]
            gj = rng.choices(others, [shares[j] for j in others])[0]
            self.ph_prim.append(rng.choice(self.grs[gi].depots))
            self.ph_sec.append(rng.choice(self.grs[gj].depots))
        self.dep_share = [0.0] * n_dep
        for p in range(self.n_pharm):
            self.dep_share[self.ph_prim[p]] += self.ph_w[p]
        self.dep_gr = [gi for gi, _ in self.depots]

    # ---------------------------------------------------------------- catalogue
    def _catalogue(self):
        rng = self.rng
        labs = self.labs
        self.refs = []
        self.groups = []        # lists of reference indices (singletons included)
        used_cip = set()
        mols = MOLECULES[:]
        rng.shuffle(mols)
        presentations = [(m, cls, form) for m, cls, forms in mols for form in forms]
        rng.shuffle(presentations)
        pi = 0
        group_no = 0
        while len(self.refs) < self.n_refs:
            mol, cls, form = presentations[pi % len(presentations)]
            repeat = pi // len(presentations)          # beyond the list: other dosages
            pi += 1
            n_mk = rng.choices([1, 2, 3, 4], [0.45, 0.3, 0.15, 0.1])[0]
            n_mk = min(n_mk, self.n_refs - len(self.refs), len(labs))
            amp, peak, p_mitm, hosp, epi = CLASSES[cls]
            base = lognormal_int(rng, 150, 1.1, 3, 6000)
            mitm = rng.random() < p_mitm
            makers = rng.sample(range(len(labs)), n_mk) if n_mk > 1 else \
                rng.choices(range(len(labs)), [l.size for l in labs])
            # market shares inside the group: princeps first, then generics
            sh = [rng.uniform(1.0, 3.0)] + [rng.uniform(0.3, 1.2) for _ in range(n_mk - 1)]
            tot = sum(sh)
            group = []
            group_id = ""
            if n_mk > 1:
                group_no += 1
                group_id = f"G{group_no:03d}"
            for k in range(n_mk):
                r = Ref()
                r.idx = len(self.refs)
                while True:
                    c7 = str(rng.randint(2000000, 9999999))
                    if c7 not in used_cip:
                        break
                used_cip.add(c7)
                r.cip7 = c7
                r.cip = "34009" + c7 + cip_key("34009" + c7)
                label = f"{mol} {form}"
                if repeat:
                    label += f" ({repeat + 1})"
                r.name = label + (f", {labs[makers[k]].name}" if n_mk > 1 else "")
                r.molecule = mol
                r.cls = cls
                r.group = group_id
                r.mitm = mitm
                r.lab = makers[k]
                labs[r.lab].refs.append(r.idx)
                r.base = max(8.0, base * sh[k] / tot)    # at least 8 boxes a day (scaled country)
                r.hosp = rng.uniform(*hosp)
                r.season_amp = amp * rng.uniform(0.5, 1.3)
                r.season_peak = peak + rng.randint(-20, 20)
                r.trend = rng.gauss(0.0, 0.1)
                r.epi_sens = {k2: v * rng.uniform(0.2, 1.1) for k2, v in epi.items()}
                # production
                r.cycle = rng.randint(14, 120)
                r.prod_lead = rng.randint(5, 20)
                r.qc = rng.randint(5, 20)
                r.ss_days = rng.uniform(45, 120) if mitm else rng.uniform(10, 45)
                r.p_sub = 0.0
                group.append(r.idx)
                self.refs.append(r)
            psub = rng.uniform(0.3, 0.8)
            for i in group:
                self.refs[i].p_sub = psub if len(group) > 1 else 0.0
                self.refs[i].group_members = [j for j in group if j != i]
                self.refs[i].patience = rng.randint(4, 10)
            self.groups.append(group)

    # ---------------------------------------------------------------- disruptions
    def _disruptions(self):
        rng = self.rng
        t0, T = self.t0, self.n_days
        span = (T - t0) / 270.0
        # plant incidents: a share of one manufacturer's references
        for lab in self.labs:
            if lab.refs and rng.random() < 0.25 * span:
                s = rng.randint(t0, T - 20)
                d = lognormal_int(rng, 42, 0.6, 14, 140)
                hit = [i for i in lab.refs if rng.random() < rng.uniform(0.3, 1.0)] or [rng.choice(lab.refs)]
                for i in hit:
                    self.refs[i].stops.append((s, s + d, 0.0, "incident_usine"))
        # API shortages: a molecule, for all or some of its manufacturers
        by_mol = {}
        for r in self.refs:
            by_mol.setdefault(r.molecule, []).append(r)
        for refs in by_mol.values():
            if rng.random() < 0.10 * span:
                s = rng.randint(t0, T - 20)
                d = lognormal_int(rng, 70, 0.5, 28, 182)
                cf = 0.0 if rng.random() < 0.6 else rng.uniform(0.3, 0.6)
                for r in refs:
                    if rng.random() < 0.75:
                        r.stops.append((s, s + d, cf, "penurie_pa"))
        # single-reference events
        for r in self.refs:
            if rng.random() < 0.05 * span:
                s = rng.randint(t0, T - 20)
                d = lognormal_int(rng, 45, 0.6, 21, 112)
                r.stops.append((s, s + d, 0.0, "arret_reglementaire"))
            if rng.random() < 0.012 * span:
                r.discontinued = rng.randint(t0 + 30, T - 30)
                r.events.append(("arret_commercialisation", r.discontinued, None, ""))
            else:
                r.discontinued = None
            if rng.random() < 0.03 * span:
                s = rng.randint(t0, T - 20)
                d = rng.randint(21, 70)
                m = rng.uniform(1.5, 2.5)
                r.shocks.append((s, s + d, m))
                r.events.append(("choc_demande", s, s + d, f"x{m:.1f}"))
            for s, e, cf, cause in r.stops:
                r.events.append((cause, s, e, f"capacite={cf:.2f}"))
            for name, s, e, inten in self.epidemics:
                sens = r.epi_sens.get(name)
                if sens:
                    r.events.append(("epidemie_" + name, s, e, f"pic x{1 + (inten - 1) * sens:.2f}"))

    # ---------------------------------------------------------------- declaring habits
    def _declaring_habits(self):
        rng = self.rng
        T = self.n_days
        decl = self.labs + self.grs
        # late joiners: one or two declarants join weeks or months after the start
        for d in rng.sample(decl, rng.choice([1, 2, 2, 3])):
            d.join = rng.randint(14, max(15, T // 2))
        # one declarant goes silent for 2-6 weeks
        d = rng.choice(decl)
        s = rng.randint(20, max(21, T - 60))
        d.outage = (s, s + rng.randint(14, 42))
        d.resend = rng.random() < 0.5
        for d in decl:
            d.dialect = self._dialect()

    def _dialect(self):
        """Column names, separator, encoding, date form... of one declarant."""
        rng = self.rng
        pick = rng.random
        dl = {
            "sep": rng.choices([";", ",", "\t"], [0.7, 0.2, 0.1])[0],
            "enc": rng.choices(["utf-8", "utf-8-sig", "cp1252", "utf-16"], [0.55, 0.2, 0.2, 0.05])[0],
            "crlf": pick() < 0.4,
            "fr_date": pick() < 0.4,
            "thousands": rng.choice(["", "", " ", "\u00a0"]),
            "cip7": pick() < 0.1,
            "declarant_col": pick() < 0.2,
            "comment_col": pick() < 0.15,
            "trailing_sep": pick() < 0.1,
        }
        dl["cols"] = {
            "cip13": rng.choice(["cip13", "code_cip", "CIP", "Code CIP"]),
            "date_stock": rng.choice(["date_stock", "date", "Date stock", "DATE_DECLARATION"]),
            "stock": rng.choice(["stock", "stock_unites", "quantite_stock", "Stock"]),
            "sorties": rng.choice(["sorties", "ventes", "sorties_unites", "Sorties"]),
            "periode_jours": rng.choice(["periode_jours", "Période jours", "PERIODE_JOURS"]),
            "stock_bloque": rng.choice(["stock_bloque", "Stock bloqué"]),
            "appro_quantite": rng.choice(["appro_quantite", "Appro quantité"]),
            "appro_date": rng.choice(["appro_date", "Appro date"]),
            "site": rng.choice(["site", "depot", "etablissement", "Dépôt"]),
        }
        return dl

    # ---------------------------------------------------------------- initial state
    def _initial_state(self):
        rng = self.rng
        n_p, n_dep = self.n_pharm, len(self.depots)
        avg_week = sum(DOW_FACTOR) / 7.0
        t0 = self.t0
        for r in self.refs:
            f = self.demand_factor(r, t0)
            r.nat_fc = r.base * f                         # per standard weekday
            r.hoard = 1.0
            # pharmacies
            r.ph_stock = [int(r.nat_fc * self.ph_w[p] * self.ph_cover[p] * rng.uniform(0.6, 1.0) + 0.5)
                          for p in range(n_p)]
            r.backlog = {}                                # p -> [[origin, qty], ...]
            r.pending = []                                # (p, qty) for the next opening day
            r.dirty = set(range(n_p))
            # depots
            daily = r.base * f * avg_week
            r.dep_fc = [daily * (self.dep_share[k] + 0.01 / n_dep) for k in range(n_dep)]
            r.dep_stock = [int(r.dep_fc[k] * (self.grs[self.dep_gr[k]].cover + 5) * rng.uniform(0.8, 1.2))
                           for k in range(n_dep)]
            r.dep_inbound = []                            # (day, depot, qty)
            r.dep_orders = []                             # orders not yet processed by the lab
            r.dep_transit = [0] * n_dep
            r.dep_tension = [-1000] * n_dep               # last day served short by the lab
            r.dep_ship = [0] * n_dep
            # manufacturer
            r.lab_base = daily * (1.0 + r.hosp) / self.season(r, t0)   # de-seasonalised
            r.lab_fc = daily * (1.0 + r.hosp)
            r.capacity = 3.0 * r.lab_fc * r.cycle             # largest lot the line can make
            r.lab_week = 0.0                                  # orders of the current week
            r.hosp_due = 0.0                                  # hospital orders not yet served
            r.cust_vol = [r.dep_fc[k] for k in range(n_dep)] + [r.base * r.hosp]
            # consistent start: the stock lasts until the first lot is released, plus the
            # safety stock
            first_done = t0 + rng.randint(r.prod_lead, r.prod_lead + r.cycle)
            r.lab_stock = int(self._lab_need(r, t0, first_done + r.qc - t0 + r.ss_days)
                              * rng.uniform(0.9, 1.1))
            r.blocked = []                                # Supply in QC (done, not released)
            r.supplies = []                               # Supply planned (lot or import)
            r.quota = False
            r.credit = [0.0] * (n_dep + 1)
            r.import_cooldown = -1000
            r.lab_ship_day = [0] * (BURN_IN + self.n_days)  # shipped per day (index t - t0)
            r.next_grid = first_done
            self._plan_lot(r, t0, first_done)
            # truth and series
            r.req = [0] * self.n_days
            r.fail = [0] * self.n_days
            r.series = []

    # ---------------------------------------------------------------- production
    def _plan_lot(self, r, t, done_planned):
        """Plan the next production lot of r, completing on done_planned; draw its fate."""
        rng = self.rng
        lab = self.labs[r.lab]
        if r.discontinued is not None and done_planned >= r.discontinued:
            return
        release_planned = done_planned + r.qc
        stock_pos = r.lab_stock + sum(s.qty_planned for s in r.blocked)
        qty_pl = self._lab_need(r, t, release_planned - t + r.cycle + r.ss_days) - stock_pos
        cyc = self._lab_need(r, release_planned, r.cycle)
        qty_pl = int(min(max(qty_pl, 0.25 * cyc), 2.5 * cyc, r.capacity))
        delay = 0
        discovered = None                                  # day the lab learns of a problem
        if rng.random() < lab.p_late:
            delay = lognormal_int(rng, 10, 0.8, 2, 80)
            discovered = max(t, done_planned - rng.randint(0, 10))
        done = done_planned + delay
        # a production window that meets a stop waits for the end of the stop
        cf = 1.0
        moved = True
        while moved:
            moved = False
            for s, e, f, _ in r.stops:
                if f == 0.0 and s < done and e > done - r.prod_lead:
                    done = e + rng.randint(r.prod_lead // 2, r.prod_lead)
                    known = max(t, s + rng.randint(0, 7))
                    discovered = known if discovered is None else min(discovered, known)
                    moved = True
        for s, e, f, _ in r.stops:
            if f > 0.0 and s <= done < e:
                cf = min(cf, f)
        qty = qty_pl * cf
        if rng.random() < 0.05:
            qty *= rng.uniform(0.3, 0.9)
            r.events.append(("lot_reduit", done, None, f"{int(qty)}/{qty_pl}"))
        release = done + r.qc
        destroyed = False
        if rng.random() < 0.04:
            extra = rng.randint(14, 60)
            release += extra
            destroyed = rng.random() < 0.4
            r.events.append(("lot_bloque_cq", done + r.qc, release, "detruit" if destroyed else "libere"))
            if discovered is None:
                discovered = done + r.qc
        if discovered is None:
            discovered = release_planned
        if delay >= 7:
            r.events.append(("lot_en_retard", release_planned, release, f"{delay} j"))
        sup = Supply("lot", release_planned, release, qty_pl, int(qty), discovered, destroyed,
                     rng.randint(-4, 4))
        sup.done = done
        r.supplies.append(sup)
        r.next_grid = done_planned + r.cycle

    def _lab_need(self, r, t, days):
        """Manufacturer's forecast of its outflow over [t, t + days), with its seasonality."""
        days = int(days)
        if not r.season_amp:
            return r.lab_base * days
        step = 7
        total = 0.0
        for d in range(t, t + days, step):
            total += self.season(r, d) * min(step, t + days - d)
        return r.lab_base * total

    def _believed_next(self, r, t):
        """(day, supply) of the next supply the manufacturer believes in, or (None, None)."""
        lab = self.labs[r.lab]
        best, best_s = None, None
        for s in r.blocked:
            b = s.believed(t, lab.style, lab.gap)
            if best is None or b < best:
                best, best_s = b, s
        for s in r.supplies:
            b = s.believed(t, lab.style, lab.gap)
            if best is None or b < best:
                best, best_s = b, s
        return best, best_s

    def _lab_day(self, r, t, working):
        """Production, QC, imports, rationing and shipments of one reference's manufacturer."""
        rng = self.rng
        lab = self.labs[r.lab]
        # lots finishing production enter QC (blocked stock); releases and imports arrive
        for s in list(r.supplies):
            if s.kind == "lot" and s.done == t:
                r.supplies.remove(s)
                r.blocked.append(s)
                self._plan_lot(r, t, max(r.next_grid, t + r.prod_lead))
            elif s.kind == "import" and s.actual == t:
                r.supplies.remove(s)
                r.lab_stock += s.qty
        for s in list(r.blocked):
            if s.actual == t:
                r.blocked.remove(s)
                if not s.destroyed:
                    r.lab_stock += s.qty
        if not any(s.kind == "lot" for s in r.supplies) and not r.blocked \
                and (r.discontinued is None or t < r.discontinued - r.prod_lead):
            self._plan_lot(r, t, max(r.next_grid, t + r.prod_lead))
        # what the manufacturer believes, and whether it rations
        nxt, _ = self._believed_next(r, t)
        fc = max(r.lab_fc, 1e-6)
        horizon = (nxt - t) if nxt is not None else 365
        # no supply will ever come (discontinued): the remaining stock is sold off normally
        need = fc * (horizon + 3) if nxt is not None else 0.0
        short = r.lab_stock < need
        if not r.quota and r.lab_stock < 0.8 * need and need - r.lab_stock > 10 * fc \
                and r.lab_stock < fc * 60:
            r.quota = True
            r.quota_start = t
            r.credit = [0.0] * len(r.credit)
        elif r.quota and not short:
            r.quota = False
            r.events.append(("contingentement", r.quota_start, t, ""))
        # import decision: once per shortage episode
        if short and nxt is not None and r.lab_stock < fc * 30 and t > r.import_cooldown and horizon > 30:
            r.import_cooldown = t + 120
            if rng.random() < lab.p_import:
                planned = t + rng.randint(14, 45)
                actual = planned + (rng.randint(0, 21) if rng.random() < 0.5 else 0)
                qty = int(fc * rng.uniform(20, 60))
                r.supplies.append(Supply("import", planned, actual, qty, qty, t + 7, False,
                                         rng.randint(-3, 3)))
                r.events.append(("importation", t, actual, str(qty)))
        # hospital demand (direct sales), and the depots' orders placed yesterday
        r.hosp_due += r.base * r.hosp * self.demand_factor(r, t)
        hosp = 0.0
        if working:                                       # hospitals' orders of the last days
            hosp, r.hosp_due = r.hosp_due, 0.0
        orders = r.dep_orders if working else []
        if working:
            r.dep_orders = []
        # weekly forecast from the market's sell-out (yesterday's depot shipments to
        # pharmacies, and the hospitals' demand), not from the wholesalers' lumpy orders;
        # frozen while rationing, when sell-out is censored
        r.lab_week += sum(r.dep_ship) + r.base * r.hosp * self.demand_factor(r, t)
        sea = self.season(r, t)
        if self.weekday[t] == 6:
            if not r.quota:
                obs = min(r.lab_week / 7.0, 2.0 * r.lab_fc) / sea
                r.lab_base += (obs - r.lab_base) * 7.0 / 45.0
            r.lab_week = 0.0
        r.lab_fc = r.lab_base * sea
        if not working:
            return
        n_dep = len(self.depots)
        if r.quota:
            days_left = max(7.0, horizon + 3.0)
            allowance = r.lab_stock / days_left * (7.0 / 5.0)
            tot_vol = sum(r.cust_vol) or 1.0
            for k in range(n_dep + 1):
                daily = allowance * r.cust_vol[k] / tot_vol
                r.credit[k] = min(r.credit[k] + daily, 10.0 * daily)   # quota is use or lose
        else:
            # customers' historical volumes follow their orders only in normal times
            today = [0.0] * (n_dep + 1)
            for k, q in orders:
                today[k] += q
            today[n_dep] = hosp
            for k in range(n_dep + 1):
                r.cust_vol[k] += (today[k] * 5.0 / 7.0 - r.cust_vol[k]) / 60.0
        total = sum(q for _, q in orders) + hosp
        ratio = 1.0 if total <= r.lab_stock else r.lab_stock / total
        for k, q in orders:
            give = q * ratio
            if r.quota:
                give = min(give, r.credit[k])
                r.credit[k] -= give
            give = min(int(give), r.lab_stock)
            if give < q * 0.9:
                r.dep_tension[k] = t
            if give > 0:
                r.lab_stock -= give
                r.lab_ship_day[t - self.t0] += give
                lead = self.grs[self.dep_gr[k]].lead
                r.dep_inbound.append((t + lead, k, give))
                r.dep_transit[k] += give
        h = hosp * ratio
        if r.quota:
            h = min(h, r.credit[n_dep])
            r.credit[n_dep] -= h
        h = min(int(h + rng.random()), r.lab_stock)
        r.lab_stock -= h
        r.lab_ship_day[t - self.t0] += h

    # ---------------------------------------------------------------- one day of the chain
    def run(self):
        self.files = 0
        rng = self.rng
        rnd = rng.random
        poisson = self.poisson
        n_p = self.n_pharm
        n_dep = len(self.depots)
        ph_w, ph_cum = self.ph_w, self.ph_cum
        prim, sec = self.ph_prim, self.ph_sec
        refs = self.refs
        all_p = range(n_p)
        for t in range(self.t0, self.n_days):
            wd = self.weekday[t]
            open_ = self.open_day[t]
            working = open_ and wd <= 4                   # manufacturers and depot orders
            dayf = self.day_factor[t]
            review_mwf = wd in (0, 2, 4)
            record = t >= 0
            for r in refs:
                self._lab_day(r, t, working)
                # manufacturer shipments reach the depots
                if r.dep_inbound:
                    keep = []
                    for day, k, q in r.dep_inbound:
                        if day <= t:
                            r.dep_stock[k] += q
                            r.dep_transit[k] -= q
                        else:
                            keep.append((day, k, q))
                    r.dep_inbound = keep
                r.dep_ship = [0] * n_dep
                r.dep_req = [0] * n_dep
                r.dep_short = [False] * n_dep
                r.req_today = 0
                r.switch_in = 0
            for group in self.groups:
                # 1. morning deliveries to pharmacies, waiting patients served first
                if open_:
                    for i in group:
                        r = refs[i]
                        stock = r.ph_stock
                        bl = r.backlog
                        for p, q in r.pending:
                            stock[p] += q
                            lst = bl.get(p)
                            if lst:
                                while lst and stock[p] > 0:
                                    o, n = lst[0]
                                    k = n if n <= stock[p] else stock[p]
                                    stock[p] -= k
                                    if 0 <= o and t - o <= SERVE_WINDOW:
                                        r.fail[o] -= k
                                    if k == n:
                                        lst.pop(0)
                                    else:
                                        lst[0][1] = n - k
                                if not lst:
                                    del bl[p]
                        r.pending = []
                        # patients who waited too long give up
                        if bl:
                            for p in list(bl):
                                lst = [e for e in bl[p] if t - e[0] <= r.patience]
                                if lst:
                                    bl[p] = lst
                                else:
                                    del bl[p]
                # 2. patients at the counter
                for i in group:
                    r = refs[i]
                    lam = r.base * self.demand_factor(r, t) * dayf
                    r.lam_today = lam
                    stock = r.ph_stock
                    if lam > n_p:
                        demand = [(p, poisson(lam * ph_w[p])) for p in all_p]
                    else:
                        counts = {}
                        for p in rng.choices(all_p, cum_weights=ph_cum, k=poisson(lam)):
                            counts[p] = counts.get(p, 0) + 1
                        demand = counts.items()
                    members = r.group_members
                    psub = r.p_sub
                    dep_stock = r.dep_stock
                    req = fail = 0
                    dirty = r.dirty
                    for p, q in demand:
                        if q <= 0:
                            continue
                        req += q
                        dirty.add(p)
                        s = stock[p]
                        if q <= s:
                            stock[p] = s - q
                            continue
                        short = q - s
                        stock[p] = 0
                        fail += short
                        rem = short
                        # could the pharmacy have obtained it for tomorrow? Patients who switch
                        # or leave at once then count as served (the 72-hour definition).
                        obtainable = dep_stock[prim[p]] > 0 or dep_stock[sec[p]] > 0
                        # substitution by a presentation of the same group
                        if members and rnd() < psub:
                            for j in members:
                                other = refs[j].ph_stock
                                if other[p] > 0:
                                    k = rem if rem <= other[p] else other[p]
                                    other[p] -= k
                                    refs[j].switch_in += k
                                    refs[j].dirty.add(p)
                                    rem -= k
                                    if obtainable:
                                        fail -= k
                                    if not rem:
                                        break
                        if not rem:
                            continue
                        # another pharmacy
                        if rnd() < 0.3:
                            p2 = bisect.bisect_left(ph_cum, rnd() * ph_cum[-1])
                            if p2 >= n_p:
                                p2 = n_p - 1
                            k = rem if rem <= stock[p2] else stock[p2]
                            if k:
                                stock[p2] -= k
                                dirty.add(p2)
                                fail -= k
                                rem -= k
                        # wait for the pharmacy's order, or give up
                        if rem:
                            wait = int(rem * 0.95 + rnd())
                            if wait:
                                r.backlog.setdefault(p, []).append([t, wait])
                            if obtainable:
                                fail -= rem - wait
                    r.req_today = req
                    if record:
                        r.req[t] += req
                        r.fail[t] += fail
                # 3. evening: pharmacies order from their depots
                if open_:
                    for i in group:
                        self._pharmacy_orders(refs[i], t, review_mwf)
            # 4. depots order from the manufacturers; records
            for r in refs:
                if open_:
                    obs = (r.req_today + r.switch_in) / max(dayf, 0.05)
                    r.nat_fc += (obs - r.nat_fc) * 0.1
                for k in range(n_dep):
                    if not r.dep_short[k]:
                        r.dep_fc[k] += (r.dep_req[k] - r.dep_fc[k]) / 21.0
                if working:
                    self._depot_orders(r, t)
                if record:
                    self._record(r, t)
            if record:
                self._declare(t)

    def _pharmacy_orders(self, r, t, review_mwf):
        """Pharmacies' evening orders: order-up-to level plus waiting patients, served by the
        usual depot (pro rata when it is short), then by a transfer from another depot of the same
        wholesaler, then by a second wholesaler; deliveries arrive the next opening day."""
        rnd = self.rng.random
        stock = r.ph_stock
        base = r.nat_fc * r.hoard
        ph_w, ph_cover, ph_mwf = self.ph_w, self.ph_cover, self.ph_mwf
        prim, sec = self.ph_prim, self.ph_sec
        bl = r.backlog
        needs = []
        n_dep = len(self.depots)
        tot = [0] * n_dep
        dirty = r.dirty
        if bl:
            dirty.update(bl.keys())
        keep = set()
        for p in dirty:
            # pharmacies reviewing three days a week still order at once for waiting patients
            if ph_mwf[p] and not review_mwf and p not in bl:
                keep.add(p)
                continue
            target = base * ph_w[p] * ph_cover[p]
            s_level = int(target + 0.5) if target >= 0.5 else 0
            waiting = 0
            if p in bl:
                for e in bl[p]:
                    waiting += e[1]
            need = s_level + waiting - stock[p]
            if need > 0:
                needs.append((p, need))
                tot[prim[p]] += need
        r.dirty = keep
        if not needs:
            return
        dep_stock = r.dep_stock
        ratio = [1.0 if tot[k] <= dep_stock[k] else dep_stock[k] / tot[k] for k in range(n_dep)]
        second = []
        tot2 = [0] * n_dep
        asked = served = 0
        deliveries = {}
        def take(k, need, share):
            """Serves `need` from depot k at its rationing share; returns what it shipped."""
            got = need if share >= 1.0 else int(need * share + rnd())
            if got > dep_stock[k]:
                got = dep_stock[k]
            # the depot's demand signal is what it shipped; on a day it could not serve
            # everything, its forecast is frozen (unfilled lines are asked again every day)
            r.dep_req[k] += got
            if got < need:
                r.dep_short[k] = True
            if got:
                dep_stock[k] -= got
                r.dep_ship[k] += got
            return got

        for p, need in needs:
            k = prim[p]
            asked += need
            got = take(k, need, ratio[k])
            served += got
            if got < need:
                # inter-depot transfer: the wholesaler's best-stocked depot ships what it can
                # spare above five days of its own demand
                best = max(self.grs[self.dep_gr[k]].depots, key=dep_stock.__getitem__)
                spare = int(dep_stock[best] - 5 * r.dep_fc[best])
                if best != k and spare > 0:
                    moved = min(need - got, spare)
                    dep_stock[best] -= moved
                    r.dep_ship[best] += moved
                    got += moved
                    served += moved
            if got:
                deliveries[p] = got
            if got < need and rnd() < 0.8:
                rest = need - got
                second.append((p, rest))
                tot2[sec[p]] += rest
        if second:
            ratio2 = [1.0 if tot2[k] <= dep_stock[k] else dep_stock[k] / tot2[k] for k in range(n_dep)]
            for p, need in second:
                got = take(sec[p], need, ratio2[sec[p]])
                if got:
                    deliveries[p] = deliveries.get(p, 0) + got
                    served += got
        r.pending = list(deliveries.items())
        # pharmacies over-order when their orders are badly served
        if asked >= 5 and served < 0.9 * asked:
            r.hoard = min(1.5, r.hoard + 0.1)
        else:
            r.hoard = 1.0 + (r.hoard - 1.0) * 0.95

    def _depot_orders(self, r, t):
        """Depots' replenishment orders to the manufacturer (processed the next working day)."""
        orders = []
        wd = self.weekday[t]
        for k in range(len(self.depots)):
            g = self.grs[self.dep_gr[k]]
            fc = r.dep_fc[k]
            if fc <= 0.0:
                continue
            pos = r.dep_stock[k] + r.dep_transit[k]
            # over-ordering when the manufacturer served short lately and the depot runs low
            boost = 1.3 if (t - r.dep_tension[k] <= 30 and
                            r.dep_stock[k] < 0.5 * fc * g.cover) else 1.0
            if g.policy == "point":
                s_pt = fc * (g.lead + g.safety)
                if pos < s_pt:
                    q = (fc * g.cover * boost + s_pt) - pos
                else:
                    q = 0
            else:
                q = (fc * (g.cover + 7 + g.lead) * boost - pos) if wd == g.order_weekday else 0
            if q >= 1:
                orders.append((k, int(q + 0.5)))
        r.dep_orders.extend(orders)

    # ---------------------------------------------------------------- records and files
    def _record(self, r, t):
        ph_total = sum(r.ph_stock)
        r.series.append((t, round(r.lam_today, 1), r.req[t], None, ph_total, sum(r.dep_stock),
                         r.lab_stock, sum(s.qty for s in r.blocked), int(r.quota)))
        r.dep_snapshot = (list(r.dep_stock), list(r.dep_ship))

    def _fmt_num(self, dl, n):
        n = int(n)
        sep = dl["thousands"]
        if not sep or n < 1000:
            return str(n)
        return f"{n:,}".replace(",", sep)

    def _fmt_date(self, dl, t):
        d = self.date(t)
        return d.strftime("%d/%m/%Y") if dl["fr_date"] else d.isoformat()

    def _silent(self, d, t):
        if t < d.join:
            return True
        return d.outage is not None and d.outage[0] <= t < d.outage[1]

    def _arrival(self, d, t, max_late):
        """Arrival day of a file with stock date t (None: never sent)."""
        rng = self.rng
        if rng.random() < d.p_missing:
            return None
        arr = t
        if rng.random() < d.p_late_file:
            arr = t + rng.randint(1, max_late)
        if d.outage is not None and d.outage[0] <= t < d.outage[1]:
            if not d.resend:
                return None
            arr = max(arr, d.outage[1])
        if t < d.join or arr >= self.n_days:
            return None
        return arr

    def _declare(self, t):
        """Write the files whose stock date is t (the arrival day is drawn now)."""
        wd = self.weekday[t]
        # wholesalers: a daily file, Monday to Saturday (some also on Sunday)
        for g in self.grs:
            if wd == 6 and not g.sunday_files:
                continue
            if (d := self._arrival(g, t, 4)) is None:
                continue
            rows = []
            for r in self.refs:
                stock, ship = r.dep_snapshot
                for k in g.depots:
                    rows.append({"cip13": r, "date_stock": t, "stock": stock[k], "sorties": ship[k],
                                 "periode_jours": 1, "site": self.depots[k][1]})
            self._write(g, t, d, rows, ["cip13", "date_stock", "stock", "sorties", "periode_jours",
                                        "site"])
        # manufacturers: a weekly file on their weekday
        for lab in self.labs:
            if wd != lab.weekday or not lab.refs:
                continue
            d = self._arrival(lab, t, 6)
            if d is None:
                continue
            rows = []
            # outflow over the period: since the last file sent (some), or the last 7 days
            last = getattr(lab, "last_sent", None)
            period = min(92, t - last) if (last is not None and lab.cumulates) else 7
            lo = t - period + 1 - self.t0
            for i in lab.refs:
                r = self.refs[i]
                row = {"cip13": r, "date_stock": t, "stock": r.lab_stock,
                       "sorties": sum(r.lab_ship_day[lo:t - self.t0 + 1]),
                       "periode_jours": period,
                       "stock_bloque": sum(s.qty for s in r.blocked)}
                if lab.style != "muet":
                    nxt, s = self._believed_next(r, t)
                    if nxt is not None and s.qty_planned > 0:
                        row["appro_quantite"] = s.qty_planned
                        row["appro_date"] = max(nxt, t)
                rows.append(row)
            lab.last_sent = t
            cols = ["cip13", "date_stock", "stock", "sorties", "periode_jours", "stock_bloque"]
            if lab.style != "muet":
                cols += ["appro_quantite", "appro_date"]
            self._write(lab, t, d, rows, cols)

    def _write(self, decl, t, arrival, rows, cols):
        dl = decl.dialect
        sep = dl["sep"]
        header = [dl["cols"][c] for c in cols]
        if dl["declarant_col"]:
            header.append("declarant")
        if dl["comment_col"]:
            header.append("commentaire")
        lines = [sep.join(header) + (sep if dl["trailing_sep"] else "")]
        for row in rows:
            vals = []
            for c in cols:
                v = row.get(c)
                if v is None:
                    vals.append("")
                elif c == "cip13":
                    vals.append(v.cip7 if dl["cip7"] else v.cip)
                elif c in ("date_stock", "appro_date"):
                    vals.append(self._fmt_date(dl, v))
                elif c == "site":
                    vals.append(v)
                else:
                    vals.append(self._fmt_num(dl, v))
            if dl["declarant_col"]:
                vals.append(decl.id)
            if dl["comment_col"]:
                vals.append("")
            lines.append(sep.join(vals) + (sep if dl["trailing_sep"] else ""))
        nl = "\r\n" if dl["crlf"] else "\n"
        text = nl.join(lines) + nl
        stamp = self.date(t).strftime("%Y%m%d")
        name = f"stocks_{decl.id.lower()}_{stamp}.csv"
        if arrival > t:
            name = self.date(arrival).isoformat() + "__" + name
        folder = os.path.join(self.out, "inbox", decl.id.lower())
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(text.encode(dl["enc"]))
        self.files += 1

    # ---------------------------------------------------------------- truth
    def truth_periods(self, r):
        """Stock-out periods (first day, last day or None if still running) of a reference.

        A day is in a stock-out when, over the 7-day window centred on it, at least 10 % of
        the national requests (and at least 5) failed; such days closer than 7 days form one
        period, trimmed to its first and last day failing 10 % of their own requests, and kept
        if it counts at least 3 such days.
        """
        n = self.n_days
        req, fail = r.req, r.fail
        bad = []
        for t in range(n):
            lo, hi = max(0, t - TRUTH_WINDOW), min(n, t + TRUTH_WINDOW + 1)
            rq = sum(req[lo:hi])
            fl = sum(fail[lo:hi])
            bad.append(rq > 0 and fl >= TRUTH_MIN_FAILS and fl >= TRUTH_SHARE * rq)
        own = [fail[t] > 0 and fail[t] >= TRUTH_SHARE * req[t] for t in range(n)]
        runs = []
        for t in range(n):
            if not bad[t]:
                continue
            if runs and t - runs[-1][1] <= TRUTH_MERGE_GAP:
                runs[-1][1] = t
            else:
                runs.append([t, t])
        out = []
        for s, e in runs:
            days = [t for t in range(s, e + 1) if own[t]]
            if len(days) < TRUTH_MIN_DAYS:
                continue
            first, last = days[0], days[-1]
            out.append((first, None if e >= n - 1 else last))
        return out

    # ---------------------------------------------------------------- output
    def write_all(self, out):
        self.out = out
        for d in self.labs + self.grs:
            os.makedirs(os.path.join(out, "inbox", d.id.lower()), exist_ok=True)
        os.makedirs(os.path.join(out, "config"), exist_ok=True)
        os.makedirs(os.path.join(out, "simulation"), exist_ok=True)
        with open(os.path.join(out, "config", "declarants.csv"), "w", encoding="utf-8") as fh:
            fh.write("declarant;nom;type\n")
            for lab in self.labs:
                fh.write(f"{lab.id};{lab.name};exploitant\n")
            for g in self.grs:
                fh.write(f"{g.id};{g.name};grossiste\n")
        with open(os.path.join(out, "config", "references.csv"), "w", encoding="utf-8") as fh:
            fh.write("cip13;denomination;groupe;mitm;exploitant\n")
            for r in self.refs:
                fh.write(f"{r.cip};{r.name};{r.group};{'oui' if r.mitm else 'non'};{self.labs[r.lab].id}\n")
        self.run()
        for r in self.refs:
            if r.quota:
                r.events.append(("contingentement", r.quota_start, None, "en cours"))
        fmt = lambda t: self.date(t).strftime("%d/%m/%Y")
        n_periods = 0
        hit = 0
        with open(os.path.join(out, "ruptures.csv"), "w", encoding="utf-8") as fh:
            fh.write("cip13;date_rupture;date_fin\n")
            for r in self.refs:
                ps = self.truth_periods(r)
                r.periods = ps
                if ps:
                    hit += 1
                for s, e in ps:
                    n_periods += 1
                    fh.write(f"{r.cip};{fmt(s)};{'' if e is None else fmt(e)}\n")
        # ground truth for analysis (not read by the backtest)
        iso = lambda t: "" if t is None else self.date(t).isoformat()
        with open(os.path.join(out, "simulation", "evenements.csv"), "w", encoding="utf-8") as fh:
            fh.write("cip13;exploitant;classe;groupe;evenement;debut;fin;detail\n")
            for r in self.refs:
                for kind, s, e, det in sorted(r.events, key=lambda x: x[1]):
                    fh.write(f"{r.cip};{self.labs[r.lab].id};{r.cls};{r.group};{kind};{iso(s)};{iso(e)};{det}\n")
        with open(os.path.join(out, "simulation", "references.csv"), "w", encoding="utf-8") as fh:
            fh.write("cip13;classe;groupe;exploitant;style_annonce;demande_base;part_hopital;cycle_j;"
                     "stock_securite_j;arrivee_exploitant\n")
            for r in self.refs:
                lab = self.labs[r.lab]
                fh.write(f"{r.cip};{r.cls};{r.group};{lab.id};{lab.style};{r.base:.1f};{r.hosp:.2f};"
                         f"{r.cycle};{r.ss_days:.0f};{iso(lab.join)}\n")
        with open(os.path.join(out, "simulation", "declarants.csv"), "w", encoding="utf-8") as fh:
            fh.write("declarant;arrivee;silence_debut;silence_fin;renvoi;politique\n")
            for d in self.labs + self.grs:
                o = d.outage or (None, None)
                pol = getattr(d, "policy", d.style if isinstance(d, Lab) else "")
                fh.write(f"{d.id};{iso(d.join)};{iso(o[0])};{iso(o[1])};{int(d.resend)};{pol}\n")
        with open(os.path.join(out, "simulation", "series.csv"), "w", encoding="utf-8") as fh:
            fh.write("cip13;date;demande_attendue;demandes;echecs_72h;stock_pharmacies;stock_depots;"
                     "stock_exploitant;stock_bloque;contingentement\n")
            for r in self.refs:
                for row in r.series:
                    row = row[:3] + (r.fail[row[0]],) + row[4:]   # failures once resolved
                    fh.write(r.cip + ";" + self.date(row[0]).isoformat() + ";" +
                             ";".join(str(x) for x in row[1:]) + "\n")
        return n_periods, hit


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

class FrenchHelpFormatter(argparse.HelpFormatter):
    """argparse in French: the usage prefix."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix="utilisation : ")


class FrenchParser(argparse.ArgumentParser):
    """argparse in French: the section title and the usage errors (exit status 2)."""

    TRANSLATIONS = [("the following arguments are required", "arguments obligatoires manquants"),
                    ("unrecognized arguments", "arguments inconnus"),
                    ("expected one argument", "une valeur est attendue"),
                    ("argument ", "option ")]

    def __init__(self, **kw):
        super().__init__(formatter_class=FrenchHelpFormatter, add_help=False, **kw)
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", help="affiche cette aide et quitte")

    def error(self, message):
        for en, fr in self.TRANSLATIONS:
            message = message.replace(en, fr)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {text} » n'est pas un nombre entier")


def main(argv=None):
    parser = FrenchParser(
        prog="chain_sim.py",
        description="Simulateur indépendant de la chaîne du médicament (patients, pharmacies, "
                    "dépôts des grossistes-répartiteurs, production des laboratoires exploitants). "
                    "Écrit les déclarations de stock qu'elle produit et les ruptures vécues au "
                    "comptoir, dans le dossier que rejoue « medistock backtest ».",
        epilog="Exemple : python3 scripts/chain_sim.py --seed 101 --out /tmp/s101 ; puis "
               "medistock backtest --data /tmp/s101 --truth /tmp/s101/ruptures.csv")
    parser.add_argument("--seed", type=integer, required=True, metavar="N",
                        help="graine du tirage (même graine, mêmes fichiers)")
    parser.add_argument("--out", required=True, metavar="DOSSIER",
                        help="dossier à écrire (inexistant ou vide)")
    parser.add_argument("--references", type=integer, default=200, metavar="N",
                        help="nombre de références simulées (10 à 2000, 200 par défaut)")
    parser.add_argument("--days", type=integer, default=270, metavar="N",
                        help="nombre de jours déclarés (60 à 730, 270 par défaut)")
    parser.add_argument("--start", default="2025-09-01", metavar="AAAA-MM-JJ",
                        help="premier jour déclaré (2025-09-01 par défaut)")
    args = parser.parse_args(argv)

    def refuse(msg):
        print(f"chain_sim.py : {msg}", file=sys.stderr)
        sys.exit(2)

    if not 10 <= args.references <= 2000:
        refuse(f"--references {args.references} hors bornes (10 à 2000)")
    if not 60 <= args.days <= 730:
        refuse(f"--days {args.days} hors bornes (60 à 730)")
    try:
        start = dt.date.fromisoformat(args.start)
    except ValueError:
        refuse(f"--start « {args.start} » n'est pas une date AAAA-MM-JJ")
    if not 2000 <= start.year <= 2100:
        refuse(f"--start {args.start} hors bornes (années 2000 à 2100)")
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        refuse(f"le dossier {args.out} existe et n'est pas vide")

    t_cpu = time.process_time()
    sim = Simulation(args.seed, args.references, args.days, start)
    n_periods, hit = sim.write_all(args.out)
    last = start + dt.timedelta(days=args.days - 1)
    print(f"Simulation graine {args.seed} : {args.references} références, {args.days} jours "
          f"du {start.strftime('%d/%m/%Y')} au {last.strftime('%d/%m/%Y')}")
    print(f"  {sim.n_pharm} pharmacies, {len(sim.grs)} grossistes ({len(sim.depots)} dépôts), "
          f"{len(sim.labs)} exploitants, {len(sim.epidemics)} vagues épidémiques")
    print(f"  fichiers de déclaration écrits : {sim.files} (dans {os.path.join(args.out, 'inbox')})")
    print(f"  périodes de rupture : {n_periods} ; références touchées : {hit} sur {args.references}")
    print(f"  vérité : {os.path.join(args.out, 'ruptures.csv')} ; "
          f"journal : {os.path.join(args.out, 'simulation')}")
    print(f"  temps de calcul : {time.process_time() - t_cpu:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
