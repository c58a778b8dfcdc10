#!/usr/bin/env python3
"""Usage: compare.py NEW_OUT CORPUS_DIR

Compares what the real scenario (../shared/gastown-real/scripts/run.sh, OUT=NEW_OUT)
put in VictoriaLogs/VictoriaMetrics with the recorded corpus: records per event
kind of real gt (service.name=gastown) and of gtrun, bd.call records against bd
processes, and gt's counters against its records (issue 19)."""
import json, collections, sys
new, old = sys.argv[1], sys.argv[2]
def kinds(path):
    c = collections.Counter()
    for l in open(path):
        if l.strip(): c[json.loads(l).get("_msg")] += 1
    return c
def calls(path):
    return [json.loads(l) for l in open(path) if l.strip()]
og, ng = kinds(old + "/gt-events.jsonl"), kinds(new + "/gt-events.jsonl")
ot, nt = kinds(old + "/gtrun-events.jsonl"), kinds(new + "/gtrun-events.jsonl")
nc, oc = calls(new + "/calls.jsonl"), calls(old + "/calls.jsonl")
nbd = sum(1 for c in nc if c["prog"] == "bd"); ngt = sum(1 for c in nc if c["prog"] == "gt")
print(f"processes: new bd {nbd} gt {ngt}; corpus bd {sum(1 for c in oc if c['prog']=='bd')} gt {sum(1 for c in oc if c['prog']=='gt')}")
print(f"{'event':22} {'corpus gt':>9} {'corpus gtrun':>12} | {'new gt':>7} {'new gtrun':>9}")
for k in sorted(set(og) | set(ot) | set(ng) | set(nt)):
    print(f"{k:22} {og.get(k,0):9} {ot.get(k,0):12} | {ng.get(k,0):7} {nt.get(k,0):9}")
print(f"bd.call records in the backend (both services): {ng.get('bd.call',0) + nt.get('bd.call',0)}, bd processes {nbd}")
m = json.load(open(new + "/gt-metrics.json"))
tot = collections.Counter(); nser = collections.Counter()
for r in m.get("gastown", []):
    n = r["labels"]["__name__"]
    if n.endswith(".total") or n.endswith("_total"):
        tot[n] += r["value"]; nser[n] += 1
names = {"gastown.mail.operations.total": "mail", "gastown.sling.dispatches.total": "sling", "gastown.nudge.total": "nudge",
         "gastown.done.total": "done", "gastown.prime.total": "prime", "gastown.polecat.spawns.total": "polecat.spawn",
         "gastown.polecat.removes.total": "polecat.remove", "gastown.convoy.creates.total": "convoy.create",
         "gastown.mol.cooks.total": "mol.cook", "gastown.mol.wisps.total": "mol.wisp", "gastown.formula.instantiations.total": "formula.instantiate",
         "gastown.session.stops.total": "session.stop", "gastown.agent.state_changes.total": "agent.state_change",
         "gastown.agent.instantiations.total": "agent.instantiate", "gastown.bd.calls.total": "bd.call"}
print(f"{'gt counter':42} {'VM sum':>7} {'series':>6} {'gt records':>10}")
for n in sorted(tot):
    print(f"{n:42} {tot[n]:7g} {nser[n]:6} {ng.get(names.get(n,'?'),0):10}")
gtr = collections.Counter()
for r in m.get("gtrun", []):
    n = r["labels"]["__name__"]
    if n.startswith("gastown.bd.calls") and "total" in n: gtr[n] += r["value"]
print("gtrun bd counter:", dict(gtr))
